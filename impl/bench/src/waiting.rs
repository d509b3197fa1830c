//! Waiting headless logins: the `POST /webapi/headless/login` long poll of the client library,
//! one fresh Ed25519 key per login, as `hwa ... --headless` sends it.
//!
//! Thousands of background logins live in a helper process (`hwa-bench hold-logins`, started
//! by [`Helper::start`]) rather than in the benchmark process: every waiting login holds a
//! socket at both ends, and 10 000 of them with both ends in one process would pass the
//! open-files hard limit of common machines (20 000 here). The helper's only job is to keep its
//! logins waiting: one that times out (after the request lifetime) is started again with a new
//! key, so the count stays put for as long as the benchmark needs it.
//!
//! The helper reads its plan on standard input, one `<user> <count>` line per user and a final
//! `end` line, and exits when its standard input closes.

use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use http::Method;
use hwa_client::http::{Call, HttpClient, LONG_POLL_TIMEOUT, Trust};
use hwa_client::proxy_url::ProxyUrl;
use hwa_core::api::{HeadlessLoginRequest, HeadlessLoginResponse, RequestScope};
use hwa_core::entropy::OsEntropy;
use hwa_core::id::RequestId;
use hwa_core::limits::CERT_TTL;
use hwa_core::net::TokioNetwork;
use hwa_core::{Entropy, SharedNetwork};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{Certificate, PrivateKey};
use tokio::time::Instant;

use crate::people::BENCH_LOGIN;

/// Pause between starting two background logins, so that connections arrive at a pace the
/// listener's accept backlog (1024 on Linux by default) absorbs without dropped SYNs.
pub const START_SPACING: Duration = Duration::from_micros(500);

/// Pause before retrying a login the server refused (a cap, an overloaded store).
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// A headless login about to be sent: its key and the request ID derived from it.
#[derive(Debug, Clone)]
pub struct LoginKey {
    pub id: RequestId,
    pub public_line: String,
}

impl LoginKey {
    /// A fresh Ed25519 key from the operating system's generator.
    pub fn generate(entropy: &dyn Entropy) -> anyhow::Result<LoginKey> {
        let seed = hwa_core::entropy::array::<32>(entropy);
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
        let public_line = key.public_key().to_openssh().context("cannot encode the key")?;
        Ok(LoginKey { id: RequestId::derive(public_line.as_bytes()), public_line })
    }
}

/// Sends the login long poll for `user` and waits for the certificate. Returns it with the
/// instant it had arrived and parsed, which is when the waiting client holds its certificate.
pub async fn wait_for_certificate(
    client: &HttpClient,
    user: &str,
    key: &LoginKey,
) -> anyhow::Result<(HeadlessLoginResponse, Instant)> {
    let body = HeadlessLoginRequest {
        user: user.to_owned(),
        headless_id: key.id.clone(),
        ssh_pub_key: key.public_line.clone(),
        ttl: CERT_TTL.as_secs(),
        scope: RequestScope {
            command: "hwa-bench decision-latency".into(),
            logins: vec![BENCH_LOGIN.into()],
            nodes: Vec::new(),
        },
    };
    let mut call = Call::new(Method::POST, "/webapi/headless/login").json(&body)?;
    call.timeout = Some(LONG_POLL_TIMEOUT);
    let answer: HeadlessLoginResponse = client.json(&call).await?;
    let certificate = Certificate::from_openssh(answer.ssh_certificate.trim())
        .map_err(|e| anyhow!("the issued certificate does not parse: {e}"))?;
    let arrived = Instant::now();
    let expected = ssh_key::PublicKey::from_openssh(&key.public_line)?;
    if certificate.public_key() != expected.key_data() {
        return Err(anyhow!("the certificate is for another key"));
    }
    Ok((answer, arrived))
}

/// The helper process holding the background logins.
#[derive(Debug)]
pub struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Helper {
    /// Starts `hwa-bench hold-logins` (this very executable) and hands it the plan.
    pub fn start(proxy: &ProxyUrl, plan: &[(String, usize)]) -> anyhow::Result<Helper> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut child = Command::new(exe)
            .arg("hold-logins")
            .arg("--proxy")
            .arg(proxy.origin())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the hold-logins helper")?;
        let mut stdin = child.stdin.take().ok_or_else(|| anyhow!("the helper has no stdin"))?;
        for (user, count) in plan {
            writeln!(stdin, "{user} {count}").context("cannot send the plan to the helper")?;
        }
        writeln!(stdin, "end").context("cannot send the plan to the helper")?;
        stdin.flush().context("cannot send the plan to the helper")?;
        Ok(Helper { child, stdin: Some(stdin) })
    }

    /// The helper's process ID, to read its memory use.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the helper's standard input, which ends it, and waits for it.
    pub fn stop(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        let status = self.child.wait().context("cannot wait for the helper")?;
        if !status.success() {
            return Err(anyhow!("the hold-logins helper ended with {status}"));
        }
        Ok(())
    }
}

