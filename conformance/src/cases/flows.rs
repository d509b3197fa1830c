//! The everyday flows: an approved headless `ls`, the confirmation prompt and the ways to
//! select headless login, the flags it refuses, another user's request, a second decision.

use crate::plan::{Case, Plan, Role};

use super::{approve, approving_laptop, read_id, remote_ls, require, signed_up_laptop, wait_flag};

pub const CASES: &[Case] = &[
    Case {
        name: "headless_ls_approved",
        about: "alice's remote runs `hwa ls --headless` with no --user; she checks the details \
                and match code on her laptop and approves",
        requirements: &["HL-02", "HL-04", "HL-05", "HL-15", "HL-16", "HL-17"],
        build: headless_ls_approved,
    },
    Case {
        name: "confirm_prompt_and_triggers",
        about: "the prompt denies on the default answer; --skip-confirm and \
                HWA_HEADLESS_SKIP_CONFIRM skip it; HWA_HEADLESS=1 and --auth=headless select \
                headless login",
        requirements: &["HL-01", "HL-16"],
        build: confirm_prompt_and_triggers,
    },
    Case {
        name: "headless_flag_refusals",
        about: "--headless on another command, and with --auth=local, is refused naming the \
                conflict",
        requirements: &["HL-01"],
        build: headless_flag_refusals,
    },
    Case {
        name: "concurrent_denials_one_winner",
        about: "eight denials of one request sent at once: exactly one is accepted, the others \
                get already_decided",
        requirements: &["HL-14"],
        build: concurrent_denials_one_winner,
    },
    Case {
        name: "mlock_best_effort",
        about: "`--mlock=best_effort` goes on whatever the machine allows, and any memory-lock \
                warning says what to do",
        requirements: &["HL-06"],
        build: mlock_best_effort,
    },
    Case {
        name: "other_user_is_told",
        about: "bob tries to approve alice's request and is told it is hers; alice then approves",
        requirements: &["HL-12"],
        build: other_user_is_told,
    },
    Case {
        name: "second_decision_already_decided",
        about: "after alice approves, a second approval and a denial get already_decided",
        requirements: &["HL-14"],
        build: second_decision_already_decided,
    },
];

/// Largest certificate validity the client may report (SPEC HL-17: one minute).
const MAX_CERT_SECONDS: u64 = 60;

fn headless_ls_approved(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless"], &[]).wait().await;
        let out = out.ok("hwa ls --headless")?;
        let err = &out.stderr;
        require(err.contains("asking for the OS user `alice`"), "HL-02", || {
            format!("the default user is not announced:\n{err}")
        })?;
        require(err.contains("as user `alice`"), "HL-02", || format!("not alice's login:\n{err}"))?;
        let ids = m.board().printed_ids("remote");
        let id = ids.first().ok_or("HL-04: no approval URL on standard error")?;
        require(
            err.contains("hwa headless approve --user=alice --proxy=")
                && err.contains(&format!(" {id}")),
            "HL-04",
            || format!("the approve command is not on standard error:\n{err}"),
        )?;
        require(
            !out.stdout.contains("/web/headless/") && !out.stdout.contains("approve"),
            "HL-04",
            || format!("the URL or command leaked to standard output:\n{}", out.stdout),
        )?;
        require(out.stdout.starts_with("Node"), "HL-04", || {
            format!("standard output is not the node table:\n{}", out.stdout)
        })?;
        let seconds = err
            .split("valid for ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| format!("HL-17: no certificate validity reported:\n{err}"))?;
        require(seconds <= MAX_CERT_SECONDS, "HL-17", || {
            format!("the certificate is valid for {seconds} s, more than {MAX_CERT_SECONDS}")
        })?;
        m.board().bump("remote-done");
        Ok(())
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        let out = approve(&*m, "alice-key", &id, &[], &[], &["y"]).await.ok("headless approve")?;
        let err = &out.stderr;
        for field in [
            "user:            alice",
            "requested from:",
            "key:             SHA256:",
            "command:",
            "time left:",
            "match code:",
            "never approve a request you did not start",
        ] {
            require(err.contains(field), "HL-15", || {
                format!("the approver does not see `{field}`:\n{err}")
            })?;
        }
        require(err.contains(&id.to_string()), "HL-15", || format!("no request ID:\n{err}"))?;
        require(err.contains("Approve? [y/N]"), "HL-16", || format!("no confirmation:\n{err}"))?;
        let remote_code = m.board().printed_match_code("remote");
        let ours = m.board().printed_match_code("laptop");
        require(remote_code.is_some() && remote_code == ours, "HL-15", || {
            format!("match codes differ: remote {remote_code:?}, approver {ours:?}")
        })?;
        require(err.contains(&format!("approved request {id}")), "HL-16", || {
            format!("the approval is not confirmed:\n{err}")
        })?;
        Ok(())
    });
}

