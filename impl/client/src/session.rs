//! `hwa login` and `hwa signup`: a password and a WebAuthn ceremony with the user's
//! authenticator, ending in a session profile saved under the home directory.
//!
//! The browser origin the authenticator reports is the proxy's origin, as if the user had
//! signed in on the proxy's web page.
//!
//! # Limitations
//! The password is zeroed in the request structure once sent, but the serialized JSON body
//! and hyper's buffers are ordinary memory; a complete client would serialize into a
//! zeroizing buffer that it owns until the write completes.

use http::Method;
use hwa_core::api::{
    InviteView, LoginBeginRequest, LoginFinishRequest, MfaChallengeResponse, RegisterBeginRequest,
    RegisterBeginResponse, RegisterFinishRequest, SessionResponse,
};
use zeroize::{Zeroize, Zeroizing};

use crate::env::{ClientEnv, DeviceChoice};
use crate::error::ClientError;
use crate::headless::proxy_arg;
use crate::http::{Call, HttpClient, Trust};
use crate::profile::{Profile, ProfileStore};
use crate::proxy_url::ProxyUrl;

/// Environment variable that supplies the password without a prompt (scripts and tests).
pub const PASSWORD_VAR: &str = "HWA_PASSWORD";

/// `hwa login`.
#[derive(Clone, Debug)]
pub struct LoginParams {
    pub proxy: ProxyUrl,
    pub trust: Trust,
    pub user: String,
    pub device: DeviceChoice,
}

/// `hwa signup`.
#[derive(Clone, Debug)]
pub struct SignupParams {
    pub invite_url: String,
    pub trust: Trust,
    pub device: DeviceChoice,
}

/// Logs in with password and WebAuthn and saves the session profile.
pub async fn login(env: &mut ClientEnv, params: &LoginParams) -> Result<Profile, ClientError> {
    let password = password(env, &format!("Password for {}: ", params.user), false).await?;
    let mut device = open_device(env, &params.device)?;
    let client = HttpClient::new(env.net.clone(), params.proxy.clone(), &params.trust)?;
    let mut begin = LoginBeginRequest { user: params.user.clone(), password: password.to_string() };
    let challenge: MfaChallengeResponse =
        client.json(&Call::new(Method::POST, "/webapi/mfa/login/begin").json(&begin)?).await?;
    begin.password.zeroize();
    env.say("touch your authenticator to log in").await.map_err(stderr_failed)?;
    let assertion = device
        .authenticate(&challenge.webauthn_challenge, &params.proxy.origin(), env.term.as_mut())
        .await
        .map_err(ClientError::Authenticator)?;
    let finish = LoginFinishRequest { user: params.user.clone(), webauthn_response: assertion };
    let session: SessionResponse =
        client.json(&Call::new(Method::POST, "/webapi/mfa/login/finish").json(&finish)?).await?;
    save(env, &params.proxy, session).await
}

/// Accepts an invite: sets the password, registers the authenticator and saves the session.
pub async fn signup(env: &mut ClientEnv, params: &SignupParams) -> Result<Profile, ClientError> {
    let (proxy, token) = parse_invite(&params.invite_url)?;
    let client = HttpClient::new(env.net.clone(), proxy.clone(), &params.trust)?;
    let invite: InviteView =
        client.json(&Call::new(Method::GET, format!("/webapi/invites/{token}"))).await?;
    env.say(&format!("signing up as user {}", invite.user)).await.map_err(stderr_failed)?;
    let password = password(env, &format!("New password for {}: ", invite.user), true).await?;
    let mut device = open_device(env, &params.device)?;
    let mut begin = RegisterBeginRequest { password: password.to_string() };
    let path = format!("/webapi/invites/{token}/register/begin");
    let creation: RegisterBeginResponse =
        client.json(&Call::new(Method::POST, path).json(&begin)?).await?;
    begin.password.zeroize();
    env.say("touch your authenticator to register it").await.map_err(stderr_failed)?;
    let credential = device
        .register(&creation.webauthn_creation, &proxy.origin(), env.term.as_mut())
        .await
        .map_err(ClientError::Authenticator)?;
    let finish = RegisterFinishRequest { webauthn_response: credential };
    let path = format!("/webapi/invites/{token}/register/finish");
    let session: SessionResponse =
        client.json(&Call::new(Method::POST, path).json(&finish)?).await?;
    save(env, &proxy, session).await
}