/// What the helper counts, logged when it ends.
#[derive(Debug, Default)]
struct Counts {
    started: AtomicU64,
    timed_out: AtomicU64,
    refused: AtomicU64,
}

/// The helper's body: reads the plan from standard input, keeps the logins waiting, and
/// returns when standard input closes.
pub async fn hold_logins(proxy: &str) -> anyhow::Result<()> {
    let proxy = ProxyUrl::parse(proxy)?;
    let plan = read_plan(std::io::stdin().lock())?;
    let net = TokioNetwork::shared();
    let counts = Arc::new(Counts::default());
    let total: usize = plan.iter().map(|(_, n)| n).sum();
    tracing::info!(users = plan.len(), logins = total, "helper starting logins");
    let mut tasks = Vec::with_capacity(total);
    for (user, count) in plan {
        for _ in 0..count {
            let (net, proxy, user, counts) = (net.clone(), proxy.clone(), user.clone(), &counts);
            tasks.push(tokio::spawn(keep_waiting(net, proxy, user, Arc::clone(counts))));
            tokio::time::sleep(START_SPACING).await;
        }
    }
    tracing::info!(logins = total, "helper started every login");
    // Standard input closing is the signal to stop; read it on a blocking thread.
    let _ = tokio::task::spawn_blocking(|| {
        let mut rest = String::new();
        while std::io::stdin().lock().read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    })
    .await;
    for task in &tasks {
        task.abort();
    }
    tracing::info!(
        started = counts.started.load(Ordering::Relaxed),
        timed_out = counts.timed_out.load(Ordering::Relaxed),
        refused = counts.refused.load(Ordering::Relaxed),
        "helper stopping"
    );
    Ok(())
}

/// One background login, started again whenever it ends.
async fn keep_waiting(net: SharedNetwork, proxy: ProxyUrl, user: String, counts: Arc<Counts>) {
    let client = match HttpClient::new(net, proxy, &Trust::System) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot make an HTTP client");
            return;
        }
    };
    loop {
        let Ok(key) = LoginKey::generate(&OsEntropy) else { return };
        counts.started.fetch_add(1, Ordering::Relaxed);
        match wait_for_certificate(&client, &user, &key).await {
            Ok(_) => tracing::warn!(%user, "a background login was approved; starting another"),
            Err(e) if is_timeout(&e) => {
                counts.timed_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                counts.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%user, error = %e, "a background login failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

fn is_timeout(e: &anyhow::Error) -> bool {
    e.downcast_ref::<hwa_client::ClientError>().is_some_and(|e| {
        matches!(
            e.api_code(),
            Some(hwa_core::api::ErrorCode::Timeout | hwa_core::api::ErrorCode::Expired)
        )
    })
}

/// Parses `<user> <count>` lines up to `end`.
fn read_plan(input: impl BufRead) -> anyhow::Result<Vec<(String, usize)>> {
    let mut plan = Vec::new();
    for line in input.lines() {
        let line = line.context("cannot read the plan")?;
        let line = line.trim();
        if line == "end" {
            return Ok(plan);
        }
        let (user, count) = line
            .split_once(' ')
            .ok_or_else(|| anyhow!("plan line `{line}` is not `<user> <count>`"))?;
        let count = count.trim().parse().with_context(|| format!("bad count in `{line}`"))?;
        plan.push((user.to_owned(), count));
    }
    Err(anyhow!("the plan ended without an `end` line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_user_count_lines_ending_in_end() {
        let plan = read_plan("u1 16\nu2 3\nend\nignored 9\n".as_bytes()).unwrap();
        assert_eq!(plan, vec![("u1".to_owned(), 16), ("u2".to_owned(), 3)]);
    }

    #[test]
    fn a_plan_without_end_is_refused() {
        assert!(read_plan("u1 16\n".as_bytes()).is_err());
        assert!(read_plan("u1 x\nend\n".as_bytes()).is_err());
    }

    #[test]
    fn a_login_key_derives_its_request_id_from_the_public_key() {
        let key = LoginKey::generate(&OsEntropy).unwrap();
        assert!(key.id.matches_key(key.public_line.as_bytes()));
    }
}
