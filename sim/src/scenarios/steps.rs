//! The actions people and attackers take in scenarios, each through the real client library:
//! sign up, log in, run a headless command, read the approval URL off a screen, decide.
//!
//! Every action records what it saw on the blackboard, which is what the invariant checker
//! and the scenarios' own expectations read.
//!
//! # People run a command again when the cluster cannot be reached
//! A command that fails because a proxy is down or a link is cut ([`unreachable`]) is what a
//! person runs again after a moment; any other failure is an answer and is final. Every step
//! here does the same through [`persist`], so that a fault schedule delays the legitimate users
//! but does not make them give up, and the liveness phase can require their requests to end.

use std::time::Duration;

use hwa_client::approve::Outcome as Decided;
use hwa_client::http::Trust;
use hwa_client::proxy_url::ProxyUrl;
use hwa_client::{
    ApproveParams, ClientError, DeviceChoice, HeadlessIdentity, HeadlessParams, LoginParams,
    SignupParams,
};
use hwa_core::api::{ErrorCode, RequestScope};
use hwa_core::id::RequestId;
use hwa_core::memlock::MlockMode;

use crate::board::Observation;
use crate::harness::HostCtx;

/// How long a person waits before running a command again that could not reach the cluster.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// How many times a person runs a command that keeps failing to reach the cluster. With the
/// pauses and the client's own 30-second answer timeout, that outlasts every fault schedule
/// `hwa-sim explore` draws (faults within 20 s, each healed within 10 s more).
const ATTEMPTS: u32 = 30;

/// Whether a command failed only because the cluster could not be reached: no connection,
/// a connection lost, or no answer in time.
pub fn unreachable(e: &ClientError) -> bool {
    matches!(e, ClientError::Connect { .. } | ClientError::Transport { .. })
}

/// Runs `attempt` until it ends with something other than [`unreachable`], pausing between
/// attempts as a person would, for at most [`ATTEMPTS`] attempts.
pub async fn persist<T>(
    ctx: &HostCtx,
    what: &str,
    mut attempt: impl AsyncFnMut() -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if unreachable(&e) && n < ATTEMPTS => pause(ctx, what, n, &e).await,
            other => return other,
        }
        n += 1;
    }
}

/// The moment between a failed attempt `n` and the next.
async fn pause(ctx: &HostCtx, what: &str, n: u32, e: &ClientError) {
    tracing::info!(
        target: "hwa_sim::person",
        host = %ctx.host.name,
        attempt = n,
        error = %e,
        "{what} failed; running it again"
    );
    tokio::time::sleep(RETRY_PAUSE).await;
}

/// The simulated network has no TLS; clients speak plain HTTP over it (see `Trust`).
fn trust() -> Trust {
    Trust::SimulatedNetwork
}

fn proxy(ctx: &HostCtx, i: usize) -> Result<ProxyUrl, String> {
    ProxyUrl::parse(&ctx.proxy(i)).map_err(|e| e.to_string())
}

/// Signs `user` up with the authenticator `key` through the invite, then logs in at proxy
/// `i` so that later approvals there have a session.
///
/// A signup whose answer was lost may have gone through: the invite is used up then, so when
/// a later attempt is refused the person tries to log in, which works only if it did.
pub async fn sign_up(ctx: &HostCtx, user: &str, key: &str, i: usize) -> Result<(), String> {
    let invite = ctx.board.invite(user).ok_or(format!("no invite for {user}"))?;
    let params = SignupParams { invite_url: invite, trust: trust(), device: device(key) };
    let mut answer_lost = false;
    let signed_up = persist(ctx, "signup", async || {
        let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[]);
        let result = hwa_client::signup(&mut env, &params).await;
        answer_lost |= result.as_ref().err().is_some_and(unreachable);
        result
    })
    .await;
    match signed_up {
        Ok(_) => {}
        Err(e @ ClientError::Api { .. }) if answer_lost => {
            log_in(ctx, user, key, i)
                .await
                .map_err(|login| format!("{user} signup: {e} (and logging in instead: {login})"))?;
            return Ok(());
        }
        Err(e) => return Err(format!("{user} signup: {e}")),
    }
    log_in(ctx, user, key, i).await
}

