//! The scenarios the simulator knows, each a cluster and the programs of its client hosts.
//!
//! Names are stable: `hwa-sim run --scenario NAME`, the conformance suite and CI refer to them.
//! Races are written so that both orders are possible and the seed picks one (turmoil's
//! seeded message latencies and host order); the checker holds every order to the same rules.

use hwa_core::api::ErrorCode;
use hwa_core::memlock::{MlockMode, SimLockBehaviour};

use crate::board::Observation;
use crate::harness::{HostCtx, Scenario, Setup};

mod adversaries;
pub mod steps;

use steps::{decide, headless, read_request_id, sign_up};

/// Every scenario, in the order `hwa-sim list` shows them.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "happy_path",
        about: "alice runs `ls --headless` on a remote host and approves it from her laptop",
        requirements: &["HL-03", "HL-04", "HL-05", "HL-10", "HL-13", "HL-16", "HL-17"],
        build: happy_path,
    },
    Scenario {
        name: "cross_server_decision",
        about: "the login waits on auth1, the approval goes through auth2; push reaches it",
        requirements: &["HL-11"],
        build: cross_server_decision,
    },
    Scenario {
        name: "approve_deny_race",
        about: "alice's laptop approves while her phone denies the same request",
        requirements: &["HL-14"],
        build: approve_deny_race,
    },
    Scenario {
        name: "approve_approve_race",
        about: "two of alice's devices approve the same request at once",
        requirements: &["HL-14", "HL-17"],
        build: approve_approve_race,
    },
    Scenario {
        name: "decision_expiry_race",
        about: "the approval arrives just as the 3-minute lifetime ends",
        requirements: &["HL-10", "HL-17"],
        build: decision_expiry_race,
    },
    Scenario {
        name: "decision_crash_race",
        about: "the auth server holding the login crashes as the decision is taken",
        requirements: &["HL-11", "HL-14"],
        build: decision_crash_race,
    },
    Scenario {
        name: "memlock_outcomes",
        about: "headless logins where memory locking succeeds, is limited, refused or unsupported",
        requirements: &["HL-06"],
        build: memlock_outcomes,
    },
    Scenario {
        name: "other_user_approves",
        about: "bob tries to approve alice's request, then alice approves it",
        requirements: &["HL-12"],
        build: adversaries::other_user_approves,
    },
    Scenario {
        name: "phishing",
        about: "mallory starts a request for alice and sends her the link; alice checks the code",
        requirements: &["HL-15"],
        build: adversaries::phishing,
    },
    Scenario {
        name: "assertion_replay",
        about: "mallory steals alice's session and an old assertion, and replays it elsewhere",
        requirements: &["HL-13"],
        build: adversaries::assertion_replay,
    },
    Scenario {
        name: "id_hijack",
        about: "mallory races alice's request ID with a key of its own, and re-sends alice's login",
        requirements: &["HL-09"],
        build: adversaries::id_hijack,
    },
    Scenario {
        name: "unauthenticated_flood",
        about: "mallory floods the login endpoint; nothing is stored and alice still gets in",
        requirements: &["HL-07", "HL-08"],
        build: adversaries::unauthenticated_flood,
    },
    Scenario {
        name: "expired_approval",
        about: "alice approves after the request expired; the login times out",
        requirements: &["HL-10"],
        build: adversaries::expired_approval,
    },
    Scenario {
        name: "security_key_pin",
        about: "alice signs up and approves with a USB security key, mistyping its PIN once",
        requirements: &["HL-13", "HL-16"],
        build: security_key_pin,
    },
];

/// Looks a scenario up by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.name == name)
}

/// The scenarios `hwa-sim race` runs.
pub const RACES: &[&str] =
    &["approve_deny_race", "approve_approve_race", "decision_expiry_race", "decision_crash_race"];

/// A remote host's headless `ls` that must end with a certificate.
async fn remote_ls(ctx: HostCtx, user: &'static str, proxy: usize) -> Result<(), String> {
    headless(&ctx, user, proxy, MlockMode::BestEffort, "ls", true)
        .await
        .map(|_| ())
        .map_err(|e| format!("{user}'s headless ls failed: {e}"))
}

/// Alice on her laptop: sign up, log in, approve the first request the remote host prints.
fn alice_laptop(setup: &mut Setup, proxy: usize, approve: bool) {
    setup.approver("laptop", "alice", move |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", proxy).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        decide(&ctx, "alice", "alice-key", proxy, &id, approve).await?;
        Ok(())
    });
}

