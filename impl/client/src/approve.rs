//! The approvers of the command line (SPEC HL-12 to HL-16): `hwa headless approve <id>` and
//! `hwa headless watch`.
//!
//! Both show the request's details before asking (requester address, user, ID, key
//! fingerprint, what the certificate will allow, time left, match code and the warning), ask
//! `Approve? [y/N]` unless told to skip, deny on anything but yes, and approve only with a fresh
//! WebAuthn assertion over a challenge scoped to this one request. The proxy enforces all of
//! it; the client's part is to show the details and to say clearly why a decision failed.

use std::collections::VecDeque;
use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use hwa_core::api::{
    ChallengeScope, DecisionAction, ErrorCode, HeadlessDecisionRequest, HeadlessDecisionResponse,
    HeadlessEvent, HeadlessRequestView, MfaChallengeRequest, MfaChallengeResponse, MfaResponse,
    RequestState,
};
use hwa_core::id::RequestId;

use crate::env::{ClientEnv, DeviceChoice, WebauthnDevice};
use crate::error::ClientError;
use crate::http::{Call, HttpClient, Trust};
use crate::profile::{Profile, saved_session};
use crate::proxy_url::ProxyUrl;
use crate::session::{open_device, stderr_failed};
use crate::sse::SseParser;

/// `hwa headless approve`.
#[derive(Clone, Debug)]
pub struct ApproveParams {
    pub proxy: ProxyUrl,
    pub trust: Trust,
    /// The user the request was printed for, when given (`--user`).
    pub user: Option<String>,
    pub id: RequestId,
    pub skip_confirm: bool,
    pub device: DeviceChoice,
}

/// `hwa headless watch`.
#[derive(Clone, Debug)]
pub struct WatchParams {
    pub proxy: ProxyUrl,
    pub trust: Trust,
    pub device: DeviceChoice,
    /// Stop after this many decisions (the simulator and tests); `None` watches until the end.
    pub decisions_max: Option<usize>,
}

/// Requests a watcher remembers as already handled, so a repeated event is not asked twice.
const HANDLED_MAX: usize = 256;

/// Consecutive failed reconnections of the event stream before the watcher gives up.
const RECONNECT_MAX: u32 = 5;

/// Pause between reconnections of the event stream.
const RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// What the approver decided about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Denied,
}

/// Shows request `params.id`, asks, and approves or denies it.
pub async fn approve(env: &mut ClientEnv, params: &ApproveParams) -> Result<Outcome, ClientError> {
    let (client, profile) = logged_in(env, &params.proxy, &params.trust)?;
    if let Some(user) = &params.user
        && *user != profile.user
    {
        return Err(ClientError::Config(format!(
            "request {} is for user {user}, but you are logged in as {} at {}; only {user} can \
             approve it: run `hwa login --user={user}` first",
            params.id, profile.user, params.proxy
        )));
    }
    let call =
        Call::new(Method::GET, format!("/webapi/headless/{}", params.id)).bearer(&profile.token);
    let view: HeadlessRequestView =
        client.json(&call).await.map_err(|e| explain(e, &params.id, &profile))?;
    let mut device = open_device(env, &params.device)?;
    let mut approver = Approver { client: &client, profile: &profile, device: device.as_mut() };
    let confirm = if params.skip_confirm { Confirm::Skip } else { Confirm::AskNoOnEnd };
    approver.decide(env, &view, confirm).await
}

