//! Users of the benchmark cluster, signed up through the real invite flow with a software
//! authenticator, and what an approver does with a request: look at it (which shows
//! interest), get a challenge scoped to it, have the authenticator answer, and send the
//! decision.
//!
//! The decision is split in two on purpose: [`Approver::prepare_approval`] does everything up
//! to the finished assertion, and [`Approver::send`] only sends it, so a benchmark can start
//! its clock between the two.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, anyhow};
use futures::StreamExt;
use http::Method;
use http_body_util::BodyExt;
use hwa_auth::AuthService;
use hwa_client::http::{Call, HttpClient, Trust};
use hwa_client::proxy_url::ProxyUrl;
use hwa_client::session::parse_invite;
use hwa_client::sse::SseParser;
use hwa_core::SharedNetwork;
use hwa_core::admin::UserAdd;
use hwa_core::api::{
    ChallengeScope, DecisionAction, HeadlessDecisionRequest, HeadlessDecisionResponse,
    HeadlessEvent, HeadlessRequestView, InviteView, MfaChallengeRequest, MfaChallengeResponse,
    MfaResponse, RegisterBeginRequest, RegisterBeginResponse, RegisterFinishRequest, RequestState,
    SessionResponse,
};
use hwa_core::entropy::OsEntropy;
use hwa_core::id::RequestId;
use hwa_virtual_authenticator::{SoftAuthenticator, WebauthnClient};
use tokio::task::AbortHandle;

/// The password every benchmark user signs up with (it only has to pass the password rules).
pub const BENCH_PASSWORD: &str = "benchmark password, not secret";

/// The SSH login every benchmark user may use.
pub const BENCH_LOGIN: &str = "bench";

/// A signed-up user with a session and the authenticator that registered.
#[derive(Debug)]
pub struct Approver {
    pub user: String,
    token: String,
    client: HttpClient,
    origin: String,
    device: WebauthnClient,
}

/// A decision ready to send: the assertion is made, only the request is left.
#[derive(Debug)]
pub struct PreparedDecision {
    pub id: RequestId,
    call: Call,
}

impl Approver {
    /// Adds `user` (as an administrator would) and signs them up over HTTP through the invite,
    /// registering a new software authenticator.
    pub async fn sign_up(
        auth: &AuthService,
        net: &SharedNetwork,
        proxy: &ProxyUrl,
        origin: &str,
        user: &str,
    ) -> anyhow::Result<Approver> {
        Approver::sign_up_as(auth, net, proxy, origin, user, &[BENCH_LOGIN.to_owned()]).await
    }

    /// Like [`Approver::sign_up`], with the SSH logins the user may use.
    pub async fn sign_up_as(
        auth: &AuthService,
        net: &SharedNetwork,
        proxy: &ProxyUrl,
        origin: &str,
        user: &str,
        logins: &[String],
    ) -> anyhow::Result<Approver> {
        let add = UserAdd { user: user.to_owned(), logins: logins.to_vec(), roles: Vec::new() };
        let added = auth.add_user(add).await.with_context(|| format!("cannot add {user}"))?;
        let (_, token) = parse_invite(&added.invite_url)?;
        let client = HttpClient::new(net.clone(), proxy.clone(), &Trust::System)?;
        let invite: InviteView =
            client.json(&Call::new(Method::GET, format!("/webapi/invites/{token}"))).await?;
        let begin = RegisterBeginRequest { password: BENCH_PASSWORD.to_owned() };
        let path = format!("/webapi/invites/{token}/register/begin");
        let creation: RegisterBeginResponse =
            client.json(&Call::new(Method::POST, path).json(&begin)?).await?;
        let mut device = WebauthnClient::new(SoftAuthenticator::in_memory(OsEntropy::shared()));
        let credential = device.register(&creation.webauthn_creation, origin).await?;
        let finish = RegisterFinishRequest { webauthn_response: credential };
        let path = format!("/webapi/invites/{token}/register/finish");
        let session: SessionResponse =
            client.json(&Call::new(Method::POST, path).json(&finish)?).await?;
        Ok(Approver {
            user: invite.user,
            token: session.token,
            client,
            origin: origin.to_owned(),
            device,
        })
    }

    /// `GET /webapi/headless/<id>`: shows interest and waits (up to the server's interest
    /// wait) until the login has filled the request in.
    pub async fn view(&self, id: &RequestId) -> anyhow::Result<HeadlessRequestView> {
        let call = Call::new(Method::GET, format!("/webapi/headless/{id}")).bearer(&self.token);
        Ok(self.client.json(&call).await?)
    }

    /// Gets a challenge scoped to request `id` and has the authenticator answer it.
    pub async fn prepare_approval(&mut self, id: &RequestId) -> anyhow::Result<PreparedDecision> {
        let scope =
            MfaChallengeRequest { scope: ChallengeScope::Headless { headless_id: id.clone() } };
        let call = Call::new(Method::POST, "/webapi/mfa/authenticatechallenge")
            .bearer(&self.token)
            .json(&scope)?;
        let challenge: MfaChallengeResponse = self.client.json(&call).await?;
        let assertion =
            self.device.authenticate(&challenge.webauthn_challenge, &self.origin).await?;
        let decision = HeadlessDecisionRequest {
            action: DecisionAction::Accept,
            mfa_response: Some(MfaResponse { webauthn_response: Some(assertion), totp_code: None }),
        };
        let call = Call::new(Method::PUT, format!("/webapi/headless/{id}"))
            .bearer(&self.token)
            .json(&decision)?;
        Ok(PreparedDecision { id: id.clone(), call })
    }

    /// `PUT /webapi/headless/<id>` with the prepared decision.
    pub async fn send(&self, decision: &PreparedDecision) -> anyhow::Result<()> {
        let answer: HeadlessDecisionResponse = self.client.json(&decision.call).await?;
        if answer.state != RequestState::Approved {
            return Err(anyhow!("request {} ended {:?}, not approved", decision.id, answer.state));
        }
        Ok(())
    }

    /// Opens `GET /webapi/headless/events` (the user's standing interest, as `hwa headless
    /// watch` holds it) and counts the distinct pending requests it announces into `pending`
    /// until the stream ends. Returns once the stream is open, with the handle that closes it.
    pub async fn watch(&self, pending: Arc<AtomicUsize>) -> anyhow::Result<AbortHandle> {
        let mut call = Call::new(Method::GET, "/webapi/headless/events").bearer(&self.token);
        call.accept = "text/event-stream";
        call.timeout = None;
        let answer = self.client.send(&call).await?;
        if !answer.status().is_success() {
            return Err(anyhow!("the event stream of {} answered {}", self.user, answer.status()));
        }
        let user = self.user.clone();
        let reader = tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            let mut parser = SseParser::new();
            let mut body = answer.into_body().into_data_stream();
            while let Some(Ok(chunk)) = body.next().await {
                let Ok(events) = parser.feed(&chunk) else { break };
                for event in events {
                    let parsed = serde_json::from_str::<HeadlessEvent>(&event.data);
                    if let Ok(HeadlessEvent::Pending { request }) = parsed
                        && seen.insert(request.id)
                    {
                        pending.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            tracing::debug!(%user, "event stream ended");
        });
        Ok(reader.abort_handle())
    }
}
