//! The admin API end to end with the admin token: users, resources as YAML, roles, locks and
//! the audit log, as `hwactl` calls them.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use common::{Answer, Fixture, fixture, request, send};

async fn admin(fx: &Fixture, method: Method, path: &str, body: Option<(&str, String)>) -> Answer {
    let mut builder =
        request(method, path).header(header::AUTHORIZATION, format!("Bearer {}", fx.admin_token));
    let body = match body {
        Some((content_type, text)) => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            Body::from(text)
        }
        None => Body::empty(),
    };
    send(&fx.app, builder.body(body).expect("request")).await
}

#[tokio::test]
async fn users_can_be_added_listed_and_deleted() {
    let fx = fixture().await;
    let body = serde_json::json!({ "user": "alice", "logins": ["alice"] }).to_string();
    let added = admin(&fx, Method::POST, "/v1/admin/users", Some(("application/json", body))).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    assert!(added.json()["invite_url"].as_str().expect("url").contains("/web/invite/"));

    let again = serde_json::json!({ "user": "alice" }).to_string();
    let again =
        admin(&fx, Method::POST, "/v1/admin/users", Some(("application/json", again))).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());

    let listed = admin(&fx, Method::GET, "/v1/admin/users", None).await;
    assert_eq!(listed.json()[0]["user"], "alice", "{}", listed.text());

    let deleted = admin(&fx, Method::DELETE, "/v1/admin/users/alice", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    let missing = admin(&fx, Method::DELETE, "/v1/admin/users/alice", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text());
}

#[tokio::test]
async fn the_auth_preference_round_trips_as_yaml() {
    let fx = fixture().await;
    let path = "/v1/admin/resources/cluster_auth_preference";
    let shown = admin(&fx, Method::GET, path, None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let content_type = shown.headers[header::CONTENT_TYPE].to_str().expect("ascii");
    assert!(content_type.starts_with("application/yaml"), "{content_type}");
    let yaml = shown.text();
    let applied =
        admin(&fx, Method::PUT, "/v1/admin/resources?force=true", Some(("application/yaml", yaml)))
            .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.text());
    assert_eq!(applied.json()["kind"], "cluster_auth_preference");

    let bad = admin(
        &fx,
        Method::PUT,
        "/v1/admin/resources?force=maybe",
        Some(("application/yaml", String::from("kind: role\n"))),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    assert!(bad.text().contains("force"), "{}", bad.text());
}

#[tokio::test]
async fn roles_locks_and_audit_answer() {
    let fx = fixture().await;
    let roles = admin(&fx, Method::GET, "/v1/admin/roles", None).await;
    assert_eq!(roles.status, StatusCode::OK, "{}", roles.text());

    let lock = serde_json::json!({ "target": "user", "user": "mallory", "message": "left" });
    let lock =
        admin(&fx, Method::POST, "/v1/admin/locks", Some(("application/json", lock.to_string())))
            .await;
    assert_eq!(lock.status, StatusCode::OK, "{}", lock.text());
    let id = lock.json()["id"].as_str().expect("lock id").to_owned();
    let listed = admin(&fx, Method::GET, "/v1/admin/locks", None).await;
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1), "{}", listed.text());
    let removed = admin(&fx, Method::DELETE, &format!("/v1/admin/locks/{id}"), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text());

    let audit = admin(&fx, Method::GET, "/v1/admin/audit?limit=5", None).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text());
    assert!(audit.json().as_array().is_some_and(|events| events.len() <= 5));
    let bad = admin(&fx, Method::GET, "/v1/admin/audit?limit=0", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
}