/// Watches for new requests of the logged-in user and offers to approve or reject each.
pub async fn watch(env: &mut ClientEnv, params: &WatchParams) -> Result<usize, ClientError> {
    let (client, profile) = logged_in(env, &params.proxy, &params.trust)?;
    let mut device = open_device(env, &params.device)?;
    // Requests shown here, and whether this watcher decided them.
    let mut handled: VecDeque<(RequestId, bool)> = VecDeque::new();
    let mut decisions = 0usize;
    let mut failures = 0u32;
    let mut announced = false;
    loop {
        let mut call = Call::new(Method::GET, "/webapi/headless/events").bearer(&profile.token);
        call.accept = "text/event-stream";
        call.timeout = None;
        let answer = match client.send(&call).await {
            Ok(a) if a.status().is_success() => a,
            Ok(a) => {
                let status = a.status().as_u16();
                let body = a.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let e = crate::error::from_error_answer(status, &body);
                return Err(explain_watch(e, &profile));
            }
            Err(e) => {
                failures += 1;
                if failures > RECONNECT_MAX {
                    return Err(e);
                }
                env.say(&format!("{e}; retrying")).await.map_err(stderr_failed)?;
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        failures = 0;
        if !announced {
            // Said once the stream is open, so a request started after it is surely seen.
            let line = format!(
                "watching for headless requests of {} at {}; press Ctrl-C to stop",
                profile.user, params.proxy
            );
            env.say(&line).await.map_err(stderr_failed)?;
            announced = true;
        }
        let mut parser = SseParser::new();
        let mut body = answer.into_body();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            let Some(chunk) = frame.data_ref() else { continue };
            let events = parser.feed(chunk).map_err(|e| ClientError::Protocol(e.to_string()))?;
            for event in events {
                let parsed: HeadlessEvent = match serde_json::from_str(&event.data) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring an event that does not parse");
                        continue;
                    }
                };
                match parsed {
                    HeadlessEvent::Pending { request } => {
                        let seen = handled.iter().any(|(id, _)| *id == request.id);
                        if seen || request.state != RequestState::Pending {
                            continue;
                        }
                        if handled.len() >= HANDLED_MAX {
                            handled.pop_front();
                        }
                        handled.push_back((request.id.clone(), false));
                        let mut approver = Approver {
                            client: &client,
                            profile: &profile,
                            device: device.as_mut(),
                        };
                        match approver.decide(env, &request, Confirm::AskStopOnEnd).await {
                            Ok(_) => {
                                decisions += 1;
                                if let Some(entry) = handled.back_mut() {
                                    entry.1 = true;
                                }
                            }
                            Err(e) if e.api_code() == Some(ErrorCode::Unauthenticated) => {
                                return Err(explain(e, &request.id, &profile));
                            }
                            Err(e @ ClientError::Config(_)) => return Err(e),
                            Err(e) => {
                                env.say(&format!("error: {e}")).await.map_err(stderr_failed)?
                            }
                        }
                        if params.decisions_max.is_some_and(|max| decisions >= max) {
                            return Ok(decisions);
                        }
                    }
                    HeadlessEvent::Decided { id, state } => {
                        // Only news about a request shown here and decided elsewhere.
                        if !handled.iter().any(|(h, here)| *h == id && !here) {
                            continue;
                        }
                        let line = format!("request {id} is now {}", state_word(state));
                        env.say(&line).await.map_err(stderr_failed)?;
                    }
                }
            }
        }
        env.say("the event stream ended; reconnecting").await.map_err(stderr_failed)?;
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}

/// The lines an approver reads before deciding (SPEC HL-15).
pub fn details(view: &HeadlessRequestView) -> Vec<String> {
    let list =
        |v: &[String]| if v.is_empty() { "any your roles allow".to_owned() } else { v.join(", ") };
    vec![
        format!("Headless login request {}", view.id),
        format!("  user:            {}", view.user),
        format!("  requested from:  {}", view.client_addr),
        format!("  key:             {}", view.key_fingerprint),
        format!(
            "  command:         {}",
            if view.scope.command.is_empty() { "(not given)" } else { &view.scope.command }
        ),
        format!("  logins:          {}", list(&view.scope.logins)),
        format!("  nodes:           {}", list(&view.scope.nodes)),
        format!("  time left:       {} seconds", view.seconds_left),
        format!("  match code:      {}", view.match_code),
        "Approve only if you started this command yourself and the terminal shows the same match \
         code; never approve a request you did not start."
            .to_owned(),
    ]
}