fn confirm_prompt_and_triggers(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        // 1: denied by the default answer.
        let first = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        require(first.exit_code != 0 && first.stderr.contains("denied"), "HL-16", || {
            format!("an empty answer did not deny: exit {}:\n{}", first.exit_code, first.stderr)
        })?;
        // 2: HWA_HEADLESS=1 selects headless login.
        let second = remote_ls(&*m, &["--user=alice"], &[("HWA_HEADLESS", "1")]).wait().await;
        second.ok("HL-01: hwa ls with HWA_HEADLESS=1")?;
        // 3: --auth=headless selects it too.
        let third = remote_ls(&*m, &["--auth=headless", "--user=alice"], &[]).wait().await;
        third.ok("HL-01: hwa ls --auth=headless")?;
        Ok(())
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        let out = approve(&*m, "alice-key", &id, &[], &[], &[""]).await.ok("approve")?;
        require(out.stderr.contains(&format!("denied request {id}")), "HL-16", || {
            format!("the default answer did not deny:\n{}", out.stderr)
        })?;
        let id = read_id(m.board(), "remote", 2).await;
        let out = approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await;
        let out = out.ok("HL-16: approve --skip-confirm")?;
        require(!out.stderr.contains("Approve? [y/N]"), "HL-16", || {
            format!("--skip-confirm still asked:\n{}", out.stderr)
        })?;
        let id = read_id(m.board(), "remote", 3).await;
        let vars = [("HWA_HEADLESS_SKIP_CONFIRM", "1")];
        let out = approve(&*m, "alice-key", &id, &[], &vars, &[]).await;
        let out = out.ok("HL-16: approve with HWA_HEADLESS_SKIP_CONFIRM=1")?;
        require(out.stderr.contains(&format!("approved request {id}")), "HL-16", || {
            format!("HWA_HEADLESS_SKIP_CONFIRM=1 did not approve:\n{}", out.stderr)
        })?;
        Ok(())
    });
}

fn headless_flag_refusals(plan: &mut Plan) {
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let proxy = format!("--proxy={}", m.proxy(0));
        let login = m.hwa(&["login", &proxy, "--headless"], &[], &[]).await;
        require(login.exit_code != 0 && login.stderr.contains("--headless"), "HL-01", || {
            format!(
                "`hwa login --headless` was not refused naming --headless: exit {}:\n{}",
                login.exit_code, login.stderr
            )
        })?;
        let local = m.hwa(&["ls", &proxy, "--headless", "--auth=local"], &[], &[]).await;
        require(
            local.exit_code != 0
                && local.stderr.contains("--headless")
                && local.stderr.contains("local"),
            "HL-01",
            || {
                format!(
                    "`--headless --auth=local` was not refused naming both: exit {}:\n{}",
                    local.exit_code, local.stderr
                )
            },
        )?;
        require(m.board().printed_ids("remote").is_empty(), "HL-01", || {
            "a refused command still asked for approval".into()
        })
    });
}

