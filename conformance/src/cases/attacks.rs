//! Attackers speaking raw HTTP: request IDs not derived from their key (and the derivation
//! vectors), approvals with a stolen session token but no fresh assertion, and a burst on the
//! unauthenticated login endpoint.

use hwa_core::id::RequestId;
use serde_json::json;

use crate::catalog::Catalog;
use crate::plan::{Case, Plan, Role};

use super::{approve, read_id, remote_ls, require, signed_up_laptop, wait_flag};

pub const CASES: &[Case] = &[
    Case {
        name: "id_vectors_and_hijack",
        about: "each catalog vector derives its ID, and the server refuses each vector's ID \
                with another key",
        requirements: &["HL-03", "HL-09", "ID-VECTORS"],
        build: id_vectors_and_hijack,
    },
    Case {
        name: "stolen_session_without_assertion",
        about: "mallory holds alice's session token and tries to approve with a one-time \
                password, then with no second factor; alice then approves",
        requirements: &["HL-13"],
        build: stolen_session_without_assertion,
    },
    Case {
        name: "other_scope_assertions_refused",
        about: "alice is phished into answering a login and a per-session MFA challenge; \
                mallory, holding her session token, presents each to approve her request",
        requirements: &["HL-13", "WA-CHALLENGE"],
        build: other_scope_assertions_refused,
    },
    Case {
        name: "login_endpoint_rate_limited",
        about: "a burst on the unauthenticated login endpoint from one address gets 429",
        requirements: &["HL-07"],
        build: login_endpoint_rate_limited,
    },
];

fn login_body(user: &str, id: &str, key: &str) -> String {
    json!({ "user": user, "headless_id": id, "ssh_pub_key": key, "ttl": 60 }).to_string()
}

fn id_vectors_and_hijack(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("mallory", "mallory", Role::Attacker, |m| async move {
        let catalog = Catalog::shipped().map_err(|e| e.to_string())?;
        let n = catalog.vectors.len();
        for (i, v) in catalog.vectors.iter().enumerate() {
            let derived = RequestId::derive(v.key.as_bytes()).to_string();
            require(derived == v.id, "ID-VECTORS", || {
                format!("key {:?} derives {derived}, the vector says {}", v.key, v.id)
            })?;
            // The vector's ID with the next vector's key: an ID hijack.
            let other = &catalog.vectors[(i + 1) % n].key;
            let body = login_body("alice", &v.id, other);
            let (status, text) = m
                .http(0, "POST", "/webapi/headless/login", Some(body), None)
                .await
                .map_err(|e| format!("HL-09: the login with a foreign ID got no answer: {e}"))?;
            require((400..500).contains(&status) && status != 429, "HL-09", || {
                format!("ID {} with key {other:?} answered {status} {text}", v.id)
            })?;
        }
        Ok(())
    });
}

fn stolen_session_without_assertion(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        out.ok("alice's hwa ls --headless").map(|_| ())
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        m.board().capture("token", m.stolen_token(0)?);
        let id = read_id(m.board(), "remote", 1).await;
        wait_flag(m.board(), "mallory-done", 1).await;
        approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await.ok("alice approves")?;
        Ok(())
    });
    plan.machine("mallory", "mallory", Role::Attacker, |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        let token = m.board().wait_until(|b| b.captured("token").first().cloned()).await;
        let path = format!("/webapi/headless/{id}");
        let attempts = [
            (
                "a one-time password",
                json!({ "action": "accept",
                "mfa_response": { "totp_code": "123456" } }),
            ),
            ("no second factor", json!({ "action": "accept" })),
            ("an empty second factor", json!({ "action": "accept", "mfa_response": {} })),
        ];
        for (what, body) in attempts {
            let (status, text) =
                m.http(0, "PUT", &path, Some(body.to_string()), Some(&token)).await?;
            require(!(200..300).contains(&status), "HL-13", || {
                format!("an approval with {what} was accepted: {status} {text}")
            })?;
        }
        m.board().bump("mallory-done");
        Ok(())
    });
}

/// More calls than the burst the endpoint allows per address.
const BURST: u32 = hwa_core::limits::UNAUTH_RATE_BURST + 5;

