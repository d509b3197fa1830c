//! Headless login (SPEC HL-03 to HL-06): a fresh key pair in memory, the request ID derived from
//! its public key, the approval instructions on standard error, and the long poll that ends in
//! an in-memory certificate, a denial or a timeout.
//!
//! Nothing is written to disk and nothing is added to an SSH agent. The private key exists as a
//! 32-byte Ed25519 seed in a [`SecretBytes`] (zeroed on drop, locked when the whole process is
//! not); the signing key is rebuilt from it for each signature and dropped right after, and
//! ssh-key zeroes it on drop.

use std::fmt;

use http::Method;
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
use crate::error::ClientError;
use crate::http::{Call, HttpClient, LONG_POLL_TIMEOUT, Trust};
use crate::mlock;
use crate::proxy_url::{ProxyUrl, Scheme};
use crate::secret::SecretBytes;

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

/// The result of an approved headless login, held only in memory.
pub struct HeadlessIdentity {
    pub user: String,
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
    let plan = mlock::decide(params.mlock, env.locker.as_ref())?;
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
    let mut call = Call::new(Method::POST, "/webapi/headless/login").json(&body)?;
    call.timeout = Some(LONG_POLL_TIMEOUT);
    let answer: HeadlessLoginResponse = match client.json(&call).await {
        Ok(answer) => answer,
        Err(e) => return Err(login_failure(e)),
    };

    let certificate = Certificate::from_openssh(answer.ssh_certificate.trim()).map_err(|e| {
        ClientError::Protocol(format!("the issued certificate does not parse: {e}"))
    })?;
    let own_key = PrivateKey::from(Ed25519Keypair::from_seed(seed.expose()));
    if certificate.public_key() != own_key.public_key().key_data() {
        return Err(ClientError::Protocol(
            "the proxy issued a certificate for another key; refusing to use it".into(),
        ));
    }
    drop(own_key);
    let left = env.clock.now().until(answer.valid_before).as_secs();
    say(env, &format!("approved; the certificate is valid for {left} more seconds")).await?;
    tracing::info!(request_id = %request_id, "headless login approved");
    Ok(HeadlessIdentity {
        user: answer.user,
        request_id,
        seed,
        certificate_line: answer.ssh_certificate,
        certificate,
        principals: answer.principals,
        valid_before: answer.valid_before,
        host_ca: answer.host_ca,
    })
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

/// The message for a long poll that did not end in a certificate.
fn login_failure(e: ClientError) -> ClientError {
    match e.api_code() {
        Some(ErrorCode::Timeout | ErrorCode::Expired) => ClientError::Timeout,
        Some(ErrorCode::Denied) => ClientError::Denied,
        _ => match e {
            ClientError::Transport { message, .. } if message.starts_with("no answer within") => {
                ClientError::Timeout
            }
            other => other,
        },
    }
}

async fn say(env: &mut ClientEnv, line: &str) -> Result<(), ClientError> {
    env.say(line).await.map_err(|e| ClientError::io("writing to standard error", e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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