fn happy_path(setup: &mut Setup) {
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| remote_ls(ctx, "alice", 0));
    alice_laptop(setup, 0, true);
}

/// The laptop's authenticator is a security key with a PIN, reached through the client's CTAP2
/// ceremonies: signup and login type the right PIN, the approval a wrong one first.
fn security_key_pin(setup: &mut Setup) {
    const KEY: &str = "usb:alice-key";
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| remote_ls(ctx, "alice", 0));
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", KEY, 0).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        if !steps::decide_typing(&ctx, "alice", KEY, 0, &id, true, &["0000"]).await? {
            return Err("the approval with the right PIN after a wrong one was refused".into());
        }
        let said = ctx.board.stderr("laptop");
        if !said.contains("wrong PIN; 7 tries left") {
            return Err(format!("the wrong PIN was not asked again with the tries left: {said}"));
        }
        let key = ctx.keyring.security_key("alice-key", ctx.seed);
        match key.pin_retries().await {
            8 => Ok(()),
            n => Err(format!("the right PIN left the key with {n} tries instead of 8")),
        }
    });
}

fn cross_server_decision(setup: &mut Setup) {
    setup.auth_servers(2);
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| remote_ls(ctx, "alice", 0));
    alice_laptop(setup, 1, true);
}

/// Two devices of alice decide the same request; `second_approves` picks approve or deny.
fn two_devices(setup: &mut Setup, second_approves: bool) {
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| async move {
        // Either decision may win: a certificate or a denial are both correct endings.
        match headless(&ctx, "alice", 0, MlockMode::BestEffort, "ls", true).await {
            Ok(_) => Ok(()),
            Err(hwa_client::ClientError::Denied) => Ok(()),
            Err(e) => Err(format!("the raced login ended badly: {e}")),
        }
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        ctx.board.bump("ready");
        let id = read_request_id(&ctx, "remote", 1).await;
        ctx.board.wait_until(|b| (b.count("ready") >= 2).then_some(())).await;
        decide(&ctx, "alice", "alice-key", 0, &id, true).await.map(|_| ())
    });
    setup.approver("phone", "alice", move |ctx| async move {
        ctx.board.wait_until(|b| (b.count("logged-in:alice:laptop") > 0).then_some(())).await;
        steps::log_in(&ctx, "alice", "alice-key", 0).await?;
        ctx.board.bump("ready");
        let id = read_request_id(&ctx, "remote", 1).await;
        ctx.board.wait_until(|b| (b.count("ready") >= 2).then_some(())).await;
        decide(&ctx, "alice", "alice-key", 0, &id, second_approves).await.map(|_| ())
    });
    setup.expect_exactly_one_decision_accepted();
}

fn approve_deny_race(setup: &mut Setup) {
    two_devices(setup, false);
}

fn approve_approve_race(setup: &mut Setup) {
    two_devices(setup, true);
}

/// Step length for scenarios that wait out the request lifetime: fine enough to place an
/// approval within the last seconds, coarse enough to simulate three minutes quickly.
/// Step length for scenarios that wait seconds rather than milliseconds.
pub(crate) const MEDIUM_TICK: std::time::Duration = std::time::Duration::from_millis(5);

pub(crate) const LONG_TICK: std::time::Duration = std::time::Duration::from_millis(20);

fn decision_expiry_race(setup: &mut Setup) {
    setup.tick(LONG_TICK);
    setup.user("alice", &["alice"]);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| async move {
        match headless(&ctx, "alice", 0, MlockMode::BestEffort, "ls", true).await {
            Ok(_) => Ok(()),
            Err(hwa_client::ClientError::Timeout) => Ok(()),
            Err(e) => Err(format!("the login racing its expiry ended badly: {e}")),
        }
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        // Wait until a moment before the request expires, chosen by the seed, then approve.
        let printed_at = ctx.now_ms();
        let lifetime = hwa_core::limits::REQUEST_TTL.as_millis() as u64;
        let wait = lifetime.saturating_sub(1_500) + ctx.seed % 3_000;
        tokio::time::sleep(std::time::Duration::from_millis(
            wait.saturating_sub(ctx.now_ms() - printed_at),
        ))
        .await;
        decide(&ctx, "alice", "alice-key", 0, &id, true).await.map(|_| ())
    });
}