/// Whether and how to ask before deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Confirm {
    /// `--skip-confirm`: approve without asking.
    Skip,
    /// Ask; an ended input counts as No, which denies (`headless approve`).
    AskNoOnEnd,
    /// Ask; an ended input stops the watcher without deciding, so a watcher started without a
    /// terminal never denies every request it sees.
    AskStopOnEnd,
}

struct Approver<'a> {
    client: &'a HttpClient,
    profile: &'a Profile,
    device: &'a mut dyn WebauthnDevice,
}

impl Approver<'_> {
    async fn decide(
        &mut self,
        env: &mut ClientEnv,
        view: &HeadlessRequestView,
        confirm: Confirm,
    ) -> Result<Outcome, ClientError> {
        for line in details(view) {
            env.say(&line).await.map_err(stderr_failed)?;
        }
        if view.state != RequestState::Pending {
            return Err(ClientError::Api {
                status: 409,
                code: ErrorCode::AlreadyDecided,
                message: format!(
                    "request {} was already {}; nothing changed",
                    view.id,
                    state_word(view.state)
                ),
            });
        }
        let yes = match confirm {
            Confirm::Skip => true,
            Confirm::AskNoOnEnd => self.confirm(env).await?.unwrap_or(false),
            Confirm::AskStopOnEnd => self.confirm(env).await?.ok_or_else(|| {
                ClientError::Config(
                    "standard input closed, so no one can answer; run `hwa headless watch` in \
                     a terminal"
                        .into(),
                )
            })?,
        };
        if !yes {
            self.put(
                &view.id,
                HeadlessDecisionRequest { action: DecisionAction::Denied, mfa_response: None },
            )
            .await?;
            env.say(&format!("denied request {}", view.id)).await.map_err(stderr_failed)?;
            return Ok(Outcome::Denied);
        }
        let scope = MfaChallengeRequest {
            scope: ChallengeScope::Headless { headless_id: view.id.clone() },
        };
        let call = Call::new(Method::POST, "/webapi/mfa/authenticatechallenge")
            .bearer(&self.profile.token)
            .json(&scope)?;
        let challenge: MfaChallengeResponse =
            self.client.json(&call).await.map_err(|e| explain(e, &view.id, self.profile))?;
        env.say("touch your authenticator to approve").await.map_err(stderr_failed)?;
        let assertion = self
            .device
            .authenticate(
                &challenge.webauthn_challenge,
                &self.client.proxy().origin(),
                env.term.as_mut(),
            )
            .await
            .map_err(ClientError::Authenticator)?;
        let decision = HeadlessDecisionRequest {
            action: DecisionAction::Accept,
            mfa_response: Some(MfaResponse { webauthn_response: Some(assertion), totp_code: None }),
        };
        self.put(&view.id, decision).await?;
        env.say(&format!("approved request {}", view.id)).await.map_err(stderr_failed)?;
        Ok(Outcome::Approved)
    }

    /// Asks `Approve? [y/N]`; `None` when standard input has ended.
    async fn confirm(&mut self, env: &mut ClientEnv) -> Result<Option<bool>, ClientError> {
        env.term.err("Approve? [y/N] ").await.map_err(stderr_failed)?;
        let answer =
            env.term.read_line().await.map_err(|e| ClientError::io("reading the answer", e))?;
        Ok(answer.map(|a| matches!(a.trim(), "y" | "Y" | "yes" | "Yes" | "YES")))
    }

    async fn put(
        &mut self,
        id: &RequestId,
        decision: HeadlessDecisionRequest,
    ) -> Result<HeadlessDecisionResponse, ClientError> {
        let call = Call::new(Method::PUT, format!("/webapi/headless/{id}"))
            .bearer(&self.profile.token)
            .json(&decision)?;
        self.client.json(&call).await.map_err(|e| explain(e, id, self.profile))
    }
}