fn login_endpoint_rate_limited(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("mallory", "mallory", Role::Attacker, |m| async move {
        let key = "ssh-ed25519 AAAA mallory";
        let wrong = RequestId::derive(b"another key").to_string();
        let mut limited = None;
        for n in 1..=BURST {
            let body = login_body("alice", &wrong, key);
            let (status, text) =
                m.http(0, "POST", "/webapi/headless/login", Some(body), None).await?;
            if status == 429 {
                limited = Some((n, text));
                break;
            }
        }
        let (n, text) = limited.ok_or_else(|| format!("HL-07: {BURST} logins, none limited"))?;
        require(text.contains("rate_limited"), "HL-07", || {
            format!("429 without its code: {text}")
        })?;
        require(n > 1, "HL-07", || "the very first call was limited".into())
    });
}

fn other_scope_assertions_refused(plan: &mut Plan) {
    plan.user("alice", &["alice"]);
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let out = remote_ls(&*m, &["--headless", "--user=alice"], &[]).wait().await;
        out.ok("alice's hwa ls --headless").map(|_| ())
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        m.board().capture("token", m.stolen_token(0)?);
        // The phishing page: a login challenge, answered by alice's authenticator.
        let begin = json!({ "user": "alice", "password": crate::live::LIVE_PASSWORD });
        let (status, text) =
            m.http(0, "POST", "/webapi/mfa/login/begin", Some(begin.to_string()), None).await?;
        require(status == 200, "HL-13", || format!("login/begin answered {status} {text}"))?;
        let challenge: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("login/begin answer: {e}"))?;
        let options = challenge.get("webauthn_challenge").ok_or("no webauthn_challenge")?;
        let assertion = m.authenticate("alice-key", options, 0).await?;
        m.board().capture("phished", assertion.to_string());
        // And a per-session MFA challenge, asked for with her own session.
        let token = m.stolen_token(0)?;
        let scope = json!({ "scope": "session_mfa" }).to_string();
        let (status, text) = m
            .http(0, "POST", "/webapi/mfa/authenticatechallenge", Some(scope), Some(&token))
            .await?;
        require(status == 200, "HL-13", || format!("authenticatechallenge: {status} {text}"))?;
        let challenge: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("authenticatechallenge: {e}"))?;
        let options = challenge.get("webauthn_challenge").ok_or("no webauthn_challenge")?;
        let assertion = m.authenticate("alice-key", options, 0).await?;
        m.board().capture("phished", assertion.to_string());
        // alice opens her request, which makes it pending: only a pending request can be
        // approved, so this is what gives the phished assertions something to approve.
        let id = read_id(m.board(), "remote", 1).await;
        let (status, text) =
            m.http(0, "GET", &format!("/webapi/headless/{id}"), None, Some(&token)).await?;
        require(status == 200, "HL-12", || format!("alice's view answered {status} {text}"))?;
        m.board().bump("viewed");
        wait_flag(m.board(), "mallory-done", 1).await;
        approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await.ok("alice approves")?;
        Ok(())
    });
    plan.machine("mallory", "mallory", Role::Attacker, |m| async move {
        let id = read_id(m.board(), "remote", 1).await;
        let token = m.board().wait_until(|b| b.captured("token").first().cloned()).await;
        wait_flag(m.board(), "viewed", 1).await;
        let phished = m
            .board()
            .wait_until(|b| (b.captured("phished").len() >= 2).then(|| b.captured("phished")));
        let phished = phished.await;
        let path = format!("/webapi/headless/{id}");
        let mut verdict = Ok(());
        for (what, assertion) in ["a login", "a per-session MFA"].iter().zip(phished) {
            let assertion: serde_json::Value =
                serde_json::from_str(&assertion).map_err(|e| e.to_string())?;
            let body = json!({ "action": "accept",
                "mfa_response": { "webauthn_response": assertion } });
            let (status, text) =
                m.http(0, "PUT", &path, Some(body.to_string()), Some(&token)).await?;
            // Refused as a second factor, not for some other reason that would hide a
            // missing scope check.
            if verdict.is_ok() {
                verdict = require(
                    !(200..300).contains(&status) && text.contains("\"mfa_failed\""),
                    "HL-13",
                    || format!("an assertion for {what} challenge was answered {status} {text}"),
                );
            }
        }
        m.board().bump("mallory-done");
        verdict
    });
}
