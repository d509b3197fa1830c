//! The cluster's settings: `headless: false` enforced by the server and the client,
//! `connector_name: headless` as the default, `hwactl get`/`create -f` of the preference, a
//! lock that blocks issuance, and the audit log.

use serde_json::json;

use crate::plan::{Case, Plan, Role};

use super::{approve, approving_laptop, read_id, remote_ls, require, signed_up_laptop};

pub const CASES: &[Case] = &[
    Case {
        name: "headless_disabled",
        about: "with `headless: false` the server refuses a raw login and the client refuses \
                `ls --headless` with a clear error",
        requirements: &["HL-22"],
        build: headless_disabled,
    },
    Case {
        name: "connector_headless_default",
        about: "with `connector_name: headless` a plain `hwa ls` logs in headlessly",
        requirements: &["HL-23"],
        build: connector_headless_default,
    },
    Case {
        name: "preference_get_and_create",
        about: "`hwactl get cluster_auth_preference` prints the guide's YAML; `create -f` \
                rejects a bad field naming it and a contradiction",
        requirements: &["HL-22", "HL-23", "HL-24"],
        build: preference_get_and_create,
    },
    Case {
        name: "lock_blocks_issuance",
        about: "the administrator locks alice while her request waits; her approval yields no \
                certificate",
        requirements: &["HL-18"],
        build: lock_blocks_issuance,
    },
    Case {
        name: "audit_events_without_secrets",
        about: "a denied and an approved request leave requested, rejected, approved and \
                certificate events, with addresses and without secrets",
        requirements: &["HL-25"],
        build: audit_events_without_secrets,
    },
];

fn preference_yaml(extra: &str) -> String {
    format!(
        "kind: cluster_auth_preference\nversion: v2\nmetadata:\n  name: cluster-auth-preference\n\
         spec:\n  type: local\n  second_factors: [\"webauthn\"]\n  webauthn:\n    \
         rp_id: {{rp_id}}\n{extra}"
    )
}

fn headless_disabled(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.preference(&preference_yaml("  headless: false\n"));
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        require(
            out.exit_code != 0 && out.stderr.to_lowercase().contains("headless"),
            "HL-22",
            || {
                format!(
                    "ls --headless on a disabled cluster: exit {}:\n{}",
                    out.exit_code, out.stderr
                )
            },
        )?;
        let key = "ssh-ed25519 AAAA remote";
        let id = hwa_core::id::RequestId::derive(key.as_bytes()).to_string();
        let body = json!({ "user": "alice", "headless_id": id, "ssh_pub_key": key }).to_string();
        let (status, text) = m
            .http(0, "POST", "/webapi/headless/login", Some(body), None)
            .await
            .map_err(|e| format!("HL-22: the raw login got no answer: {e}"))?;
        require((400..500).contains(&status) && status != 429, "HL-22", || {
            format!("a raw headless login on a disabled cluster answered {status} {text}")
        })
    });
}

fn connector_headless_default(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.preference(&preference_yaml("  connector_name: headless\n"));
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--user=alice"], &[]).wait().await.ok("HL-23: plain hwa ls")?;
        require(!m.board().printed_ids("remote").is_empty(), "HL-23", || {
            format!("plain ls did not log in headlessly:\n{}", out.stderr)
        })
    });
    approving_laptop(plan, 1);
}

fn preference_get_and_create(plan: &mut Plan) {
    plan.machine("console", "admin", Role::Approver, |m| async move {
        let got = m.admin(&["get", "cluster_auth_preference"], None).await?;
        let yaml = got.ok("HL-24: hwactl get cluster_auth_preference")?.stdout;
        for line in ["kind: cluster_auth_preference", "version: v2", "spec:", "webauthn:", "rp_id:"]
        {
            require(yaml.contains(line), "HL-24", || format!("no `{line}` in:\n{yaml}"))?;
        }
        let bad = preference_yaml("  headles: false\n").replace("{rp_id}", "localhost");
        let out = m.admin(&["create", "-f", "-"], Some(&bad)).await?;
        require(out.exit_code != 0 && out.stderr.contains("headles"), "HL-24", || {
            format!(
                "a misspelt field was not refused naming it: exit {}:\n{}",
                out.exit_code, out.stderr
            )
        })?;
        let contradiction = preference_yaml("  headless: false\n  connector_name: headless\n")
            .replace("{rp_id}", "localhost");
        let out = m.admin(&["create", "-f", "-"], Some(&contradiction)).await?;
        require(out.exit_code != 0, "HL-23", || {
            "connector_name: headless with headless: false was accepted".into()
        })?;
        let no_webauthn = "kind: cluster_auth_preference\nversion: v2\nmetadata:\n  \
            name: cluster-auth-preference\nspec:\n  type: local\n  second_factors: []\n  \
            headless: true\n";
        let out = m.admin(&["create", "-f", "-"], Some(no_webauthn)).await?;
        require(out.exit_code != 0, "HL-22", || "headless: true without webauthn accepted".into())?;
        let again = m.admin(&["get", "cluster_auth_preference"], None).await?.stdout;
        require(again == yaml, "HL-24", || {
            format!("refused input changed the preference:\n{again}")
        })
    });
}

fn lock_blocks_issuance(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        // A refused approval leaves the request pending; the login waits until the approver
        // has seen the refusal, and must not have got a certificate by then.
        let run = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait();
        let checked = super::wait_flag(m.board(), "lock-checked", 1);
        futures::pin_mut!(run, checked);
        match futures::future::select(run, checked).await {
            futures::future::Either::Left((out, _)) => require(
                out.exit_code != 0 && !out.stderr.contains("certificate is valid"),
                "HL-18",
                || format!("a locked user's login got a certificate:\n{}", out.stderr),
            ),
            futures::future::Either::Right(((), _)) => Ok(()),
        }
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        m.admin(&["locks", "add", "--user", "alice", "--message", "conformance"], None)
            .await?
            .ok("hwactl locks add")?;
        let out = approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await;
        m.board().bump("lock-checked");
        require(out.exit_code != 0, "HL-18", || {
            format!("a locked user's approval succeeded:\n{}", out.stderr)
        })
    });
}

/// Words that would show a secret in the audit log.
const SECRET_MARKERS: &[&str] =
    &["ssh-ed25519", "-cert-v01@openssh.com", "clientDataJSON", "signature", "BEGIN"];

fn audit_events_without_secrets(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let denied = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        require(denied.exit_code != 0, "HL-25", || "the first request was not denied".into())?;
        remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await.ok("second ls")?;
        m.board().bump("remote-done");
        Ok(())
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        approve(&*m, "alice-key", &id, &[], &[], &["n"]).await.ok("deny")?;
        let id = read_id(m.board(), "remote", 2).await;
        approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await.ok("approve")?;
        super::wait_flag(m.board(), "remote-done", 1).await;
        let token = m.stolen_token(0)?;
        let log = m.admin(&["audit", "--json"], None).await?.ok("hwactl audit --json")?.stdout;
        for event in ["requested", "rejected", "approved", "certificate"] {
            require(log.to_lowercase().contains(event), "HL-25", || {
                format!("no `{event}` event in the audit log:\n{log}")
            })?;
        }
        require(log.contains("127.0.0.1"), "HL-25", || format!("no addresses:\n{log}"))?;
        for marker in SECRET_MARKERS.iter().copied().chain([token.as_str()]) {
            require(!log.contains(marker), "HL-25", || {
                format!("the audit log holds a secret (`{marker}`)")
            })?;
        }
        Ok(())
    });
}