/// The session profile and a client for `proxy`, or a clear "log in first".
fn logged_in(
    env: &ClientEnv,
    proxy: &ProxyUrl,
    trust: &Trust,
) -> Result<(HttpClient, Profile), ClientError> {
    let profile = saved_session(env.home.as_deref(), proxy)?;
    let client = HttpClient::new(env.net.clone(), proxy.clone(), trust)?;
    Ok((client, profile))
}

fn state_word(state: RequestState) -> &'static str {
    match state {
        RequestState::Pending => "pending",
        RequestState::Approved => "approved",
        RequestState::Denied => "denied",
    }
}

/// Adds what the approver can do to a proxy error about request `id`.
pub fn explain(e: ClientError, id: &RequestId, profile: &Profile) -> ClientError {
    let ClientError::Api { status, code, message } = e else { return e };
    let ours = match code {
        ErrorCode::Forbidden => {
            return ClientError::Api {
                status,
                code,
                message: format!("{message} (you are logged in as {})", profile.user),
            };
        }
        ErrorCode::NotFound => format!(
            "no request {id}: it expired, was never made, or the ID is mistyped; run the headless \
             command again and copy the new ID"
        ),
        ErrorCode::AlreadyDecided => format!("request {id} was already decided; nothing changed"),
        ErrorCode::Expired => format!("request {id} expired; run the headless command again"),
        ErrorCode::Unauthenticated => format!(
            "your session as {} expired or was revoked; run `hwa login --proxy={}` again",
            profile.user, profile.proxy
        ),
        ErrorCode::MfaFailed => "the authenticator's answer was refused".to_owned(),
        ErrorCode::Locked => "you or this credential are locked by an administrator".to_owned(),
        _ => return ClientError::Api { status, code, message },
    };
    ClientError::Api { status, code, message: format!("{ours} (proxy said: {message})") }
}

fn explain_watch(e: ClientError, profile: &Profile) -> ClientError {
    match e.api_code() {
        Some(ErrorCode::Unauthenticated) => ClientError::Api {
            status: 401,
            code: ErrorCode::Unauthenticated,
            message: format!(
                "your session as {} expired or was revoked; run `hwa login --proxy={}` again",
                profile.user, profile.proxy
            ),
        },
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use hwa_core::api::RequestScope;
    use hwa_core::time::UnixMillis;

    use super::*;

    fn view() -> HeadlessRequestView {
        HeadlessRequestView {
            id: RequestId::derive(b"fake-ssh-public-key"),
            user: "alice".into(),
            state: RequestState::Pending,
            client_addr: "192.0.2.7:51234".into(),
            key_fingerprint: "SHA256:abc".into(),
            scope: RequestScope { command: "ls".into(), logins: vec![], nodes: vec![] },
            expires_at: UnixMillis(180_000),
            seconds_left: 172,
            match_code: "123-456".into(),
        }
    }

    fn profile() -> Profile {
        Profile {
            proxy: "proxy.example.com:3080".into(),
            user: "bob".into(),
            token: "t".into(),
            expires_at: UnixMillis(0),
        }
    }

    #[test]
    fn the_approver_sees_every_detail_and_the_warning() {
        insta::assert_snapshot!(details(&view()).join("\n"));
    }

    #[test]
    fn each_proxy_refusal_reads_as_what_to_do() {
        let id = view().id;
        let mut out = Vec::new();
        for code in [
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::AlreadyDecided,
            ErrorCode::Expired,
            ErrorCode::Unauthenticated,
            ErrorCode::MfaFailed,
            ErrorCode::Locked,
            ErrorCode::RateLimited,
        ] {
            let e = ClientError::Api { status: 400, code, message: "server text".into() };
            out.push(format!("{code:?}: {}", explain(e, &id, &profile())));
        }
        insta::assert_snapshot!(out.join("\n"));
    }
}
