//! Certificates for one SSH session of a logged-in user: `hwa ssh` and `hwa scp` without
//! `--headless`, on the machine where `hwa login` saved its session profile.
//!
//! Each command gets a fresh key in memory and asks `POST /webapi/ssh/certs`, with the
//! session, for a one-minute certificate naming only the logins and nodes it needs. When a
//! role of the user requires per-session MFA the proxy answers `mfa_required`; the client then
//! asks for a challenge of scope `session_mfa`, has the authenticator answer it, and asks
//! again with the assertion. The certificate is then MFA-verified for that one command, as a
//! headless approval's is (SPEC HL-19). A challenge is single-use: every session needs its own
//! ceremony.

use http::Method;
use hwa_core::api::{
    ChallengeScope, ErrorCode, MfaChallengeRequest, MfaChallengeResponse, MfaResponse,
    RequestScope, SessionCertRequest, SessionCertResponse,
};
use hwa_core::memlock::MlockMode;

use crate::env::{ClientEnv, DeviceChoice};
use crate::error::ClientError;
use crate::headless::{HeadlessIdentity, fresh_key};
use crate::http::{Call, HttpClient, Trust};
use crate::profile::saved_session;
use crate::proxy_url::ProxyUrl;
use crate::session::{open_device, stderr_failed};

/// The path a logged-in user asks for a session certificate at.
pub const SESSION_CERT_PATH: &str = "/webapi/ssh/certs";

/// What a session certificate is asked with.
#[derive(Clone, Debug)]
pub struct SessionCertParams {
    pub proxy: ProxyUrl,
    pub trust: Trust,
    /// The memory-locking mode, already resolved for a command that is not headless.
    pub mlock: MlockMode,
    /// The logins and nodes the command needs.
    pub scope: RequestScope,
    /// The device for per-session MFA: the one the user named, else the plugged-in
    /// security key.
    pub device: Option<DeviceChoice>,
}

/// Gets a certificate for one session from the saved session profile, completing the
/// per-session MFA ceremony when the user's role requires it.
pub async fn session_identity(
    env: &mut ClientEnv,
    params: &SessionCertParams,
) -> Result<HeadlessIdentity, ClientError> {
    let profile = saved_session(env.home.as_deref(), &params.proxy)?;
    let client = HttpClient::new(env.net.clone(), params.proxy.clone(), &params.trust)?;
    let (seed, public_line) = fresh_key(env, params.mlock).await?;
    let mut body = SessionCertRequest {
        ssh_pub_key: public_line.clone(),
        scope: params.scope.clone(),
        mfa_response: None,
    };
    let ask = |body: &SessionCertRequest| {
        Call::new(Method::POST, SESSION_CERT_PATH).bearer(&profile.token).json(body)
    };
    let answer: SessionCertResponse = match client.json(&ask(&body)?).await {
        Ok(answer) => answer,
        Err(e) if e.api_code() == Some(ErrorCode::MfaRequired) => {
            let choice = params.device.clone().unwrap_or(DeviceChoice::SecurityKey(None));
            let mut device = open_device(env, &choice)?;
            let scope = MfaChallengeRequest { scope: ChallengeScope::SessionMfa };
            let call = Call::new(Method::POST, "/webapi/mfa/authenticatechallenge")
                .bearer(&profile.token)
                .json(&scope)?;
            let challenge: MfaChallengeResponse = client.json(&call).await?;
            env.say("per-session MFA: touch your authenticator").await.map_err(stderr_failed)?;
            let origin = params.proxy.origin();
            let assertion = device
                .authenticate(&challenge.webauthn_challenge, &origin, env.term.as_mut())
                .await
                .map_err(|e| {
                    ClientError::Authenticator(format!(
                        "a role of user {} requires per-session MFA, and {choice} could not \
                         answer it: {e}; or run the command with --headless to approve it from \
                         another device",
                        profile.user
                    ))
                })?;
            body.mfa_response =
                Some(MfaResponse { webauthn_response: Some(assertion), totp_code: None });
            client.json(&ask(&body)?).await?
        }
        Err(e) => return Err(e),
    };
    HeadlessIdentity::from_answer(seed, &public_line, answer)
}
