//! SSH through the proxy to real nodes after a headless approval: per-session MFA met by the
//! approval, access rules applied after it, and certificates scoped to what the command needs.
//!
//! The simulated cluster has no SSH nodes (see `data/skips.toml`), so these run live.

use crate::plan::{Case, NODE_LOGIN, Plan, Role};

use super::{approve, approving_laptop, read_id, require, signed_up_laptop};

pub const CASES: &[Case] = &[
    Case {
        name: "ssh_headless_meets_session_mfa",
        about: "with a role requiring per-session MFA, `hwa ssh --headless` runs its command \
                after one approval, and `hwa scp --headless` copies from node1 to node2 after \
                one approval",
        requirements: &["HL-19"],
        build: ssh_headless_meets_session_mfa,
    },
    Case {
        name: "ssh_login_denied_after_approval",
        about: "an approved `hwa ssh --headless nobody@node1` is refused, naming the login and \
                the logins the role permits",
        requirements: &["HL-20"],
        build: ssh_login_denied_after_approval,
    },
    Case {
        name: "ssh_scope_is_what_the_command_needs",
        about: "the approver sees exactly the login and node(s) the command needs and the \
                client's address; the approved command runs on that node",
        requirements: &["HL-21"],
        build: ssh_scope_is_what_the_command_needs,
    },
];

/// A role requiring per-session MFA on every node, with the user's own logins.
const MFA_ROLE: &str = "kind: role\nversion: v1\nmetadata:\n  name: session-mfa\nspec:\n  \
                        logins: ['{{internal.logins}}']\n  node_labels:\n    '*': ['*']\n  \
                        require_session_mfa: true\n";

/// `hwa <command> --headless --proxy=P --user=alice args...` on the remote, to its end.
async fn remote(
    m: &dyn crate::target::Machine,
    command: &str,
    args: &[&str],
) -> crate::target::CommandOutput {
    let proxy = format!("--proxy={}", m.proxy(0));
    let mut all = vec![command, "--headless", proxy.as_str(), "--user=alice"];
    all.extend_from_slice(args);
    m.hwa(&all, &[], &[]).await
}

fn ssh_headless_meets_session_mfa(plan: &mut Plan) {
    plan.role(MFA_ROLE);
    plan.user_with_roles("alice", &[NODE_LOGIN], &["session-mfa"]);
    plan.node("node1", "env=dev");
    plan.node("node2", "env=dev");
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let login = m.node_login()?;
        let out = remote(&*m, "ssh", &[&format!("{login}@node1"), "echo", "hl19-ran"]).await;
        let out = out.ok("hwa ssh --headless")?;
        require(out.stdout.trim() == "hl19-ran", "HL-19", || {
            format!("the command did not run after the approval:\n{}", out.stdout)
        })?;
        require(m.board().printed_ids("remote").len() == 1, "HL-19", || {
            "ssh asked for more than one approval".to_owned()
        })?;

        let dir = tempfile::tempdir().map_err(|e| format!("no scratch directory: {e}"))?;
        let source = dir.path().join("from-node1.txt");
        std::fs::write(&source, "copied once\n").map_err(|e| e.to_string())?;
        let from = format!("{login}@node1:{}", source.display());
        let to = format!("{login}@node2:{}", dir.path().join("on-node2.txt").display());
        remote(&*m, "scp", &[&from, &to]).await.ok("hwa scp --headless node1 to node2")?;
        let copied = std::fs::read_to_string(dir.path().join("on-node2.txt")).unwrap_or_default();
        require(copied == "copied once\n", "HL-19", || format!("the copy holds {copied:?}"))?;
        require(m.board().printed_ids("remote").len() == 2, "HL-19", || {
            "scp between two nodes asked for more than one approval".to_owned()
        })?;
        Ok(())
    });
    approving_laptop(plan, 2);
}

fn ssh_login_denied_after_approval(plan: &mut Plan) {
    plan.user("alice", &[NODE_LOGIN]);
    plan.node("node1", "env=dev");
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let login = m.node_login()?;
        let out = remote(&*m, "ssh", &["nobody@node1", "id"]).await;
        require(out.exit_code != 0, "HL-20", || {
            format!("a login the role does not permit ran:\n{}", out.stdout)
        })?;
        let err = &out.stderr;
        require(
            err.contains("may not use login(s) nobody") && err.contains(&format!("[{login}]")),
            "HL-20",
            || format!("the refusal does not name the login and the permitted ones:\n{err}"),
        )?;
        require(!m.board().printed_ids("remote").is_empty(), "HL-20", || {
            "refused before any approval; the rule must apply after it".to_owned()
        })?;
        Ok(())
    });
    approving_laptop(plan, 1);
}

fn ssh_scope_is_what_the_command_needs(plan: &mut Plan) {
    plan.user("alice", &[NODE_LOGIN]);
    plan.node("node1", "env=dev");
    plan.node("node2", "env=dev");
    plan.machine("remote", "alice", Role::Remote, |m| async move {
        let login = m.node_login()?;
        let out = remote(&*m, "ssh", &[&format!("{login}@node1"), "echo", "scoped"]).await;
        let out = out.ok("hwa ssh --headless")?;
        require(out.stdout.trim() == "scoped", "HL-21", || {
            format!("the approved command did not run on its node:\n{}", out.stdout)
        })?;
        m.board().bump("remote-done");
        Ok(())
    });
    signed_up_laptop(plan, "laptop", "alice", |m| async move {
        let login = m.node_login()?;
        let id = read_id(m.board(), "remote", 1).await;
        let out = approve(&*m, "alice-key", &id, &[], &[], &["y"]).await.ok("approve")?;
        let err = &out.stderr;
        for (shown, what) in [
            (format!("logins:          {login}\n"), "only the command's login"),
            ("nodes:           node1\n".to_owned(), "only the command's node"),
            ("requested from:  127.0.0.1".to_owned(), "the client address it will be pinned to"),
        ] {
            require(err.contains(&shown), "HL-21", || {
                format!("the approver does not see {what} (`{}`):\n{err}", shown.trim_end())
            })?;
        }
        Ok(())
    });
}
