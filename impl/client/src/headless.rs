//! Headless login (SPEC HL-03 to HL-06): a fresh key pair in memory, the request ID derived from
//! its public key, the approval instructions on standard error, and the long poll that ends in
//! an in-memory certificate, a denial or a timeout.
//!
//! Nothing is written to disk and nothing is added to an SSH agent. The private key exists as a
//! 32-byte Ed25519 seed in a [`SecretBytes`] (zeroed on drop, locked when the whole process is
//! not); the signing key is rebuilt from it for each signature and dropped right after, and
//! ssh-key zeroes it on drop.
//!
//! # A lost connection is resumed, not fatal
//! The long poll may lose its connection while the request lives on in the cluster's storage
//! (an auth server crashed and restarted, a partition, a proxy restart). The client then sends
//! the very same login again (same key, ID and body) with a growing pause, until the request
//! lifetime, counted from the first attempt, is over. The server resumes the stored request or
//! lets the new login take the stale one's place, and answers a decision taken meanwhile. What
//! is retried and what is final is decided by [`retry_reason`].
//!
//! A connection can also die silently, its answer lost with no error at either end. So no
//! attempt waits longer than [`POLL_SLICE`]: after that the same login is sent again at once.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode};
use hwa_core::api::{
    ErrorCode, HeadlessLoginRequest, HeadlessLoginResponse, PingResponse, RequestScope,
};
use hwa_core::id::{RequestId, match_code};
use hwa_core::limits::{CERT_TTL, REQUEST_TTL};
use hwa_core::memlock::MlockMode;
use hwa_core::time::UnixMillis;
use ssh_key::private::Ed25519Keypair;
use ssh_key::{Certificate, PrivateKey};

use crate::env::ClientEnv;
use crate::error::{ClientError, from_error_answer};
use crate::http::{Call, HttpClient, LONG_POLL_TIMEOUT, Trust};
use crate::mlock;
use crate::proxy_url::{ProxyUrl, Scheme};
use crate::secret::SecretBytes;

/// The pause before the first resend of a login whose connection was lost: long enough for a
/// refused connection not to become a busy loop, short enough not to waste the approver's time.
const RESUME_BACKOFF_START: Duration = Duration::from_secs(1);

/// The longest pause between resends; each failure doubles the pause up to this. A restarted
/// proxy or auth server is usually back within seconds, and the request lives 3 minutes.
const RESUME_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// How much longer than the request's remaining lifetime one attempt may wait for its answer,
/// so the server's own timeout answer arrives before the client gives up (the margin of
/// [`LONG_POLL_TIMEOUT`]).
const ANSWER_MARGIN: Duration = LONG_POLL_TIMEOUT.saturating_sub(REQUEST_TTL);

/// Longest one attempt of the long poll waits before the same login is sent again. A
/// connection can die without either end hearing of it (a NAT or firewall forgetting it, a
/// partition swallowing the answer); the next attempt then finds the decision taken meanwhile.
/// While nobody decides, this costs one request per slice.
const POLL_SLICE: Duration = Duration::from_secs(30);

/// What a headless login asks for.
#[derive(Clone, Debug)]
pub struct HeadlessParams {
    pub proxy: ProxyUrl,
    pub trust: Trust,
    pub user: String,
    /// The memory-locking mode, already resolved for a headless command.
    pub mlock: MlockMode,
    /// What the certificate is for, as the approver will see it (SPEC HL-21).
    pub scope: RequestScope,
}

/// A key and the certificate issued for it, held only in memory: the result of an approved
/// headless login, or of a logged-in user's request for one SSH session
/// ([`crate::sessioncert`]).
pub struct HeadlessIdentity {
    pub user: String,
    /// The ID derived from the key (SPEC HL-03): the approved request's, for a headless login.
    pub request_id: RequestId,
    seed: SecretBytes<{ Ed25519Keypair::BYTE_SIZE / 2 }>,
    /// The OpenSSH certificate line the proxy issued.
    pub certificate_line: String,
    pub certificate: Certificate,
    pub principals: Vec<String>,
    pub valid_before: UnixMillis,
    /// The host CA public key, for checking node host certificates.
    pub host_ca: Option<String>,
}

