//! [`AuthError`]: every way an auth service call can fail, each with the stable
//! [`ErrorCode`] the HTTP surface answers with and a message a person can act on.
//!
//! This module owns the wording; the proxy owns the HTTP status each code maps to and the
//! decision of which errors to log. Messages are lowercase, carry no final period, name the
//! offending value and say what to do. They never contain a secret: no token, password,
//! assertion or private key is ever formatted into one.

use hwa_core::api::{ErrorCode, RequestState};
use hwa_core::id::RequestId;
use hwa_store::StoreError;

/// Why an auth service call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A field of a request body or argument is not acceptable.
    #[error("{0}")]
    BadRequest(String),

    #[error(
        "`{0}` is not a valid user name; use 1 to 64 lowercase letters, digits, `.`, `_` or `-`, \
         starting with a letter or digit"
    )]
    InvalidUserName(String),

    #[error(
        "`{0}` is not a valid login; use 1 to 32 lowercase letters, digits, `.`, `_` or `-`, \
         starting with a letter, digit or `_`"
    )]
    InvalidLogin(String),

    #[error("the password is too short; choose one of at least {min} characters")]
    PasswordTooShort { min: usize },

    #[error("the password is too long; choose one of at most {max} characters")]
    PasswordTooLong { max: usize },

    /// Wrong password, unknown user and a user who never signed up look the same.
    #[error("user name or password is wrong; check both and try again")]
    LoginFailed,

    #[error("the session is unknown or expired; log in again")]
    SessionInvalid,

    #[error("the admin token is not valid; use the admin identity `hwad` wrote at its last start")]
    AdminTokenInvalid,

    #[error("the invite is unknown, used or expired; ask an administrator for a new invite")]
    InviteInvalid,

    #[error("user {0} already exists; pick another name or delete the user first")]
    UserExists(String),

    #[error("user {0} does not exist; check the name with `hwactl users ls`")]
    UserNotFound(String),

    #[error("role {0} does not exist; create it first or check the name with `hwactl get roles`")]
    RoleNotFound(String),

    #[error(
        "user {0} has no registered security key; finish signing up from the invite link first"
    )]
    NoCredentials(String),

    #[error(
        "headless login is disabled for this cluster; ask an administrator to set \
         `headless: true` in cluster_auth_preference"
    )]
    HeadlessDisabled,

    #[error(
        "request id {id} was not derived from the submitted public key; the client must send \
         the id it derived from exactly the key it sends"
    )]
    IdMismatch { id: RequestId },

    #[error("the submitted ssh public key is not usable: {0}; send one OpenSSH public key line")]
    InvalidPublicKey(String),

    #[error(
        "a login for request {id} is already waiting; every headless command generates a new \
         key, start the command again"
    )]
    DuplicateWaiting { id: RequestId },

    /// The client sent the same login again (it lost its connection) and the newer one waits
    /// in this one's place; nobody reads this answer unless the old connection still lives.
    #[error(
        "a newer login for request {id} took over this one; the command that sent it waits for \
         the decision"
    )]
    Superseded { id: RequestId },

    /// A login resuming request `id` asks for something else than the stored request the
    /// approver sees; only an identical login may resume it.
    #[error(
        "request {id} is already stored with another client address or scope; a resumed login \
         must send the same request, start the command again"
    )]
    ResumedLoginDiffers { id: RequestId },

    #[error(
        "user {user} already has {max} headless logins waiting; approve, deny or let them time \
         out before starting more"
    )]
    TooManyPendingForUser { user: String, max: usize },

    #[error("this server already holds {max} waiting headless logins; try again in a few minutes")]
    TooManyPendingOnServer { max: usize },

    #[error(
        "request {id} is not a request of user {user}: only the user who started a headless \
         request can see, approve or deny it; log in as that user"
    )]
    NotRequestOwner { id: RequestId, user: String },

    #[error(
        "no headless request {id} is waiting for user {user}; it may have timed out, or been \
         started by another user: check the id the command printed and log in as the user who \
         started the command"
    )]
    RequestNotFound { id: RequestId, user: String },

    #[error("request {id} was already {state}; a decision is final, start the command again")]
    AlreadyDecided { id: RequestId, state: StateName },

    #[error("request {id} expired; start the command again on the remote machine")]
    RequestExpired { id: RequestId },

    #[error(
        "no decision on request {id} within {secs} seconds; start the command again and approve \
         it in time"
    )]
    Timeout { id: RequestId, secs: u64 },

    #[error("request {id} was denied; start the command again if you meant to approve it")]
    Denied { id: RequestId },

    /// `to` says what the password was sent for: "approve headless requests", "verify ssh
    /// sessions".
    #[error("one-time passwords cannot {to}; use your security key")]
    TotpRefused { to: &'static str },

    #[error(
        "approving request {id} needs a webauthn assertion; ask for a challenge with scope \
         headless for this request and answer it with your security key"
    )]
    AssertionRequired { id: RequestId },

    #[error(
        "a role of user {user} requires per-session mfa: ask for a challenge with scope \
         session_mfa, answer it with your security key and send the assertion with the request"
    )]
    SessionMfaRequired { user: String },

    #[error("the webauthn challenge is unknown, already used or expired; ask for a new challenge")]
    ChallengeInvalid,

    #[error(
        "this assertion answers a challenge for {issued_for}, not for {wanted}; ask for a \
         challenge for {wanted} and answer that one"
    )]
    ChallengeScope { issued_for: String, wanted: String },

    /// The relying party refused the ceremony; `check` names the SPEC section 3 step.
    #[error("webauthn check `{check}` failed: {message}")]
    Webauthn { check: &'static str, message: String },

    #[error("{target} is locked: {message}; ask an administrator to remove the lock")]
    Locked { target: String, message: String },

    #[error(
        "user {user} may not use login(s) {asked}; permitted logins are [{permitted}]; ask an \
         administrator for access"
    )]
    LoginsNotPermitted { user: String, asked: String, permitted: String },

    #[error("invalid {kind}: {message}")]
    InvalidResource { kind: String, message: String },

    #[error("{kind} {name} already exists; apply it with force to replace it")]
    ResourceExists { kind: String, name: String },

    #[error("{kind} {name} does not exist")]
    ResourceNotFound { kind: String, name: String },

    #[error("unknown resource kind `{0}`; kinds are cluster_auth_preference and role")]
    UnknownKind(String),

    #[error("lock {0} does not exist; list locks with `hwactl locks ls`")]
    LockNotFound(String),

    #[error("certificate authorization refused: {0}")]
    CertAuth(String),

    #[error("node {0} is not valid: {1}")]
    InvalidNode(String, String),

    #[error("storage failed: {0}")]
    Store(#[from] StoreError),

    /// A bug or a corrupt record; the proxy answers with a generic message and logs this one.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A decided state as it reads in a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateName(pub RequestState);

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
        })
    }
}