fn other_user_is_told(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.user("bob", &["bob"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        out.ok("alice's hwa ls --headless").map(|_| ())
    });
    signed_up_laptop(plan, "bobs-laptop", "bob", |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        let out = approve(&*m, "bob-key", &id, &["--skip-confirm"], &[], &[]).await;
        m.board().bump("bob-tried");
        require(out.exit_code != 0, "HL-12", || {
            format!("bob's approval of alice's request succeeded:\n{}", out.stderr)
        })?;
        let told = out.stderr.contains("logged in as bob")
            && (out.stderr.contains("another user") || out.stderr.contains("only the user who"));
        require(told, "HL-12", || {
            format!("bob is not told the request belongs to another user:\n{}", out.stderr)
        })?;
        require(!out.stderr.contains("match code:"), "HL-12", || {
            format!("bob was shown the details:\n{}", out.stderr)
        })
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        wait_flag(m.board(), "bob-tried", 1).await;
        approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await.ok("alice approves")?;
        Ok(())
    });
}

fn second_decision_already_decided(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        out.ok("hwa ls --headless").map(|_| ())
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await.ok("first approval")?;
        for (what, answers) in [("approval", ["y"]), ("denial", ["n"])] {
            let again = approve(&*m, "alice-key", &id, &[], &[], &answers).await;
            require(again.exit_code != 0, "HL-14", || {
                format!("a second {what} succeeded:\n{}", again.stderr)
            })?;
            require(again.stderr.contains("already"), "HL-14", || {
                format!("a second {what} is not told already_decided:\n{}", again.stderr)
            })?;
        }
        Ok(())
    });
}

/// Words one of which every memory-lock warning must carry: what to do about it.
const MLOCK_ADVICE: &[&str] = &["ulimit -l", "limits.conf", "only supported on Linux"];

fn mlock_best_effort(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice", "--mlock=best_effort"], &[]);
        let out = out.wait().await.ok("HL-06: hwa ls --headless --mlock=best_effort")?;
        for line in out.stderr.lines().filter(|l| l.contains("warning") && l.contains("lock")) {
            require(MLOCK_ADVICE.iter().any(|a| line.contains(a)), "HL-06", || {
                format!("a memory-lock warning does not say what to do: {line}")
            })?;
        }
        Ok(())
    });
    approving_laptop(plan, 1);
}

/// How many decisions race in `concurrent_denials_one_winner`.
const RACING_DECISIONS: usize = 8;

fn concurrent_denials_one_winner(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        require(out.exit_code != 0 && out.stderr.contains("denied"), "HL-14", || {
            format!("the raced request did not end denied: exit {}:\n{}", out.exit_code, out.stderr)
        })
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let token = m.stolen_token(0)?;
        let id = read_id(m.board(), "remote", 1).await;
        let path = format!("/webapi/headless/{id}");
        // Showing interest makes the record; then the denials race (a denial needs no
        // assertion, so they reach the compare-and-swap together).
        let (status, text) = m.http(0, "GET", &path, None, Some(&token)).await?;
        require(status == 200, "HL-14", || format!("GET {path}: {status} {text}"))?;
        let body = serde_json::json!({ "action": "denied" }).to_string();
        let calls = (0..RACING_DECISIONS)
            .map(|_| m.http(0, "PUT", &path, Some(body.clone()), Some(&token)));
        let answers = futures::future::join_all(calls).await;
        let mut accepted = 0;
        for answer in answers {
            let (status, text) = answer?;
            if (200..300).contains(&status) {
                accepted += 1;
            } else {
                require(text.contains("already_decided"), "HL-14", || {
                    format!("a losing decision got {status} {text}, not already_decided")
                })?;
            }
        }
        require(accepted == 1, "HL-14", || {
            format!("{accepted} of {RACING_DECISIONS} racing denials were accepted")
        })
    });
}
