//! The cases, each written once against [`Machine`] and run on every target. Each names the
//! catalog requirements it checks; a failure message says which rule broke.
//!
//! People in the cases: alice (the user), her `laptop` (approver, keeps a profile) and the
//! `remote` dev box (headless commands, home must stay empty); bob, another user; mallory,
//! an attacker who may have read alice's disk.

use std::rc::Rc;

use hwa_core::id::RequestId;
use hwa_sim::board::Board;

use crate::plan::{Case, Plan, Role};
use crate::target::{CommandOutput, Machine};

mod attacks;
mod flows;
mod preference;
mod ssh;
mod webauthn;

/// Every case, in the order runs and reports show them.
pub fn all() -> Vec<&'static Case> {
    let mut cases: Vec<&'static Case> = Vec::new();
    cases.extend(flows::CASES);
    cases.extend(attacks::CASES);
    cases.extend(preference::CASES);
    cases.extend(ssh::CASES);
    cases.extend(webauthn::CASES);
    cases
}

/// `hwa signup INVITE` with the key `key`, then `hwa login` at proxy 0.
pub async fn sign_up(m: &dyn Machine, user: &str, key: &str) -> Result<(), String> {
    let invite = m.board().invite(user).ok_or(format!("no invite for {user}"))?;
    m.hwa(&["signup", &invite, &m.key_arg(key)], &[], &[]).await.ok("hwa signup")?;
    log_in(m, user, key).await
}

/// `hwa login --proxy=P --user=USER` with the key `key`.
pub async fn log_in(m: &dyn Machine, user: &str, key: &str) -> Result<(), String> {
    let proxy = format!("--proxy={}", m.proxy(0));
    let user_arg = format!("--user={user}");
    m.hwa(&["login", &proxy, &user_arg, &m.key_arg(key)], &[], &[]).await.ok("hwa login")?;
    m.board().bump(&format!("logged-in:{user}"));
    Ok(())
}

/// Waits until `host` has printed its `n`-th approval URL (1-based).
pub async fn read_id(board: &Board, host: &str, n: usize) -> RequestId {
    board.wait_until(|b| b.printed_ids(host).get(n - 1).cloned()).await
}

/// Waits until flag `flag` has been raised `n` times.
pub async fn wait_flag(board: &Board, flag: &str, n: u64) {
    board.wait_until(|b| (b.count(flag) >= n).then_some(())).await
}

/// `hwa headless approve --proxy=P KEY [extra...] ID` with `answers` on standard input.
pub async fn approve(
    m: &dyn Machine,
    key: &str,
    id: &RequestId,
    extra: &[&str],
    vars: &[(&str, &str)],
    answers: &[&str],
) -> CommandOutput {
    let proxy = format!("--proxy={}", m.proxy(0));
    let key = m.key_arg(key);
    let id = id.to_string();
    let mut args = vec!["headless", "approve", proxy.as_str(), key.as_str()];
    args.extend_from_slice(extra);
    args.push(&id);
    m.hwa(&args, vars, answers).await
}

/// `hwa ls --proxy=P [flags...]` on the remote, started now.
pub fn remote_ls(m: &dyn Machine, flags: &[&str], vars: &[(&str, &str)]) -> crate::target::HwaRun {
    let proxy = format!("--proxy={}", m.proxy(0));
    let mut args = vec!["ls", proxy.as_str()];
    args.extend_from_slice(flags);
    m.spawn_hwa(&args, vars, &[])
}

/// Fails with `requirement: message` unless `cond`.
pub fn require(
    cond: bool,
    requirement: &str,
    message: impl FnOnce() -> String,
) -> Result<(), String> {
    if cond { Ok(()) } else { Err(format!("{requirement}: {}", message())) }
}

/// The laptop of `user`: signs up with `key` and raises `ready:laptop`.
pub fn signed_up_laptop<F, Fut>(plan: &mut Plan, name: &str, user: &'static str, then: F)
where
    F: FnOnce(Rc<dyn Machine>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + 'static,
{
    plan.machine(name, user, Role::Approver, move |m| async move {
        sign_up(&*m, user, &format!("{user}-key")).await?;
        m.board().bump(&format!("ready:{}", m.name()));
        then(m).await
    });
}

/// alice's laptop: signs up, then approves the first `requests` requests the `remote` machine
/// prints, each as soon as it appears, without asking.
pub fn approving_laptop(plan: &mut Plan, requests: usize) {
    signed_up_laptop(plan, "laptop", "alice", move |m| async move {
        for n in 1..=requests {
            let id = read_id(m.board(), "remote", n).await;
            approve(&*m, "alice-key", &id, &["--skip-confirm"], &[], &[]).await.ok("approve")?;
        }
        Ok(())
    });
}
