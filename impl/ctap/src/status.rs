//! CTAP2 status codes: the first byte of every answer a security key gives.

use std::fmt;

/// A CTAP2 status byte. Only the codes a WebAuthn client acts on have names; the rest are
/// shown by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u8);

impl Status {
    pub const OK: Status = Status(0x00);
    pub const INVALID_COMMAND: Status = Status(0x01);
    pub const INVALID_PARAMETER: Status = Status(0x02);
    pub const INVALID_LENGTH: Status = Status(0x03);
    pub const INVALID_CBOR: Status = Status(0x12);
    pub const MISSING_PARAMETER: Status = Status(0x14);
    pub const CREDENTIAL_EXCLUDED: Status = Status(0x19);
    pub const UNSUPPORTED_ALGORITHM: Status = Status(0x26);
    pub const OPERATION_DENIED: Status = Status(0x27);
    pub const UNSUPPORTED_OPTION: Status = Status(0x2B);
    pub const KEEPALIVE_CANCEL: Status = Status(0x2D);
    pub const NO_CREDENTIALS: Status = Status(0x2E);
    pub const USER_ACTION_TIMEOUT: Status = Status(0x2F);
    pub const PIN_INVALID: Status = Status(0x31);
    pub const PIN_BLOCKED: Status = Status(0x32);
    pub const PIN_AUTH_INVALID: Status = Status(0x33);
    pub const PIN_AUTH_BLOCKED: Status = Status(0x34);
    pub const PIN_NOT_SET: Status = Status(0x35);
    pub const PUAT_REQUIRED: Status = Status(0x36);
    pub const PIN_POLICY_VIOLATION: Status = Status(0x37);
    pub const UNAUTHORIZED_PERMISSION: Status = Status(0x40);
    pub const OTHER: Status = Status(0x7F);

    /// What the code means, in words a person at the keyboard can act on.
    pub fn meaning(self) -> &'static str {
        match self {
            Status::OK => "success",
            Status::INVALID_COMMAND => "the key does not know this command",
            Status::INVALID_PARAMETER => "the key refused a parameter of the request",
            Status::INVALID_LENGTH => "the request has the wrong length",
            Status::INVALID_CBOR => "the key could not decode the request",
            Status::MISSING_PARAMETER => "the request lacks a parameter the key needs",
            Status::CREDENTIAL_EXCLUDED => "this key is already registered for this account",
            Status::UNSUPPORTED_ALGORITHM => "the key supports none of the requested algorithms",
            Status::OPERATION_DENIED => "the key refused the operation",
            Status::UNSUPPORTED_OPTION => "the key does not support a requested option",
            Status::KEEPALIVE_CANCEL => "the operation was cancelled",
            Status::NO_CREDENTIALS => "this key holds no credential for this account",
            Status::USER_ACTION_TIMEOUT => "nobody touched the key in time",
            Status::PIN_INVALID => "wrong PIN",
            Status::PIN_BLOCKED => "the PIN is blocked after too many wrong tries",
            Status::PIN_AUTH_INVALID => "the key did not accept the PIN token",
            Status::PIN_AUTH_BLOCKED => {
                "too many wrong PINs since the key was plugged in; unplug it and plug it in again"
            }
            Status::PIN_NOT_SET => "the key has no PIN",
            Status::PUAT_REQUIRED => "the key needs its PIN for this",
            Status::PIN_POLICY_VIOLATION => "the PIN does not meet the key's rules",
            Status::UNAUTHORIZED_PERMISSION => "the PIN token does not allow this",
            _ => "the key reported an error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (CTAP status 0x{:02x})", self.meaning(), self.0)
    }
}
