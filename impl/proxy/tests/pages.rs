//! The browser pages and their security headers: a strict Content-Security-Policy and the
//! other headers on every answer, the approval warning on the approval page, and the script
//! and stylesheet served from this origin.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use common::{fixture, request, send};
use hwa_proxy::router::CONTENT_SECURITY_POLICY;

const ID: &str = "bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f";

async fn get(path: &str) -> common::Answer {
    let fx = fixture().await;
    send(&fx.app, request(Method::GET, path).body(Body::empty()).expect("request")).await
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    for path in ["/web/login", &format!("/web/headless/{ID}"), "/webapi/ping", "/nowhere"] {
        let answer = get(path).await;
        let h = &answer.headers;
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{path}");
        assert_eq!(h[header::CACHE_CONTROL], "no-store", "{path}");
        assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY), "no HSTS without TLS");
    }
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
}

#[tokio::test]
async fn the_approval_page_shows_the_warning_and_the_fields_an_approver_needs() {
    let answer = get(&format!("/web/headless/{ID}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let html = answer.text();
    assert!(html.contains("Never approve a request you did not start yourself"));
    for label in ["Request ID", "User", "Requested from address", "Key fingerprint", "Command"] {
        assert!(html.contains(label), "{label}");
    }
    assert!(html.contains("Match code") && html.contains("Time left"));
    assert!(html.contains(&format!(r#"data-request-id="{ID}""#)));
    assert!(!html.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn a_page_for_a_malformed_id_or_token_is_a_404_page_that_echoes_nothing() {
    let answer = get("/web/headless/%3Cscript%3E").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(!answer.text().contains("<script>"));
    let answer = get("/web/invite/%22%3E%3Cimg").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(!answer.text().contains("<img"));
}

#[tokio::test]
async fn the_script_uses_the_webauthn_json_helpers_and_no_other_origin() {
    let answer = get("/web/assets/app.js").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
    let js = answer.text();
    for helper in ["parseRequestOptionsFromJSON", "parseCreationOptionsFromJSON", "toJSON()"] {
        assert!(js.contains(helper), "{helper}");
    }
    assert!(!js.contains("http://") && !js.contains("https://"));
    let css = get("/web/assets/app.css").await;
    assert!(css.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
}

#[tokio::test]
async fn the_login_and_signup_pages_render() {
    let login = get("/web/login").await;
    assert!(login.text().contains(r#"autocomplete="current-password""#));
    let invite = get("/web/invite/0123abcd").await;
    assert_eq!(invite.status, StatusCode::OK);
    assert!(invite.text().contains(r#"data-invite-token="0123abcd""#));
}