/// Splits an invite URL into the proxy and the invite token (its last path segment).
pub fn parse_invite(text: &str) -> Result<(ProxyUrl, String), ClientError> {
    let bad = |why: &str| {
        ClientError::Usage(format!(
            "`{text}` is not an invite URL ({why}); copy the URL `hwactl users add` printed"
        ))
    };
    let url = url::Url::parse(text.trim()).map_err(|_| bad("it does not parse"))?;
    let token = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|t| {
            !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .ok_or_else(|| bad("it names no invite token"))?
        .to_owned();
    let origin = url.origin().ascii_serialization();
    let proxy = ProxyUrl::parse(&origin)?;
    Ok((proxy, token))
}

async fn save(
    env: &mut ClientEnv,
    proxy: &ProxyUrl,
    session: SessionResponse,
) -> Result<Profile, ClientError> {
    let home = env.home.clone().ok_or_else(|| {
        ClientError::Config("no home directory (set HOME) to keep the session profile in".into())
    })?;
    let profile = Profile {
        proxy: proxy_arg(proxy),
        user: session.user,
        token: session.token,
        expires_at: session.expires_at,
    };
    let path = ProfileStore::new(&home).save(proxy, &profile)?;
    env.say(&format!(
        "logged in as {} at {}; profile saved in {}",
        profile.user,
        proxy,
        path.display()
    ))
    .await
    .map_err(stderr_failed)?;
    Ok(profile)
}

/// The password from [`PASSWORD_VAR`], or asked on the terminal (twice when `confirm`).
async fn password(
    env: &mut ClientEnv,
    prompt: &str,
    confirm: bool,
) -> Result<Zeroizing<String>, ClientError> {
    if let Some(p) = env.var(PASSWORD_VAR) {
        return Ok(Zeroizing::new(p.to_owned()));
    }
    let first = env
        .term
        .read_secret(prompt)
        .await
        .map_err(|e| ClientError::io("reading the password", e))?;
    if first.is_empty() {
        return Err(ClientError::Usage(format!(
            "no password given; type one or set {PASSWORD_VAR}"
        )));
    }
    if confirm {
        let again = env
            .term
            .read_secret("Repeat the password: ")
            .await
            .map_err(|e| ClientError::io("reading the password", e))?;
        if *again != *first {
            return Err(ClientError::Usage(
                "the two passwords differ; run the command again".into(),
            ));
        }
    }
    Ok(first)
}

pub(crate) fn open_device(
    env: &ClientEnv,
    choice: &DeviceChoice,
) -> Result<Box<dyn crate::env::WebauthnDevice>, ClientError> {
    env.authenticators.open(choice).map_err(ClientError::Authenticator)
}

pub(crate) fn stderr_failed(e: std::io::Error) -> ClientError {
    ClientError::io("writing to standard error", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_url_gives_the_proxy_and_the_token() {
        let (proxy, token) = parse_invite("http://127.0.0.1:3080/web/invite/ab12cd").unwrap();
        assert_eq!(proxy.authority(), "127.0.0.1:3080");
        assert_eq!(token, "ab12cd");
        let (proxy, _) = parse_invite("https://proxy.example.com/web/invite/ab12").unwrap();
        assert_eq!(proxy.authority(), "proxy.example.com:443");
    }

    #[test]
    fn a_url_without_a_token_or_with_odd_characters_is_refused() {
        assert!(parse_invite("http://127.0.0.1:3080/").is_err());
        assert!(parse_invite("http://127.0.0.1:3080/web/invite/a%2Fb").is_err());
        assert!(parse_invite("not a url").is_err());
    }
}