impl fmt::Debug for HeadlessIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadlessIdentity")
            .field("user", &self.user)
            .field("request_id", &self.request_id)
            .field("principals", &self.principals)
            .field("valid_before", &self.valid_before)
            .finish_non_exhaustive()
    }
}

impl HeadlessIdentity {
    /// The signing key, rebuilt from the seed for one use; it zeroes itself when dropped.
    pub fn private_key(&self) -> PrivateKey {
        PrivateKey::from(Ed25519Keypair::from_seed(self.seed.expose()))
    }

    /// Whether the certificate's own memory is locked (for tests and diagnostics).
    pub fn key_locked(&self) -> bool {
        self.seed.is_locked()
    }
}

/// Runs a headless login: prints the approval instructions on standard error and waits for the
/// decision. On approval the certificate and key are returned, in memory only.
pub async fn headless_login(
    env: &mut ClientEnv,
    params: &HeadlessParams,
) -> Result<HeadlessIdentity, ClientError> {
    let (seed, public_line) = fresh_key(env, params.mlock).await?;
    let request_id = RequestId::derive(public_line.as_bytes());

    let client = HttpClient::new(env.net.clone(), params.proxy.clone(), &params.trust)?;
    let ping: PingResponse = client.json(&Call::new(Method::GET, "/webapi/ping")).await?;
    if !ping.auth.headless_allowed {
        return Err(ClientError::Api {
            status: 403,
            code: ErrorCode::HeadlessDisabled,
            message: format!(
                "headless login is disabled for cluster `{}`; ask an administrator to enable it \
                 (`headless: true` in cluster_auth_preference) or log in with `hwa login`",
                ping.cluster_name
            ),
        });
    }

    for line in instructions(&params.proxy, &params.user, &request_id, &public_line) {
        say(env, &line).await?;
    }
    tracing::info!(request_id = %request_id, user = %params.user, "headless login requested");

    let body = HeadlessLoginRequest {
        user: params.user.clone(),
        headless_id: request_id.clone(),
        ssh_pub_key: public_line.clone(),
        ttl: CERT_TTL.as_secs(),
        scope: params.scope.clone(),
    };
    let call = Call::new(Method::POST, "/webapi/headless/login").json(&body)?;
    let answer = long_poll(env, &client, call).await?;

    let identity = HeadlessIdentity::from_answer(seed, &public_line, answer)?;
    let left = env.clock.now().until(identity.valid_before).as_secs();
    say(env, &format!("approved; the certificate is valid for {left} more seconds")).await?;
    tracing::info!(request_id = %request_id, "headless login approved");
    Ok(identity)
}

/// A fresh Ed25519 key for one command, its seed locked in memory as `mode` says (SPEC HL-06),
/// with its public key line. Warnings about locking go to standard error.
pub(crate) async fn fresh_key(
    env: &mut ClientEnv,
    mode: MlockMode,
) -> Result<(SecretBytes<{ Ed25519Keypair::BYTE_SIZE / 2 }>, String), ClientError> {
    let plan = mlock::decide(mode, env.locker.as_ref())?;
    for warning in &plan.warnings {
        say(env, warning).await?;
    }
    let mut seed = SecretBytes::zeroed();
    env.entropy.fill(seed.expose_mut());
    if plan.lock_secrets
        && let Err(e) = seed.lock(&env.locker)
    {
        let warning = mlock::region_failure(&plan, &e)?;
        say(env, &warning).await?;
    }
    let public_line = {
        let key = PrivateKey::from(Ed25519Keypair::from_seed(seed.expose()));
        key.public_key()
            .to_openssh()
            .map_err(|e| ClientError::Protocol(format!("cannot encode the public key: {e}")))?
    };
    Ok((seed, public_line))
}

