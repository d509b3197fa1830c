//! Scenarios with someone trying to break a rule: another user, a phisher, a replayer, an ID
//! hijacker, a flood, a late approver. Each checks that the attempt fails in the way the
//! requirement says, and that the legitimate user still gets through.

use std::time::Duration;

use http::{Method, StatusCode};
use hwa_client::ClientError;
use hwa_client::http::{Call, HttpClient, Trust};
use hwa_client::profile::ProfileStore;
use hwa_client::proxy_url::ProxyUrl;
use hwa_core::api::{
    DecisionAction, HeadlessDecisionRequest, HeadlessLoginRequest, HeadlessRequestView,
    MfaResponse, RequestScope,
};
use hwa_core::id::RequestId;
use hwa_core::memlock::{MlockMode, SimLockBehaviour};
use ssh_key::private::Ed25519Keypair;

use super::remote_ls;
use super::steps::{decide, headless, persist, persist_while_waiting, read_request_id, sign_up};
use crate::board::Observation;
use crate::harness::{HostCtx, Setup};

fn client(ctx: &HostCtx, i: usize) -> Result<HttpClient, ClientError> {
    let proxy = ProxyUrl::parse(&ctx.proxy(i)).map_err(|e| ClientError::Usage(e.to_string()))?;
    HttpClient::new(
        ctx.host.env(&ctx.board, &ctx.keyring, ctx.seed, &[]).net,
        proxy,
        &Trust::SimulatedNetwork,
    )
}

/// Sends `call` to proxy `i` until it is answered, as anyone would whose request the
/// network lost (see [`persist`]).
async fn fetch(ctx: &HostCtx, i: usize, call: &Call) -> Result<(StatusCode, Vec<u8>), String> {
    let what = format!("{} {}", call.method, call.path);
    persist(ctx, &what, async || client(ctx, i)?.fetch(call).await)
        .await
        .map(|(status, body)| (status, body.to_vec()))
        .map_err(|e| format!("{what}: {e}"))
}

/// An OpenSSH public key line of a key the attacker made.
fn attacker_key(n: u16) -> String {
    let mut seed = [0xa7; 32];
    seed[..2].copy_from_slice(&n.to_le_bytes());
    let key = ssh_key::PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.public_key().to_openssh().unwrap_or_default()
}

/// The session token alice's laptop keeps, as an attacker who read her disk would have it.
fn stolen_token(ctx: &HostCtx, victim_home: &std::path::Path, i: usize) -> Result<String, String> {
    let proxy = ProxyUrl::parse(&ctx.proxy(i)).map_err(|e| e.to_string())?;
    let profile = ProfileStore::new(victim_home)
        .load(&proxy)
        .map_err(|e| e.to_string())?
        .ok_or("alice's laptop holds no profile to steal")?;
    Ok(profile.token)
}

fn home_of(ctx: &HostCtx, host: &str) -> std::path::PathBuf {
    ctx.host.home.with_file_name(
        ctx.host
            .home
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().replace(&ctx.host.name, host)),
    )
}

pub fn other_user_approves(setup: &mut Setup) {
    // bob's look at the request waits out the interest wait (5 s); coarser steps suffice.
    setup.tick(super::MEDIUM_TICK);
    setup.user("alice", &["alice"]);
    setup.user("bob", &["bob"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| remote_ls(ctx, "alice", 0));
    setup.approver("bobs-laptop", "bob", |ctx| async move {
        sign_up(&ctx, "bob", "bob-key", 0).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        if decide(&ctx, "bob", "bob-key", 0, &id, true).await? {
            return Err("bob's approval of alice's request was accepted".into());
        }
        ctx.board.bump("bob-tried");
        Ok(())
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        ctx.board.wait_until(|b| (b.count("bob-tried") > 0).then_some(())).await;
        decide(&ctx, "alice", "alice-key", 0, &id, true).await.map(|_| ())
    });
    setup.expect("bob is told the request belongs to another user", |board| {
        let told = board.observations().iter().any(|o| {
            matches!(o, Observation::Decision { host, accepted: false, message, .. }
                if host == "bobs-laptop" && message.contains("only the user who started"))
        });
        if told { Ok(()) } else { Err(format!("bob saw: {:?}", board.observations())) }
    });
}

pub fn phishing(setup: &mut Setup) {
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| remote_ls(ctx, "alice", 0));
    setup.attacker("mallory", |ctx| async move {
        // mallory starts a request as alice and sends her the link.
        let result = headless(&ctx, "alice", 0, MlockMode::Off, "ls", false).await;
        match result {
            Err(ClientError::Denied) => Ok(()),
            other => Err(format!("the phishing request ended with {other:?}, not a denial")),
        }
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        let own = read_request_id(&ctx, "remote", 1).await;
        let phished = read_request_id(&ctx, "mallory", 1).await;
        let own_code =
            ctx.board.printed_match_code("remote").ok_or("remote printed no match code")?;
        let token = stolen_token(&ctx, &ctx.host.home, 0)?;
        // alice reads both requests' details and approves only the one whose code she sees
        // on her own screen.
        for id in [phished, own] {
            let call = Call::new(Method::GET, format!("/webapi/headless/{id}")).bearer(&token);
            let view: HeadlessRequestView =
                persist_while_waiting(&ctx, "reading the request", &id, async || {
                    client(&ctx, 0)?.json(&call).await
                })
                .await
                .map_err(|e| format!("alice cannot see request {id}: {e}"))?;
            let mine = view.match_code == own_code;
            decide(&ctx, "alice", "alice-key", 0, &id, mine).await?;
        }
        Ok(())
    });
}

