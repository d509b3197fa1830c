//! The actions people and attackers take in scenarios, each through the real client library:
//! sign up, log in, run a headless command, read the approval URL off a screen, decide.
//!
//! Every action records what it saw on the blackboard, which is what the invariant checker
//! and the scenarios' own expectations read.

use hwa_client::approve::Outcome as Decided;
use hwa_client::http::Trust;
use hwa_client::proxy_url::ProxyUrl;
use hwa_client::{
    ApproveParams, ClientError, HeadlessIdentity, HeadlessParams, LoginParams, SignupParams,
};
use hwa_core::api::RequestScope;
use hwa_core::id::RequestId;
use hwa_core::memlock::MlockMode;

use crate::board::Observation;
use crate::harness::HostCtx;

/// The simulated network has no TLS; clients speak plain HTTP over it (see `Trust`).
fn trust() -> Trust {
    Trust::SimulatedNetwork
}

fn proxy(ctx: &HostCtx, i: usize) -> Result<ProxyUrl, String> {
    ProxyUrl::parse(&ctx.proxy(i)).map_err(|e| e.to_string())
}

/// Signs `user` up with the authenticator `key` through the invite, then logs in at proxy
/// `i` so that later approvals there have a session.
pub async fn sign_up(ctx: &HostCtx, user: &str, key: &str, i: usize) -> Result<(), String> {
    let invite = ctx.board.invite(user).ok_or(format!("no invite for {user}"))?;
    let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[]);
    let params =
        SignupParams { invite_url: invite, trust: trust(), authenticator_file: key.into() };
    hwa_client::signup(&mut env, &params).await.map_err(|e| format!("{user} signup: {e}"))?;
    log_in(ctx, user, key, i).await
}

/// Logs `user` in at proxy `i`.
pub async fn log_in(ctx: &HostCtx, user: &str, key: &str, i: usize) -> Result<(), String> {
    let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[]);
    let params = LoginParams {
        proxy: proxy(ctx, i)?,
        trust: trust(),
        user: user.to_owned(),
        authenticator_file: key.into(),
    };
    hwa_client::login(&mut env, &params).await.map_err(|e| format!("{user} login: {e}"))?;
    ctx.board.bump(&format!("logged-in:{user}:{}", ctx.host.name));
    Ok(())
}

/// Runs a headless login for `user` at proxy `i` and records what came of it.
pub async fn headless(
    ctx: &HostCtx,
    user: &str,
    i: usize,
    mlock: MlockMode,
    command: &str,
    legitimate: bool,
) -> Result<HeadlessIdentity, ClientError> {
    let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[]);
    let params = HeadlessParams {
        proxy: proxy(ctx, i).map_err(ClientError::Usage)?,
        trust: trust(),
        user: user.to_owned(),
        mlock,
        scope: RequestScope { command: command.to_owned(), logins: Vec::new(), nodes: Vec::new() },
    };
    let result = hwa_client::headless_login(&mut env, &params).await;
    match &result {
        Ok(identity) => ctx.board.observe(Observation::Certificate {
            host: ctx.host.name.clone(),
            user: identity.user.clone(),
            request_id: identity.request_id.clone(),
            certificate: identity.certificate_line.clone(),
            legitimate,
        }),
        Err(e) => ctx.board.observe(Observation::LoginFailed {
            host: ctx.host.name.clone(),
            request_id: ctx.board.printed_ids(&ctx.host.name).last().cloned(),
            code: e.api_code(),
            message: e.to_string(),
        }),
    }
    ctx.board.bump(&format!("finished:{}", ctx.host.name));
    result
}

/// Waits until `host` has printed its `n`-th approval URL (1-based) and answers its ID, as a
/// person reading the remote screen would.
pub async fn read_request_id(ctx: &HostCtx, host: &str, n: usize) -> RequestId {
    ctx.board.wait_until(|b| b.printed_ids(host).get(n - 1).cloned()).await
}

/// Decides request `id` as `user` at proxy `i` with `hwa headless approve`, answering the
/// `Approve? [y/N]` prompt with `y` or `n`. Answers whether the decision was accepted.
pub async fn decide(
    ctx: &HostCtx,
    user: &str,
    key: &str,
    i: usize,
    id: &RequestId,
    approve: bool,
) -> Result<bool, String> {
    let answer = if approve { "y" } else { "n" };
    let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[answer]);
    let params = ApproveParams {
        proxy: proxy(ctx, i)?,
        trust: trust(),
        user: Some(user.to_owned()),
        id: id.clone(),
        skip_confirm: false,
        authenticator_file: key.into(),
    };
    let result = hwa_client::approve(&mut env, &params).await;
    let (accepted, message) = match &result {
        Ok(Decided::Approved) => (approve, "approved".to_owned()),
        Ok(Decided::Denied) => (!approve, "denied".to_owned()),
        Err(e) => (false, e.to_string()),
    };
    ctx.board.observe(Observation::Decision {
        host: ctx.host.name.clone(),
        request_id: id.clone(),
        approve,
        accepted,
        message,
    });
    ctx.board.bump("decisions");
    Ok(accepted)
}
