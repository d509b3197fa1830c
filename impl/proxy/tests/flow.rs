//! The whole headless story through the proxy's HTTP surface, with the software
//! authenticator playing the approver's security key: a login waits, the approver sees the
//! request, asks for a challenge scoped to it, approves with an assertion, and the waiting
//! login receives its certificate. A decision is final, and another user cannot see the
//! request.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use common::{Fixture, ORIGIN, User, fixture, json_request, request, send, sign_up};
use hwa_core::id::{RequestId, match_code};

/// An `ssh-ed25519` public key line, the way the client sends it.
fn ssh_public_key(seed: u8) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
    let mut blob = Vec::new();
    for part in [b"ssh-ed25519".as_slice(), key.as_bytes().as_slice()] {
        blob.extend_from_slice(&u32::try_from(part.len()).expect("short part").to_be_bytes());
        blob.extend_from_slice(part);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(blob);
    format!("ssh-ed25519 {encoded}")
}

fn authed(method: Method, path: &str, user: &User) -> axum::http::request::Builder {
    request(method, path).header(header::AUTHORIZATION, format!("Bearer {}", user.token))
}

fn authed_json(
    method: Method,
    path: &str,
    user: &User,
    body: serde_json::Value,
) -> axum::http::Request<Body> {
    authed(method, path, user)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

async fn start_login(fx: &Fixture, key: &str) -> tokio::task::JoinHandle<common::Answer> {
    let id = RequestId::derive(key.as_bytes());
    let body = serde_json::json!({
        "user": "alice",
        "headless_id": id,
        "ssh_pub_key": key,
        "ttl": 3600,
        "scope": { "command": "ls", "logins": [], "nodes": [] },
    });
    let app = fx.app.clone();
    tokio::spawn(async move {
        send(&app, json_request(Method::POST, "/webapi/headless/login", &body)).await
    })
}

#[tokio::test]
async fn an_approved_request_gives_the_waiting_login_its_certificate() {
    let fx = fixture().await;
    let mut alice = sign_up(&fx, "alice").await;
    let key = ssh_public_key(1);
    let id = RequestId::derive(key.as_bytes());
    let login = start_login(&fx, &key).await;

    let view = send(
        &fx.app,
        authed(Method::GET, &format!("/webapi/headless/{id}"), &alice).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text());
    let view = view.json();
    assert_eq!(view["state"], "pending");
    assert_eq!(view["user"], "alice");
    assert_eq!(view["match_code"], match_code(key.as_bytes()));
    assert_eq!(view["client_addr"].as_str().unwrap(), "192.0.2.10");

    let challenge = send(
        &fx.app,
        authed_json(
            Method::POST,
            "/webapi/mfa/authenticatechallenge",
            &alice,
            serde_json::json!({ "scope": "headless", "headless_id": id }),
        ),
    )
    .await;
    assert_eq!(challenge.status, StatusCode::OK, "{}", challenge.text());
    let assertion = alice
        .client
        .authenticate(&challenge.json()["webauthn_challenge"], ORIGIN)
        .await
        .expect("assertion");
    let decided = send(
        &fx.app,
        authed_json(
            Method::PUT,
            &format!("/webapi/headless/{id}"),
            &alice,
            serde_json::json!({
                "action": "accept",
                "mfa_response": { "webauthn_response": assertion },
            }),
        ),
    )
    .await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.text());
    assert_eq!(decided.json()["state"], "approved");

    let login =
        tokio::time::timeout(Duration::from_secs(10), login).await.expect("login answers").unwrap();
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    assert!(login.json()["ssh_certificate"].as_str().unwrap().contains("-cert-v01@openssh.com"));

    let again = send(
        &fx.app,
        authed_json(
            Method::PUT,
            &format!("/webapi/headless/{id}"),
            &alice,
            serde_json::json!({ "action": "denied" }),
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    assert_eq!(again.code(), "already_decided");
}

#[tokio::test]
async fn a_denied_request_ends_the_waiting_login_with_403_denied() {
    let fx = fixture().await;
    let alice = sign_up(&fx, "alice").await;
    let key = ssh_public_key(2);
    let id = RequestId::derive(key.as_bytes());
    let login = start_login(&fx, &key).await;
    let view = send(
        &fx.app,
        authed(Method::GET, &format!("/webapi/headless/{id}"), &alice).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text());
    let decided = send(
        &fx.app,
        authed_json(
            Method::PUT,
            &format!("/webapi/headless/{id}"),
            &alice,
            serde_json::json!({ "action": "denied" }),
        ),
    )
    .await;
    assert_eq!(decided.json()["state"], "denied", "{}", decided.text());
    let login =
        tokio::time::timeout(Duration::from_secs(10), login).await.expect("login answers").unwrap();
    assert_eq!(login.status, StatusCode::FORBIDDEN, "{}", login.text());
    assert_eq!(login.code(), "denied");
}

#[tokio::test]
async fn another_user_is_told_the_request_is_not_theirs() {
    let fx = fixture().await;
    let _alice = sign_up(&fx, "alice").await;
    let bob = sign_up(&fx, "bob").await;
    let key = ssh_public_key(3);
    let id = RequestId::derive(key.as_bytes());
    let login = start_login(&fx, &key).await;
    let view = send(
        &fx.app,
        authed(Method::GET, &format!("/webapi/headless/{id}"), &bob).body(Body::empty()).unwrap(),
    )
    .await;
    assert!(view.status.is_client_error(), "{}", view.text());
    assert!(view.text().contains("alice") || view.text().contains("bob"), "{}", view.text());
    login.abort();
}

#[tokio::test]
async fn a_mismatched_request_id_is_refused_at_once() {
    let fx = fixture().await;
    let key = ssh_public_key(4);
    let body = serde_json::json!({
        "user": "alice",
        "headless_id": RequestId::derive(b"another key"),
        "ssh_pub_key": key,
    });
    let answer = send(&fx.app, json_request(Method::POST, "/webapi/headless/login", &body)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
}

#[tokio::test]
async fn a_watcher_receives_a_pending_event_when_a_login_starts() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let fx = fixture().await;
    let alice = sign_up(&fx, "alice").await;
    let events = authed(Method::GET, "/webapi/headless/events", &alice)
        .body(Body::empty())
        .expect("request");
    let response = fx.app.clone().oneshot(events).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().expect("ascii");
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let mut body = response.into_body();

    let key = ssh_public_key(5);
    let id = RequestId::derive(key.as_bytes());
    let login = start_login(&fx, &key).await;
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        let mut text = String::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
                if text.contains("event: pending") && text.ends_with("\n\n") {
                    break;
                }
            }
        }
        text
    })
    .await
    .expect("an event within 10 s");
    assert!(received.contains("event: pending"), "{received}");
    let data = received.lines().find_map(|line| line.strip_prefix("data: ")).expect("a data line");
    let event: serde_json::Value = serde_json::from_str(data).expect("JSON data");
    assert_eq!(event["kind"], "pending");
    assert_eq!(event["request"]["id"], id.to_string());
    login.abort();
}