impl HeadlessIdentity {
    /// The identity of `seed` (whose public key line is `public_line`) with the certificate
    /// of `answer`, once the certificate is checked to be for this very key.
    pub(crate) fn from_answer(
        seed: SecretBytes<{ Ed25519Keypair::BYTE_SIZE / 2 }>,
        public_line: &str,
        answer: HeadlessLoginResponse,
    ) -> Result<HeadlessIdentity, ClientError> {
        let certificate =
            Certificate::from_openssh(answer.ssh_certificate.trim()).map_err(|e| {
                ClientError::Protocol(format!("the issued certificate does not parse: {e}"))
            })?;
        let own_key = PrivateKey::from(Ed25519Keypair::from_seed(seed.expose()));
        if certificate.public_key() != own_key.public_key().key_data() {
            return Err(ClientError::Protocol(
                "the proxy issued a certificate for another key; refusing to use it".into(),
            ));
        }
        drop(own_key);
        Ok(HeadlessIdentity {
            user: answer.user,
            request_id: RequestId::derive(public_line.as_bytes()),
            seed,
            certificate_line: answer.ssh_certificate,
            certificate,
            principals: answer.principals,
            valid_before: answer.valid_before,
            host_ca: answer.host_ca,
        })
    }
}

/// Sends the login and waits for its answer, resending the same call after a lost connection
/// until the request lifetime (from now, by the injected clock) is over.
async fn long_poll(
    env: &mut ClientEnv,
    client: &HttpClient,
    mut call: Call,
) -> Result<HeadlessLoginResponse, ClientError> {
    let expires_at = env.clock.now().plus(REQUEST_TTL);
    let mut backoff = RESUME_BACKOFF_START;
    let mut resending = false;
    loop {
        let began = env.clock.now();
        // The first login's server times out with the request: give its answer time to arrive.
        // A resend may start a fresh wait on a server that lost the request (nothing was stored
        // yet, SPEC HL-08), so the client itself stops when the request's lifetime is over, and
        // closing the connection ends that wait.
        let margin = if resending { Duration::ZERO } else { ANSWER_MARGIN };
        let last_slice = began.until(expires_at) <= POLL_SLICE;
        call.timeout = Some(if last_slice { began.until(expires_at) + margin } else { POLL_SLICE });
        let e = match attempt(client, &call).await {
            Ok(answer) => return Ok(answer),
            Err(e) => e,
        };
        if !last_slice && is_silence(&e) {
            // A routine renewal, not a fault: ask again at once, and tell nobody.
            tracing::debug!(slice_secs = POLL_SLICE.as_secs(), "no answer yet; asking again");
            resending = true;
            continue;
        }
        let Some(reason) = retry_reason(&e) else {
            return Err(login_failure(e));
        };
        let now = env.clock.now();
        let left = now.until(expires_at);
        if left.is_zero() {
            return Err(ClientError::Timeout);
        }
        // A connection that held for a while was a working one: start the pauses over.
        if began.until(now) >= RESUME_BACKOFF_MAX {
            backoff = RESUME_BACKOFF_START;
        }
        tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "{reason}");
        if !resending {
            resending = true;
            let line = format!(
                "{reason} ({e}); resuming the same request until it expires in {} seconds",
                left.as_secs()
            );
            say(env, &line).await?;
        }
        tokio::time::sleep(backoff.min(left)).await;
        backoff = (backoff * 2).min(RESUME_BACKOFF_MAX);
    }
}

/// One attempt of the long poll. A gateway's "unavailable" answer (an auth server or proxy
/// restarting behind it) becomes [`ClientError::Transport`], a lost connection as well.
async fn attempt(client: &HttpClient, call: &Call) -> Result<HeadlessLoginResponse, ClientError> {
    let (status, body) = client.fetch(call).await?;
    if matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    ) {
        return Err(ClientError::Transport {
            addr: client.proxy().authority(),
            message: format!("the proxy answered {status}"),
        });
    }
    if !status.is_success() {
        return Err(from_error_answer(status.as_u16(), &body));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ClientError::Protocol(format!("{} {} answered bad JSON: {e}", call.method, call.path))
    })
}

