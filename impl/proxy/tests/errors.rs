//! Every endpoint that takes a body answers bad bodies with an `ApiError` JSON body and the
//! status of its code: malformed JSON (400), unknown fields (400), a wrong or missing content
//! type (415), a body over `limits::BODY_MAX_BYTES` whether announced or streamed (413).
//! Unknown paths and wrong methods answer `ApiError` too. Error bodies people read are
//! snapshotted.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use common::{Answer, Fixture, fixture_with, request, send, sign_up};
use hwa_core::limits::BODY_MAX_BYTES;
use hwa_proxy::AppState;
use hwa_proxy::ratelimit::RateLimiter;

/// Who must call an endpoint.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Anyone,
    Session,
    Admin,
}

/// Every JSON endpoint, with a body that has one unknown field when the type denies them.
const JSON_ENDPOINTS: &[(Method, &str, Caller, Option<&str>)] = &[
    (
        Method::POST,
        "/webapi/headless/login",
        Caller::Anyone,
        Some(concat!(
            r#"{"user":"a","headless_id":"bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f","#,
            r#""ssh_pub_key":"k","extra":1}"#
        )),
    ),
    (
        Method::PUT,
        "/webapi/headless/bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f",
        Caller::Session,
        Some(r#"{"action":"denied","extra":1}"#),
    ),
    (Method::POST, "/webapi/mfa/authenticatechallenge", Caller::Session, None),
    (
        Method::POST,
        "/webapi/ssh/certs",
        Caller::Session,
        Some(r#"{"ssh_pub_key":"k","scope":{"command":"c"},"extra":1}"#),
    ),
    (
        Method::POST,
        "/webapi/mfa/login/begin",
        Caller::Anyone,
        Some(r#"{"user":"a","password":"p","extra":1}"#),
    ),
    (
        Method::POST,
        "/webapi/mfa/login/finish",
        Caller::Anyone,
        Some(r#"{"user":"a","webauthn_response":{},"extra":1}"#),
    ),
    (
        Method::POST,
        "/webapi/invites/0123abcd/register/begin",
        Caller::Anyone,
        Some(r#"{"password":"p","extra":1}"#),
    ),
    (
        Method::POST,
        "/webapi/invites/0123abcd/register/finish",
        Caller::Anyone,
        Some(r#"{"webauthn_response":{},"extra":1}"#),
    ),
    (Method::POST, "/v1/admin/users", Caller::Admin, Some(r#"{"user":"a","extra":1}"#)),
    (
        Method::POST,
        "/v1/admin/locks",
        Caller::Admin,
        Some(r#"{"target":"user","user":"a","extra":1}"#),
    ),
];

/// A fixture whose rate limit does not get in the way of sending many bad bodies.
async fn generous() -> Fixture {
    fixture_with(|auth, web| {
        AppState::with_limiter(auth, web, RateLimiter::new(100_000, Duration::from_secs(60), 64))
    })
    .await
}

async fn call(
    fx: &Fixture,
    session: &str,
    (method, path, caller): (&Method, &str, Caller),
    content_type: Option<&str>,
    content_length: Option<usize>,
    body: Body,
) -> Answer {
    let mut builder = request(method.clone(), path);
    match caller {
        Caller::Anyone => {}
        Caller::Session => {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {session}"))
        }
        Caller::Admin => {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {}", fx.admin_token))
        }
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(len) = content_length {
        builder = builder.header(header::CONTENT_LENGTH, len);
    }
    send(&fx.app, builder.body(body).expect("request")).await
}

fn assert_error(answer: &Answer, status: StatusCode, code: &str, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.text());
    assert_eq!(answer.code(), code, "{what}");
    let content_type = answer.headers[header::CONTENT_TYPE].to_str().expect("ascii");
    assert!(content_type.starts_with("application/json"), "{what}: {content_type}");
}

#[tokio::test]
async fn every_json_endpoint_answers_bad_bodies_with_api_errors() {
    let fx = generous().await;
    let user = sign_up(&fx, "alice").await;
    let big = vec![b' '; BODY_MAX_BYTES + 1];
    for (method, path, caller, unknown) in JSON_ENDPOINTS {
        let target = (method, *path, *caller);
        let what = format!("{method} {path}");
        let json = Some("application/json");

        let answer = call(&fx, &user.token, target, json, None, Body::from("{\"user\":")).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request", &format!("{what} malformed"));

        let answer =
            call(&fx, &user.token, target, Some("text/plain"), None, Body::from("{}")).await;
        let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        assert_error(&answer, status, "bad_request", &format!("{what} text/plain"));

        let answer = call(&fx, &user.token, target, None, None, Body::from("{}")).await;
        assert_error(&answer, status, "bad_request", &format!("{what} no content type"));

        let answer = call(&fx, &user.token, target, json, None, Body::from(big.clone())).await;
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        assert_error(&answer, status, "payload_too_large", &format!("{what} streamed"));

        let len = Some(big.len());
        let answer = call(&fx, &user.token, target, json, len, Body::from(big.clone())).await;
        assert_error(&answer, status, "payload_too_large", &format!("{what} announced"));

        if let Some(body) = unknown {
            let answer = call(&fx, &user.token, target, json, None, Body::from(*body)).await;
            assert_error(
                &answer,
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("{what} unknown"),
            );
            assert!(answer.text().contains("extra"), "{what}: {}", answer.text());
        }
    }
}

#[tokio::test]
async fn the_yaml_endpoint_refuses_json_and_oversized_bodies() {
    let fx = generous().await;
    let target = (&Method::PUT, "/v1/admin/resources", Caller::Admin);
    let answer = call(&fx, "", target, Some("application/json"), None, Body::from("{}")).await;
    assert_error(&answer, StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request", "json to yaml");
    let big = vec![b'#'; BODY_MAX_BYTES + 1];
    let answer = call(&fx, "", target, Some("application/yaml"), None, Body::from(big)).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "big yaml");
    let answer =
        call(&fx, "", target, Some("application/yaml"), None, Body::from(vec![0xff, 0xfe])).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request", "not utf-8");
}

#[tokio::test]
async fn a_body_announced_too_large_is_refused_even_where_no_body_is_expected() {
    let fx = generous().await;
    let answer = send(
        &fx.app,
        request(Method::GET, "/webapi/ping")
            .header(header::CONTENT_LENGTH, BODY_MAX_BYTES + 1)
            .body(Body::from(vec![0u8; BODY_MAX_BYTES + 1]))
            .expect("request"),
    )
    .await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "ping");
}

#[tokio::test]
async fn a_malformed_request_id_in_the_path_is_a_bad_request() {
    let fx = generous().await;
    let user = sign_up(&fx, "alice").await;
    let answer = send(
        &fx.app,
        request(Method::GET, "/webapi/headless/not-an-id")
            .header(header::AUTHORIZATION, format!("Bearer {}", user.token))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request", "bad id");
    insta::assert_json_snapshot!("malformed_request_id", answer.json());
}

#[tokio::test]
async fn error_bodies_read_well() {
    let fx = generous().await;
    let json = Some("application/json");
    let login = (&Method::POST, "/webapi/mfa/login/begin", Caller::Anyone);

    let answer = call(&fx, "", login, json, None, Body::from("{\"user\":")).await;
    insta::assert_json_snapshot!("malformed_json", answer.json());

    let body = Body::from(r#"{"user":"a","password":"p","extra":1}"#);
    let answer = call(&fx, "", login, json, None, body).await;
    insta::assert_json_snapshot!("unknown_field", answer.json());

    let answer = call(&fx, "", login, Some("text/plain"), None, Body::from("{}")).await;
    insta::assert_json_snapshot!("wrong_content_type", answer.json());

    let big = Body::from(vec![b' '; BODY_MAX_BYTES + 1]);
    let answer = call(&fx, "", login, json, None, big).await;
    insta::assert_json_snapshot!("too_large", answer.json());

    let answer = send(&fx.app, request(Method::GET, "/nowhere").body(Body::empty()).unwrap()).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", "unknown path");
    insta::assert_json_snapshot!("unknown_path", answer.json());

    let answer =
        send(&fx.app, request(Method::DELETE, "/webapi/ping").body(Body::empty()).unwrap()).await;
    assert_error(&answer, StatusCode::METHOD_NOT_ALLOWED, "bad_request", "wrong method");
    insta::assert_json_snapshot!("wrong_method", answer.json());
}

#[tokio::test]
async fn an_internal_fault_answers_a_generic_message_without_its_cause() {
    // A request that reached the router without the peer address the server inserts is a
    // bug of the server, not of the client.
    let fx = generous().await;
    let answer = send(
        &fx.app,
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/webapi/mfa/login/begin")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .expect("request"),
    )
    .await;
    assert_error(&answer, StatusCode::INTERNAL_SERVER_ERROR, "internal", "no peer");
    assert_eq!(answer.json()["error"]["message"], hwa_proxy::error::INTERNAL_MESSAGE);
    assert!(!answer.text().contains("PeerAddr"));
}