pub fn assertion_replay(setup: &mut Setup) {
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| async move {
        for n in 1..=2 {
            headless(&ctx, "alice", 0, MlockMode::BestEffort, "ls", true)
                .await
                .map_err(|e| format!("alice's headless ls number {n} failed: {e}"))?;
        }
        Ok(())
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        let first = read_request_id(&ctx, "remote", 1).await;
        decide(&ctx, "alice", "alice-key", 0, &first, true).await?;
        let second = read_request_id(&ctx, "remote", 2).await;
        ctx.board.wait_until(|b| (b.count("replayed") > 0).then_some(())).await;
        decide(&ctx, "alice", "alice-key", 0, &second, true).await.map(|_| ())
    });
    setup.attacker("mallory", |ctx| async move {
        let first = read_request_id(&ctx, "remote", 1).await;
        let second = read_request_id(&ctx, "remote", 2).await;
        let assertion = ctx.board.wait_until(|b| b.captured("assertion").first().cloned()).await;
        let token = stolen_token(&ctx, &home_of(&ctx, "laptop"), 0)?;
        let response: serde_json::Value =
            serde_json::from_str(&assertion).map_err(|e| format!("captured assertion: {e}"))?;
        for (id, what) in [(&second, "another request"), (&first, "the same request again")] {
            let body = HeadlessDecisionRequest {
                action: DecisionAction::Accept,
                mfa_response: Some(MfaResponse {
                    webauthn_response: Some(response.clone()),
                    totp_code: None,
                }),
            };
            let call = Call::new(Method::PUT, format!("/webapi/headless/{id}"))
                .json(&body)
                .map_err(|e| e.to_string())?
                .bearer(&token);
            let (status, body) = fetch(&ctx, 0, &call).await?;
            if status.is_success() {
                return Err(format!(
                    "a replayed assertion approved {what}: {}",
                    String::from_utf8_lossy(&body)
                ));
            }
        }
        // A one-time password is no second factor for headless approval either.
        let body = HeadlessDecisionRequest {
            action: DecisionAction::Accept,
            mfa_response: Some(MfaResponse {
                webauthn_response: None,
                totp_code: Some("123456".into()),
            }),
        };
        let call = Call::new(Method::PUT, format!("/webapi/headless/{second}"))
            .json(&body)
            .map_err(|e| e.to_string())?
            .bearer(&token);
        let (status, _) = fetch(&ctx, 0, &call).await?;
        if status.is_success() {
            return Err("a one-time password approved a headless request".into());
        }
        ctx.board.bump("replayed");
        Ok(())
    });
}