/// Why a failed attempt is worth sending again, or `None` when its answer is final.
///
/// Retried: a refused or lost connection, no answer in time, a gateway's "unavailable", an
/// internal error (a store or server restarting), and `rate_limited` (the limit is per client
/// address and per second, so it lets a later resend through). Final: every other answer of the
/// server (denied, timed out, forbidden, bad request, headless disabled, conflict, too many
/// pending, ...), TLS failures (a certificate problem does not fix itself) and answers of the
/// wrong shape.
fn retry_reason(e: &ClientError) -> Option<&'static str> {
    match e {
        ClientError::Connect { .. } | ClientError::Transport { .. } => {
            Some("the connection to the proxy was lost")
        }
        ClientError::Api { code: ErrorCode::Internal, .. } => {
            Some("the proxy reported an internal error")
        }
        ClientError::Api { code: ErrorCode::RateLimited, .. } => {
            Some("the proxy asked to slow down")
        }
        _ => None,
    }
}

/// The lines shown while waiting (SPEC HL-04): standard error only, so pipes keep working.
pub fn instructions(
    proxy: &ProxyUrl,
    user: &str,
    id: &RequestId,
    public_line: &str,
) -> Vec<String> {
    vec![
        format!("Requesting headless login as user `{user}` at {proxy}."),
        "Complete it from your own device, where you are logged in:".to_owned(),
        format!("  open {}", proxy.url(&format!("/web/headless/{id}"))),
        format!("  or run: hwa headless approve --user={user} --proxy={} {id}", proxy_arg(proxy)),
        format!(
            "Match code: {} (the approver must show the same code)",
            match_code(public_line.as_bytes())
        ),
        format!(
            "Never approve a request you did not start. Waiting up to {} minutes for the \
             decision...",
            REQUEST_TTL.as_secs() / 60
        ),
    ]
}

/// The `--proxy` value that names `proxy` again when typed on another machine.
pub fn proxy_arg(proxy: &ProxyUrl) -> String {
    match proxy.scheme {
        Scheme::Https => proxy.authority(),
        Scheme::Http => proxy.origin(),
    }
}

/// Whether `e` is an attempt that heard nothing back in its time.
fn is_silence(e: &ClientError) -> bool {
    matches!(e, ClientError::Transport { message, .. } if message.starts_with("no answer within"))
}

/// The message for a long poll that did not end in a certificate.
fn login_failure(e: ClientError) -> ClientError {
    match e.api_code() {
        Some(ErrorCode::Timeout | ErrorCode::Expired) => ClientError::Timeout,
        Some(ErrorCode::Denied) => ClientError::Denied,
        _ if is_silence(&e) => ClientError::Timeout,
        _ => e,
    }
}