/// Logs `user` in at proxy `i`.
pub async fn log_in(ctx: &HostCtx, user: &str, key: &str, i: usize) -> Result<(), String> {
    let params = LoginParams {
        proxy: proxy(ctx, i)?,
        trust: trust(),
        user: user.to_owned(),
        device: device(key),
    };
    persist(ctx, "login", async || {
        let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[]);
        hwa_client::login(&mut env, &params).await
    })
    .await
    .map_err(|e| format!("{user} login: {e}"))?;
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
    let params = HeadlessParams {
        proxy: proxy(ctx, i).map_err(ClientError::Usage)?,
        trust: trust(),
        user: user.to_owned(),
        mlock,
        scope: RequestScope { command: command.to_owned(), logins: Vec::new(), nodes: Vec::new() },
    };
    // Once it has printed its URL the client rides out lost connections itself; before that,
    // a command that cannot reach the cluster is one the person runs again, and the approver
    // still reads the first URL printed.
    let mut n = 1;
    let result = loop {
        let printed_before = ctx.board.printed_ids(&ctx.host.name).len();
        let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[]);
        let result = hwa_client::headless_login(&mut env, &params).await;
        let printed = ctx.board.printed_ids(&ctx.host.name).len() > printed_before;
        match result {
            Err(e) if unreachable(&e) && !printed && n < ATTEMPTS => {
                pause(ctx, "the headless command", n, &e).await;
            }
            other => break other,
        }
        n += 1;
    };
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

/// Runs `attempt`, an action on request `id`, as [`persist`] does; and when it is told no
/// request `id` is waiting while the screen that printed `id` still shows the command waiting,
/// runs it again: the login is between connections (a server restarting, a link cut), and a
/// person who looks at that screen tries again.
pub async fn persist_while_waiting<T>(
    ctx: &HostCtx,
    what: &str,
    id: &RequestId,
    mut attempt: impl AsyncFnMut() -> Result<T, ClientError>,
) -> Result<T, ClientError> {
    let mut n = 1;
    loop {
        match persist(ctx, what, &mut attempt).await {
            Err(e)
                if e.api_code() == Some(ErrorCode::NotFound)
                    && n < ATTEMPTS
                    && still_waiting(ctx, id) =>
            {
                pause(ctx, what, n, &e).await;
            }
            other => return other,
        }
        n += 1;
    }
}

/// Whether the command that printed `id` is still running, as its screen shows. A host's
/// `k`-th URL is printed by its `k`-th headless command, and each bumps `finished:<host>`
/// once when it ends.
fn still_waiting(ctx: &HostCtx, id: &RequestId) -> bool {
    let Some(host) = ctx.board.printed_by(id) else {
        return false;
    };
    let position = ctx.board.printed_ids(&host).iter().position(|printed| printed == id);
    position.is_some_and(|k| ctx.board.count(&format!("finished:{host}")) <= k as u64)
}

/// Waits until `host` has printed its `n`-th approval URL (1-based) and answers its ID, as a
/// person reading the remote screen would.
pub async fn read_request_id(ctx: &HostCtx, host: &str, n: usize) -> RequestId {
    ctx.board.wait_until(|b| b.printed_ids(host).get(n - 1).cloned()).await
}

/// The device a step names: `usb:NAME` is the keyring's security key NAME (with a PIN), any
/// other name the keyring's authenticator file.
pub fn device(key: &str) -> DeviceChoice {
    match key.strip_prefix("usb:") {
        Some(name) => DeviceChoice::SecurityKey(Some(name.into())),
        None => DeviceChoice::File(key.into()),
    }
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
    decide_typing(ctx, user, key, i, id, approve, &[]).await
}

/// [`decide`], typing `pins` in turn at a security key's PIN prompts (then the right PIN).
pub async fn decide_typing(
    ctx: &HostCtx,
    user: &str,
    key: &str,
    i: usize,
    id: &RequestId,
    approve: bool,
    pins: &[&str],
) -> Result<bool, String> {
    let confirm = if approve { "y" } else { "n" };
    let answers: Vec<&str> = std::iter::once(confirm).chain(pins.iter().copied()).collect();
    let params = ApproveParams {
        proxy: proxy(ctx, i)?,
        trust: trust(),
        user: Some(user.to_owned()),
        id: id.clone(),
        skip_confirm: false,
        device: device(key),
    };
    let mut answer_lost = false;
    let result = persist_while_waiting(ctx, "the decision", id, async || {
        let mut env = ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &answers);
        let result = hwa_client::approve(&mut env, &params).await;
        answer_lost |= result.as_ref().err().is_some_and(unreachable);
        result
    })
    .await;
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
        answer_lost,
    });
    ctx.board.bump("decisions");
    Ok(accepted)
}