impl AuthError {
    /// The stable code the HTTP surface answers with.
    pub fn code(&self) -> ErrorCode {
        use AuthError as E;
        match self {
            E::BadRequest(_)
            | E::InvalidUserName(_)
            | E::InvalidLogin(_)
            | E::PasswordTooShort { .. }
            | E::PasswordTooLong { .. }
            | E::IdMismatch { .. }
            | E::InvalidPublicKey(_)
            | E::InvalidResource { .. }
            | E::UnknownKind(_)
            | E::InvalidNode(..) => ErrorCode::BadRequest,
            E::LoginFailed
            | E::SessionInvalid
            | E::AdminTokenInvalid
            | E::InviteInvalid
            | E::CertAuth(_) => ErrorCode::Unauthenticated,
            E::NotRequestOwner { .. } | E::LoginsNotPermitted { .. } => ErrorCode::Forbidden,
            E::UserNotFound(_)
            | E::RoleNotFound(_)
            | E::RequestNotFound { .. }
            | E::ResourceNotFound { .. }
            | E::LockNotFound(_) => ErrorCode::NotFound,
            E::AlreadyDecided { .. } => ErrorCode::AlreadyDecided,
            E::UserExists(_)
            | E::ResourceExists { .. }
            | E::DuplicateWaiting { .. }
            | E::Superseded { .. }
            | E::ResumedLoginDiffers { .. } => ErrorCode::Conflict,
            E::RequestExpired { .. } => ErrorCode::Expired,
            E::Timeout { .. } => ErrorCode::Timeout,
            E::Denied { .. } => ErrorCode::Denied,
            E::HeadlessDisabled => ErrorCode::HeadlessDisabled,
            E::Locked { .. } => ErrorCode::Locked,
            E::SessionMfaRequired { .. } => ErrorCode::MfaRequired,
            E::NoCredentials(_)
            | E::TotpRefused { .. }
            | E::AssertionRequired { .. }
            | E::ChallengeInvalid
            | E::ChallengeScope { .. }
            | E::Webauthn { .. } => ErrorCode::MfaFailed,
            E::TooManyPendingForUser { .. } | E::TooManyPendingOnServer { .. } => {
                ErrorCode::TooManyPending
            }
            E::Store(_) | E::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The body of the HTTP answer: the code and this error's message.
    pub fn to_api_error(&self) -> hwa_core::api::ApiError {
        hwa_core::api::ApiError::new(self.code(), self.to_string())
    }

    /// A corrupt stored record: a bug or tampering, never the caller's fault.
    pub(crate) fn corrupt(key: &str, err: impl std::fmt::Display) -> AuthError {
        AuthError::Internal(format!("stored record `{key}` is unreadable: {err}"))
    }
}

impl From<hwa_webauthn::WebauthnError> for AuthError {
    fn from(err: hwa_webauthn::WebauthnError) -> AuthError {
        AuthError::Webauthn { check: err.check(), message: err.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_final_period() {
        let id = RequestId::derive(b"k");
        let samples = [
            AuthError::HeadlessDisabled,
            AuthError::TotpRefused { to: "approve headless requests" },
            AuthError::NotRequestOwner { id: id.clone(), user: "bob".into() },
            AuthError::Timeout { id, secs: 180 },
            AuthError::PasswordTooShort { min: 12 },
        ];
        for err in samples {
            let text = err.to_string();
            assert!(!text.ends_with('.'), "{text}");
            assert_eq!(text.chars().next(), text.chars().next().map(|c| c.to_ascii_lowercase()));
        }
    }

    #[test]
    fn another_users_request_names_the_user_and_what_to_do() {
        let id: RequestId = "bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f".parse().unwrap();
        let err = AuthError::NotRequestOwner { id, user: "bob".into() };
        assert_eq!(
            err.to_string(),
            "request bb2d2f28-d1b9-54f5-bfe0-33a70d669f5f is not a request of user bob: only the \
             user who started a headless request can see, approve or deny it; log in as that user"
        );
        assert_eq!(err.code(), ErrorCode::Forbidden);
    }
}
