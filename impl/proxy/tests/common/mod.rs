//! The fixture every proxy test shares: a real auth service on an in-memory store with seeded
//! randomness, the proxy's router in front of it, and helpers to send requests through
//! `tower::ServiceExt::oneshot` from a chosen client address, and to sign a user up with the
//! software authenticator.

#![allow(dead_code)] // each test binary uses a different part of the fixture

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use hwa_auth::{AuthConfig, AuthService, PasswordHashing, Seams};
use hwa_core::admin::UserAdd;
use hwa_core::clock::{SIM_EPOCH, SimClock};
use hwa_core::entropy::SeededEntropy;
use hwa_core::{SharedClock, SharedEntropy};
use hwa_proxy::{AppState, PeerAddr, WebSettings, router};
use hwa_store::memory::MemoryStore;
use hwa_virtual_authenticator::{SoftAuthenticator, WebauthnClient};
use tower::ServiceExt;

/// The origin the pages run at in these tests.
pub const ORIGIN: &str = "http://localhost:3080";

/// The client address requests come from unless a test says otherwise.
pub const CLIENT: &str = "192.0.2.10:50000";

pub const PASSWORD: &str = "correct horse battery staple";

/// A running proxy without sockets.
pub struct Fixture {
    pub app: Router,
    pub auth: AuthService,
    pub entropy: SharedEntropy,
    pub admin_token: String,
}

pub async fn fixture() -> Fixture {
    fixture_with(AppState::new).await
}

/// A fixture whose state the test builds (for a custom rate limiter).
pub async fn fixture_with(make: impl FnOnce(AuthService, WebSettings) -> AppState) -> Fixture {
    let entropy = SeededEntropy::shared(7);
    let auth = auth_service(entropy.clone()).await;
    let admin_token = auth.rotate_admin_token().await.expect("admin token");
    let web = WebSettings { cluster_name: "test".into(), tls: false };
    let app = router(make(auth.clone(), web));
    Fixture { app, auth, entropy, admin_token }
}

/// The auth service of the tests: in-memory store, simulated clock, cheap password hashing.
pub async fn auth_service(entropy: SharedEntropy) -> AuthService {
    let clock: SharedClock = SimClock::shared(SIM_EPOCH);
    let store = MemoryStore::new(clock.clone());
    let config = AuthConfig {
        cluster_name: "test".into(),
        rp_id: "localhost".into(),
        public_origins: vec![ORIGIN.into()],
        public_addr: "localhost:3080".into(),
        url_scheme: "http".into(),
        password_hashing: PasswordHashing::Fast,
    };
    let seams = Seams { store, clock, entropy };
    let (auth, _) = AuthService::open(config, seams).await.expect("auth service opens");
    auth
}

/// A request from [`CLIENT`].
pub fn request(method: Method, path: &str) -> axum::http::request::Builder {
    request_from(method, path, CLIENT)
}

pub fn request_from(method: Method, path: &str, peer: &str) -> axum::http::request::Builder {
    let peer: SocketAddr = peer.parse().expect("test peer address");
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(extensions) = builder.extensions_mut() {
        extensions.insert(PeerAddr(peer));
    }
    builder
}

pub fn json_request(method: Method, path: &str, body: &serde_json::Value) -> Request<Body> {
    request(method, path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("body is not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `code` of an `ApiError` body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().expect("error code").to_owned()
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
    Answer { status, headers, body }
}

/// A signed-up user: the session token from signup and the authenticator holding the key.
pub struct User {
    pub name: String,
    pub token: String,
    pub client: WebauthnClient,
}

/// Adds `name` through the admin API and signs up through the invite endpoints, as the
/// signup page does.
pub async fn sign_up(fx: &Fixture, name: &str) -> User {
    let added = fx
        .auth
        .add_user(UserAdd { user: name.into(), logins: vec![name.into()], roles: vec![] })
        .await
        .expect("user added");
    let token = added.invite_url.rsplit('/').next().expect("invite token").to_owned();
    let begin = send(
        &fx.app,
        json_request(
            Method::POST,
            &format!("/webapi/invites/{token}/register/begin"),
            &serde_json::json!({ "password": PASSWORD }),
        ),
    )
    .await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.text());
    let mut client = WebauthnClient::new(SoftAuthenticator::in_memory(fx.entropy.clone()));
    let created = client
        .register(&begin.json()["webauthn_creation"], ORIGIN)
        .await
        .expect("authenticator registers");
    let finish = send(
        &fx.app,
        json_request(
            Method::POST,
            &format!("/webapi/invites/{token}/register/finish"),
            &serde_json::json!({ "webauthn_response": created }),
        ),
    )
    .await;
    assert_eq!(finish.status, StatusCode::OK, "{}", finish.text());
    let session = finish.json()["token"].as_str().expect("session token").to_owned();
    User { name: name.into(), token: session, client }
}