async fn say(env: &mut ClientEnv, line: &str) -> Result<(), ClientError> {
    env.say(line).await.map_err(|e| ClientError::io("writing to standard error", e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hwa_core::clock::SIM_EPOCH;
    use hwa_core::memlock::{SimLockBehaviour, SimLocker};

    use super::*;
    use crate::env::tests_support::{Captured, test_env};

    #[test]
    fn instructions_name_the_url_the_command_and_the_match_code() {
        let proxy = ProxyUrl::parse("proxy.example.com").unwrap();
        let id = RequestId::derive(b"fake-ssh-public-key");
        let lines = instructions(&proxy, "alice", &id, "fake-ssh-public-key").join("\n");
        insta::assert_snapshot!(lines);
    }

    fn params(mlock: MlockMode) -> HeadlessParams {
        // Port 9 on loopback is closed: a login that gets as far as dialing fails to connect.
        HeadlessParams {
            proxy: ProxyUrl::parse("http://127.0.0.1:9").unwrap(),
            trust: Trust::System,
            user: "alice".into(),
            mlock,
            scope: RequestScope::default(),
        }
    }

    fn env_with(behaviour: SimLockBehaviour) -> (ClientEnv, Captured) {
        let mut env = test_env();
        let captured = Captured::default();
        env.term = Box::new(captured.clone());
        env.locker = Arc::new(SimLocker(behaviour));
        (env, captured)
    }

    #[tokio::test]
    async fn strict_locking_fails_before_any_key_or_request_exists() {
        let (mut env, _) = env_with(SimLockBehaviour::PermissionDenied);
        let err = headless_login(&mut env, &params(MlockMode::Strict)).await.unwrap_err();
        assert!(matches!(err, ClientError::Mlock(_)), "{err:?}");
    }

    #[tokio::test]
    async fn best_effort_warns_about_a_finite_limit_and_goes_on_to_the_proxy() {
        let (mut env, captured) = env_with(SimLockBehaviour::FiniteLimit { bytes: 65536 });
        let err = headless_login(&mut env, &params(MlockMode::BestEffort)).await.unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
        assert!(captured.text().contains("only the key buffers are locked"), "{}", captured.text());
    }

    #[test]
    fn a_loopback_http_proxy_is_named_with_its_scheme_in_the_command() {
        let proxy = ProxyUrl::parse("http://127.0.0.1:3080").unwrap();
        assert_eq!(proxy_arg(&proxy), "http://127.0.0.1:3080");
    }

    /// What the scripted proxy does with one `POST /webapi/headless/login` connection.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        /// Read the request, then close the connection without an answer.
        Drop,
        /// Answer this status with an error body of this code.
        Fail(u16, &'static str),
        /// Answer with a certificate for the submitted key.
        Certificate,
        /// Close the listening socket: every later connection is refused.
        Vanish,
    }

    /// A loopback proxy that answers `GET /webapi/ping` and plays `steps` to the logins, one
    /// per connection; it records every login body it read.
    async fn scripted_proxy(steps: Vec<Step>) -> (ProxyUrl, Arc<std::sync::Mutex<Vec<String>>>) {
        use hwa_core::net::TokioNetwork;
        let mut listener =
            TokioNetwork::shared().listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        tokio::spawn(async move {
            let mut steps = steps.into_iter();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let (path, body) = read_request(&mut stream).await;
                if path == "/webapi/ping" {
                    answer(&mut stream, 200, &ping_body()).await;
                    continue;
                }
                seen.lock().unwrap().push(body.clone());
                match steps.next().unwrap_or(Step::Drop) {
                    Step::Drop => drop(stream),
                    Step::Fail(status, code) => {
                        let error = format!(r#"{{"error":{{"code":"{code}","message":"no"}}}}"#);
                        answer(&mut stream, status, &error).await;
                    }
                    Step::Certificate => answer(&mut stream, 200, &certified(&body)).await,
                    Step::Vanish => return,
                }
            }
        });
        (ProxyUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap(), bodies)
    }

    async fn read_request(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (String, String) {
        use tokio::io::AsyncReadExt;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while seen.len() < head_end + length {
            let n = stream.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        let path = head.split_whitespace().nth(1).unwrap().to_string();
        (path, String::from_utf8_lossy(&seen[head_end..]).into_owned())
    }

    async fn answer(stream: &mut (impl tokio::io::AsyncWrite + Unpin), status: u16, body: &str) {
        use tokio::io::AsyncWriteExt;
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(format!("{head}{body}").as_bytes()).await.unwrap();
    }

    fn ping_body() -> String {
        serde_json::json!({
            "auth": {"second_factors": ["webauthn"], "webauthn_rp_id": "localhost",
                     "headless_allowed": true, "connector_name": null},
            "cluster_name": "test", "server_version": "0"
        })
        .to_string()
    }

    /// A certificate for the key of `login_body`, signed by a throwaway CA.
    fn certified(login_body: &str) -> String {
        let login: HeadlessLoginRequest = serde_json::from_str(login_body).unwrap();
        let key = ssh_key::PublicKey::from_openssh(&login.ssh_pub_key).unwrap();
        let ca = PrivateKey::from(Ed25519Keypair::from_seed(&[9; 32]));
        let now = SIM_EPOCH.secs_floor();
        let mut builder =
            ssh_key::certificate::Builder::new(vec![0; 16], key.key_data().clone(), now, now + 60)
                .unwrap();
        builder.valid_principal("alice").unwrap();
        let cert = builder.sign(&ca).unwrap().to_openssh().unwrap();
        serde_json::to_string(&HeadlessLoginResponse {
            user: login.user,
            ssh_certificate: cert,
            principals: vec!["alice".into()],
            valid_before: SIM_EPOCH.plus(CERT_TTL),
            host_ca: None,
        })
        .unwrap()
    }

    async fn login_through(
        steps: Vec<Step>,
    ) -> (Result<HeadlessIdentity, ClientError>, Vec<String>, String) {
        let (proxy, bodies) = scripted_proxy(steps).await;
        let (mut env, captured) = env_with(SimLockBehaviour::Succeed);
        let params = HeadlessParams { proxy, ..params(MlockMode::BestEffort) };
        let result = headless_login(&mut env, &params).await;
        let bodies = bodies.lock().unwrap().clone();
        (result, bodies, captured.text())
    }

    #[tokio::test]
    async fn a_dropped_long_poll_is_resent_unchanged_and_gets_the_certificate() {
        let (result, bodies, stderr) =
            login_through(vec![Step::Drop, Step::Drop, Step::Certificate]).await;
        let identity = result.unwrap();
        assert_eq!(bodies.len(), 3);
        assert!(bodies.iter().all(|b| *b == bodies[0]), "every resend is the same request");
        assert!(bodies[0].contains(&identity.request_id.to_string()));
        assert_eq!(stderr.matches("resuming the same request").count(), 1, "{stderr}");
        assert_eq!(stderr.matches("Match code").count(), 1, "{stderr}");
        assert!(stderr.contains("connection closed before message completed"), "{stderr}");
    }

    #[tokio::test]
    async fn unavailable_and_internal_answers_are_retried() {
        let steps =
            vec![Step::Fail(503, "internal"), Step::Fail(500, "internal"), Step::Certificate];
        let (result, bodies, _) = login_through(steps).await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(bodies.len(), 3);
    }

    #[tokio::test]
    async fn final_answers_are_not_retried() {
        let finals = [
            (403, "denied"),
            (408, "timeout"),
            (403, "forbidden"),
            (400, "bad_request"),
            (403, "headless_disabled"),
            (409, "conflict"),
            (429, "too_many_pending"),
        ];
        for (status, code) in finals {
            let (result, bodies, stderr) = login_through(vec![Step::Fail(status, code)]).await;
            assert!(result.is_err(), "{code}");
            assert_eq!(bodies.len(), 1, "{code} was retried");
            assert!(!stderr.contains("resuming"), "{stderr}");
        }
        let (result, _, _) = login_through(vec![Step::Fail(403, "denied")]).await;
        assert!(matches!(result, Err(ClientError::Denied)), "{result:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_proxy_that_never_comes_back_ends_in_a_timeout_at_the_request_lifetime() {
        let started = tokio::time::Instant::now();
        let (result, bodies, stderr) = login_through(vec![Step::Drop, Step::Vanish]).await;
        assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
        let waited = started.elapsed();
        assert!(waited >= REQUEST_TTL && waited < REQUEST_TTL + RESUME_BACKOFF_MAX, "{waited:?}");
        assert_eq!(bodies.len(), 2);
        assert_eq!(stderr.matches("resuming the same request").count(), 1, "{stderr}");
    }

    #[test]
    fn the_pauses_between_resends_double_up_to_the_cap() {
        assert_eq!(RESUME_BACKOFF_START, Duration::from_secs(1));
        assert_eq!(RESUME_BACKOFF_MAX, Duration::from_secs(10));
        assert_eq!(ANSWER_MARGIN, LONG_POLL_TIMEOUT - REQUEST_TTL);
    }

    #[test]
    fn server_timeouts_and_denials_read_as_such() {
        let timeout =
            ClientError::Api { status: 408, code: ErrorCode::Timeout, message: "x".into() };
        assert!(matches!(login_failure(timeout), ClientError::Timeout));
        let denied = ClientError::Api { status: 403, code: ErrorCode::Denied, message: "x".into() };
        assert!(matches!(login_failure(denied), ClientError::Denied));
        let expected = "headless login timed out: no decision within 3 minutes; run the command \
                        again and approve it";
        assert_eq!(ClientError::Timeout.to_string(), expected);
    }
}
