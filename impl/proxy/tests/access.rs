//! Who may call what: sessions where the API table says so, the admin token on the admin API,
//! the CSRF rule for cookie sessions, and the per-address rate limit of the unauthenticated
//! endpoints.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use common::{fixture, fixture_with, json_request, request, request_from, send, sign_up};
use hwa_core::limits::UNAUTH_RATE_BURST;
use hwa_proxy::AppState;
use hwa_proxy::ratelimit::RateLimiter;

const ID: &str = "bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f";

#[tokio::test]
async fn session_endpoints_refuse_callers_without_a_valid_session() {
    let fx = fixture().await;
    let endpoints = [
        (Method::GET, format!("/webapi/headless/{ID}")),
        (Method::PUT, format!("/webapi/headless/{ID}")),
        (Method::GET, "/webapi/headless/events".to_owned()),
        (Method::POST, "/webapi/mfa/authenticatechallenge".to_owned()),
        (Method::DELETE, "/webapi/sessions".to_owned()),
        (Method::GET, "/webapi/nodes".to_owned()),
        (Method::POST, "/webapi/ssh/certs".to_owned()),
    ];
    for (method, path) in endpoints {
        let none = send(&fx.app, request(method.clone(), &path).body(Body::empty()).unwrap()).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{method} {path}: {}", none.text());
        assert_eq!(none.code(), "unauthenticated");
        assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));

        let forged = send(
            &fx.app,
            request(method.clone(), &path)
                .header(header::AUTHORIZATION, "Bearer 00112233")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{method} {path}: {}", forged.text());
    }
}

#[tokio::test]
async fn admin_endpoints_need_the_admin_token_not_a_session() {
    let fx = fixture().await;
    let user = sign_up(&fx, "alice").await;
    for path in ["/v1/admin/users", "/v1/admin/roles", "/v1/admin/locks", "/v1/admin/audit"] {
        let none = send(&fx.app, request(Method::GET, path).body(Body::empty()).unwrap()).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{path}");
        let session = send(
            &fx.app,
            request(Method::GET, path)
                .header(header::AUTHORIZATION, format!("Bearer {}", user.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(session.status, StatusCode::UNAUTHORIZED, "{path}: {}", session.text());
        let admin = send(
            &fx.app,
            request(Method::GET, path)
                .header(header::AUTHORIZATION, format!("Bearer {}", fx.admin_token))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(admin.status, StatusCode::OK, "{path}: {}", admin.text());
    }
}

#[tokio::test]
async fn a_cookie_session_must_carry_the_csrf_header_to_change_state() {
    let fx = fixture().await;
    let user = sign_up(&fx, "alice").await;
    let cookie = format!("hwa_session={}", user.token);
    let body = serde_json::json!({ "scope": "session_mfa" }).to_string();
    let without = send(
        &fx.app,
        request(Method::POST, "/webapi/mfa/authenticatechallenge")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.text());
    assert!(without.text().contains("x-hwa-csrf"), "{}", without.text());
    let with = send(
        &fx.app,
        request(Method::POST, "/webapi/mfa/authenticatechallenge")
            .header(header::COOKIE, &cookie)
            .header("x-hwa-csrf", "1")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.text());
    assert!(with.json()["webauthn_challenge"].is_object());
}

#[tokio::test]
async fn a_browser_login_gets_an_http_only_strict_cookie_and_no_token_in_the_body() {
    let fx = fixture().await;
    let mut user = sign_up(&fx, "alice").await;
    let begin = send(
        &fx.app,
        json_request(
            Method::POST,
            "/webapi/mfa/login/begin",
            &serde_json::json!({ "user": "alice", "password": common::PASSWORD }),
        ),
    )
    .await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.text());
    let assertion = user
        .client
        .authenticate(&begin.json()["webauthn_challenge"], common::ORIGIN)
        .await
        .expect("assertion");
    let finish = send(
        &fx.app,
        request(Method::POST, "/webapi/mfa/login/finish")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-hwa-session-mode", "cookie")
            .body(Body::from(
                serde_json::json!({ "user": "alice", "webauthn_response": assertion }).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(finish.status, StatusCode::OK, "{}", finish.text());
    assert_eq!(finish.json()["token"], "");
    let cookie = finish.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("hwa_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
}

#[tokio::test(start_paused = true)]
async fn the_unauthenticated_endpoints_are_rate_limited_per_client_address() {
    // Paused time: the 21st request finds an empty bucket that refills one token every
    // 60 s / 20 = 3 s, so the answer says to wait 3 s, exactly.
    let fx = fixture().await;
    let bad_login = |peer: &str| {
        request_from(Method::POST, "/webapi/mfa/login/begin", peer)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap()
    };
    for _ in 0..UNAUTH_RATE_BURST {
        let answer = send(&fx.app, bad_login("198.51.100.7:1000")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    }
    let limited = send(&fx.app, bad_login("198.51.100.7:1001")).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.text());
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    insta::assert_json_snapshot!("rate_limited", limited.json());

    let other = send(&fx.app, bad_login("198.51.100.8:1000")).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST, "another address has its own budget");

    let ping = send(
        &fx.app,
        request_from(Method::GET, "/webapi/ping", "198.51.100.7:1002").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(ping.status, StatusCode::OK, "ping is not limited: {}", ping.text());
}

#[tokio::test(start_paused = true)]
async fn a_limited_address_is_served_again_once_its_bucket_refills() {
    let fx = fixture_with(|auth, web| {
        AppState::with_limiter(auth, web, RateLimiter::new(2, Duration::from_secs(60), 16))
    })
    .await;
    let invite = || request(Method::GET, "/webapi/invites/0123abcd").body(Body::empty()).unwrap();
    assert_eq!(send(&fx.app, invite()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&fx.app, invite()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&fx.app, invite()).await.status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(send(&fx.app, invite()).await.status, StatusCode::UNAUTHORIZED);
}
