//! The shared fixture of the auth service's integration tests: one simulated cluster (memory
//! store, simulated clock, seeded entropy), people with a virtual security key, and client key
//! pairs with their request IDs, so that each scenario reads in a few lines.

// A fixture that cannot build its cluster has failed the test that asked for it.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::IpAddr;
use std::sync::Arc;

use hwa_auth::{AuthConfig, AuthError, AuthService, PasswordHashing, Seams, Session};
use hwa_core::admin::UserAdd;
use hwa_core::api::{
    ChallengeScope, DecisionAction, HeadlessDecisionRequest, HeadlessLoginRequest,
    HeadlessLoginResponse, MfaResponse, RequestScope, RequestState,
};
use hwa_core::clock::{SIM_EPOCH, SimClock};
use hwa_core::entropy::SeededEntropy;
use hwa_core::id::RequestId;
use hwa_store::SharedStore;
use hwa_store::memory::MemoryStore;
use hwa_virtual_authenticator::{SoftAuthenticator, WebauthnClient};
use ssh_key::PrivateKey;
use ssh_key::private::{Ed25519Keypair, KeypairData};
use tokio::task::JoinHandle;

pub const ORIGIN: &str = "http://localhost:3080";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn config() -> AuthConfig {
    AuthConfig {
        cluster_name: "test".into(),
        rp_id: "localhost".into(),
        public_origins: vec![ORIGIN.into()],
        public_addr: "localhost:3080".into(),
        url_scheme: "http".into(),
        password_hashing: PasswordHashing::Fast,
    }
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

pub struct Cluster {
    pub store: SharedStore,
    pub clock: Arc<SimClock>,
    pub auth: AuthService,
    pub admin_token: Option<String>,
}

impl Cluster {
    pub async fn new() -> Cluster {
        let clock = SimClock::shared(SIM_EPOCH);
        let store: SharedStore = MemoryStore::new(clock.clone());
        let seams =
            Seams { store: store.clone(), clock: clock.clone(), entropy: SeededEntropy::shared(7) };
        let (auth, admin_token) = AuthService::open(config(), seams).await.unwrap();
        Cluster { store, clock, auth, admin_token }
    }

    /// A second auth server sharing the store, with its own entropy.
    pub async fn second_server(&self) -> AuthService {
        let seams = Seams {
            store: self.store.clone(),
            clock: self.clock.clone(),
            entropy: SeededEntropy::shared(99),
        };
        let (auth, token) = AuthService::open(config(), seams).await.unwrap();
        assert!(token.is_none(), "the admin token is created once per cluster");
        auth
    }

    /// Adds `name`, signs up through the invite with a fresh virtual key, logs in.
    pub async fn person(&self, name: &str, logins: &[&str]) -> Person {
        self.person_with_roles(name, logins, &[]).await
    }

    /// Like [`Cluster::person`], holding `roles` (none: the built-in access role).
    pub async fn person_with_roles(&self, name: &str, logins: &[&str], roles: &[&str]) -> Person {
        let added = self
            .auth
            .add_user(UserAdd {
                user: name.into(),
                logins: logins.iter().map(|l| l.to_string()).collect(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            })
            .await
            .unwrap();
        let token = added.invite_url.rsplit('/').next().unwrap().to_string();
        let seed = name.bytes().fold(11u64, |acc, b| acc * 31 + u64::from(b));
        let mut device =
            WebauthnClient::new(SoftAuthenticator::in_memory(SeededEntropy::shared(seed)));
        let creation = self.auth.begin_registration(&token, PASSWORD).await.unwrap();
        let response = device.register(&creation, ORIGIN).await.unwrap();
        let session = self.auth.finish_registration(&token, &response).await.unwrap();
        let session = self.auth.authenticate_session(&session.token).await.unwrap();
        Person { name: name.into(), session, device }
    }

    /// Starts a waiting headless login in the background.
    pub fn login(
        &self,
        user: &str,
        key: &ClientKey,
        scope: RequestScope,
    ) -> JoinHandle<Result<HeadlessLoginResponse, AuthError>> {
        let auth = self.auth.clone();
        let req = key.request(user, scope);
        tokio::spawn(async move { auth.headless_login(req, ip("203.0.113.7")).await })
    }
}

pub struct Person {
    pub name: String,
    pub session: Session,
    pub device: WebauthnClient,
}

impl Person {
    /// Answers a fresh challenge for `scope` with the security key.
    pub async fn assertion(
        &mut self,
        auth: &AuthService,
        scope: ChallengeScope,
    ) -> serde_json::Value {
        let options = auth.mfa_challenge(&self.session, &scope).await.unwrap();
        self.device.authenticate(&options, ORIGIN).await.unwrap()
    }

    pub async fn headless_assertion(
        &mut self,
        auth: &AuthService,
        id: &RequestId,
    ) -> serde_json::Value {
        self.assertion(auth, ChallengeScope::Headless { headless_id: id.clone() }).await
    }

    pub async fn approve(
        &mut self,
        auth: &AuthService,
        id: &RequestId,
    ) -> Result<RequestState, AuthError> {
        let response = self.headless_assertion(auth, id).await;
        auth.headless_decide(&self.session, id, &accept(response), ip("198.51.100.2")).await
    }

    pub async fn deny(
        &self,
        auth: &AuthService,
        id: &RequestId,
    ) -> Result<RequestState, AuthError> {
        let deny = HeadlessDecisionRequest { action: DecisionAction::Denied, mfa_response: None };
        auth.headless_decide(&self.session, id, &deny, ip("198.51.100.2")).await
    }
}

pub fn accept(webauthn_response: serde_json::Value) -> HeadlessDecisionRequest {
    HeadlessDecisionRequest {
        action: DecisionAction::Accept,
        mfa_response: Some(MfaResponse {
            webauthn_response: Some(webauthn_response),
            totp_code: None,
        }),
    }
}

/// A client's in-memory key pair, as `hwa --headless` makes one.
pub struct ClientKey {
    pub private: PrivateKey,
    pub public_line: String,
    pub id: RequestId,
}

impl ClientKey {
    pub fn new(n: u8) -> ClientKey {
        let keypair = Ed25519Keypair::from_seed(&[n; 32]);
        let private = PrivateKey::new(KeypairData::from(keypair), "").unwrap();
        let public_line = private.public_key().to_openssh().unwrap();
        let id = RequestId::derive(public_line.as_bytes());
        ClientKey { private, public_line, id }
    }

    pub fn request(&self, user: &str, scope: RequestScope) -> HeadlessLoginRequest {
        HeadlessLoginRequest {
            user: user.into(),
            headless_id: self.id.clone(),
            ssh_pub_key: self.public_line.clone(),
            ttl: 3600,
            scope,
        }
    }
}

pub fn ssh_scope(login: &str, node: &str) -> RequestScope {
    RequestScope {
        command: format!("ssh {login}@{node} uname -a"),
        logins: vec![login.into()],
        nodes: vec![node.into()],
    }
}

impl Cluster {
    pub fn clock_now(&self) -> hwa_core::UnixMillis {
        use hwa_core::Clock;
        self.clock.now()
    }
}