pub fn id_hijack(setup: &mut Setup) {
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| remote_ls(ctx, "alice", 0));
    setup.attacker("mallory", |ctx| async move {
        let id = read_request_id(&ctx, "remote", 1).await;
        let body = HeadlessLoginRequest {
            user: "alice".into(),
            headless_id: id.clone(),
            ssh_pub_key: attacker_key(9),
            ttl: 60,
            scope: RequestScope { command: "ls".into(), ..RequestScope::default() },
        };
        let mut call = Call::new(Method::POST, "/webapi/headless/login")
            .json(&body)
            .map_err(|e| e.to_string())?;
        call.timeout = Some(Duration::from_secs(5));
        match fetch(&ctx, 0, &call).await? {
            (StatusCode::BAD_REQUEST, _) => {}
            other => {
                return Err(format!("a login with alice's ID and mallory's key got {other:?}"));
            }
        }
        let call = Call::new(Method::GET, format!("/webapi/headless/{id}"));
        let (status, _) = fetch(&ctx, 0, &call).await?;
        if status != StatusCode::UNAUTHORIZED {
            return Err(format!("reading alice's request without a session answered {status}"));
        }
        ctx.board.bump("hijack-tried");
        Ok(())
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        ctx.board.wait_until(|b| (b.count("hijack-tried") > 0).then_some(())).await;
        decide(&ctx, "alice", "alice-key", 0, &id, true).await.map(|_| ())
    });
}

/// Most logins mallory sends in the flood. The per-address burst is far smaller, so the flood
/// must be refused long before: answers lost to faults, or a restarted server's fresh rate
/// limiter (limits are per process), only postpone the refusal.
const FLOOD_REQUESTS: u16 = 400;

/// Logins mallory has in flight at once.
const FLOOD_BATCH: u16 = 10;

/// How long mallory waits for each login: long enough for a refusal to come back over the
/// slowest link the explorer draws; an accepted login would wait for a decision, and mallory
/// drops it instead.
const FLOOD_TIMEOUT: Duration = Duration::from_secs(2);

/// One of mallory's logins for alice, with key number `n`.
async fn flood_login(ctx: &HostCtx, n: u16) -> Result<StatusCode, String> {
    let key = attacker_key(n);
    let body = HeadlessLoginRequest {
        user: "alice".into(),
        headless_id: RequestId::derive(key.as_bytes()),
        ssh_pub_key: key,
        ttl: 60,
        scope: RequestScope::default(),
    };
    let mut call =
        Call::new(Method::POST, "/webapi/headless/login").json(&body).map_err(|e| e.to_string())?;
    call.timeout = Some(FLOOD_TIMEOUT);
    let started = tokio::time::Instant::now();
    let answer = client(ctx, 0).map_err(|e| e.to_string())?.fetch(&call).await;
    // A refused connection fails at once; mallory keeps the pace of the flood regardless.
    tokio::time::sleep_until(started + FLOOD_TIMEOUT).await;
    answer.map(|(status, _)| status).map_err(|e| e.to_string())
}

pub fn unauthenticated_flood(setup: &mut Setup) {
    setup.tick(super::MEDIUM_TICK);
    setup.user("alice", &["alice"]);
    setup.attacker("mallory", |ctx| async move {
        let mut limited = false;
        for batch in 0..FLOOD_REQUESTS / FLOOD_BATCH {
            let logins = (0..FLOOD_BATCH).map(|i| flood_login(&ctx, batch * FLOOD_BATCH + i));
            for answer in futures::future::join_all(logins).await {
                tracing::debug!(target: "hwa_sim::mallory", ?answer, "flood login");
                limited |= answer == Ok(StatusCode::TOO_MANY_REQUESTS);
            }
            if limited {
                break;
            }
        }
        if !limited {
            return Err(format!(
                "{FLOOD_REQUESTS} logins from one address were never rate limited"
            ));
        }
        ctx.board.bump("flooded");
        Ok(())
    });
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| async move {
        ctx.board.wait_until(|b| (b.count("flooded") > 0).then_some(())).await;
        remote_ls(ctx, "alice", 0).await
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        decide(&ctx, "alice", "alice-key", 0, &id, true).await.map(|_| ())
    });
    setup.expect_headless_records_at_most(1);
}

pub fn expired_approval(setup: &mut Setup) {
    setup.tick(super::LONG_TICK);
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| async move {
        match headless(&ctx, "alice", 0, MlockMode::BestEffort, "ls", true).await {
            Err(ClientError::Timeout) => Ok(()),
            other => Err(format!("a login nobody approved in time ended with {other:?}")),
        }
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        tokio::time::sleep(hwa_core::limits::REQUEST_TTL + Duration::from_secs(5)).await;
        if decide(&ctx, "alice", "alice-key", 0, &id, true).await? {
            return Err("an approval after the request expired was accepted".into());
        }
        Ok(())
    });
}