fn decision_crash_race(setup: &mut Setup) {
    setup.user("alice", &["alice"]);
    setup.auth_servers(2);
    setup.remote("remote", "alice", SimLockBehaviour::Succeed, |ctx| async move {
        match headless(&ctx, "alice", 0, MlockMode::BestEffort, "ls", true).await {
            // The server it waited on may crash: the client must end with a clear error.
            Ok(_) => Ok(()),
            Err(
                e @ (hwa_client::ClientError::Transport { .. }
                | hwa_client::ClientError::Connect { .. }),
            ) => {
                ctx.board.bump(&format!("lost-connection: {e}"));
                Ok(())
            }
            Err(e) => Err(format!("the login whose server crashed ended badly: {e}")),
        }
    });
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 1).await?;
        let id = read_request_id(&ctx, "remote", 1).await;
        ctx.board.bump("deciding");
        decide(&ctx, "alice", "alice-key", 1, &id, true).await.map(|_| ())
    });
    setup.crash_when("deciding", &crate::harness::auth_server_name(1));
}

fn memlock_outcomes(setup: &mut Setup) {
    setup.user("alice", &["alice"]);
    let hosts: [(&str, SimLockBehaviour, MlockMode, bool); 6] = [
        ("locked", SimLockBehaviour::Succeed, MlockMode::Strict, true),
        ("limited", SimLockBehaviour::FiniteLimit { bytes: 8 << 20 }, MlockMode::BestEffort, true),
        ("eperm", SimLockBehaviour::PermissionDenied, MlockMode::BestEffort, true),
        ("enomem", SimLockBehaviour::OutOfMemory, MlockMode::BestEffort, true),
        ("macos", SimLockBehaviour::UnsupportedOs, MlockMode::BestEffort, true),
        ("strict", SimLockBehaviour::PermissionDenied, MlockMode::Strict, false),
    ];
    for (name, behaviour, mode, proceeds) in hosts {
        setup.remote(name, "alice", behaviour, move |ctx| async move {
            let result = headless(&ctx, "alice", 0, mode, "ls", true).await;
            let stderr = ctx.board.stderr(name);
            match (result, proceeds) {
                (Ok(_), true) => {}
                (Err(hwa_client::ClientError::Mlock(message)), false) => {
                    if !message.contains("ulimit -l") {
                        return Err(format!(
                            "strict failure on {name} does not say what to do: {message}"
                        ));
                    }
                    if !ctx.board.printed_ids(name).is_empty() {
                        return Err(format!(
                            "{name} asked for approval although strict locking failed"
                        ));
                    }
                }
                (other, _) => {
                    return Err(format!("memory locking on {name}: unexpected {other:?}"));
                }
            }
            let advice = match name {
                "eperm" | "enomem" => Some("ulimit -l"),
                "macos" => Some("only supported on Linux"),
                "limited" => Some("limit"),
                _ => None,
            };
            if let Some(advice) = advice
                && !stderr.contains(advice)
            {
                return Err(format!("{name}: the warning does not say `{advice}`:\n{stderr}"));
            }
            Ok(())
        });
    }
    setup.approver("laptop", "alice", |ctx| async move {
        sign_up(&ctx, "alice", "alice-key", 0).await?;
        for name in ["locked", "limited", "eperm", "enomem", "macos"] {
            let id = read_request_id(&ctx, name, 1).await;
            decide(&ctx, "alice", "alice-key", 0, &id, true).await?;
        }
        Ok(())
    });
}

impl Setup {
    /// After the run, exactly one decision attempt was accepted; or none was seen accepted
    /// because the winner's answer was lost on the way back and its retry was told the request
    /// was already decided. (That the store holds one decision is the checker's invariant.)
    pub fn expect_exactly_one_decision_accepted(&mut self) {
        self.expect("exactly one decision accepted", |board| {
            let decisions: Vec<(bool, bool)> = board
                .observations()
                .iter()
                .filter_map(|o| match o {
                    Observation::Decision { accepted, answer_lost, .. } => {
                        Some((*accepted, *answer_lost))
                    }
                    _ => None,
                })
                .collect();
            let accepted = decisions.iter().filter(|(accepted, _)| *accepted).count();
            let lost = decisions.iter().any(|(_, lost)| *lost);
            match accepted {
                1 => Ok(()),
                0 if lost => Ok(()),
                n => Err(format!("{n} decisions were accepted")),
            }
        });
    }
}

/// The error code of the last failed login seen on `host`.
pub fn failed_code(ctx: &HostCtx, host: &str) -> Option<ErrorCode> {
    ctx.board.observations().iter().rev().find_map(|o| match o {
        Observation::LoginFailed { host: h, code, .. } if h == host => *code,
        _ => None,
    })
}
