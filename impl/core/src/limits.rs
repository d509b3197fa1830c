//! Protocol constants and the bounds on every queue, map of pending work and body size.
//!
//! Each value says where it comes from. Changing one changes observable behaviour that the
//! conformance suite checks, so they live in one place.

use std::time::Duration;

/// How long a headless request lives, and how long its login long poll may wait (SPEC
/// section 4: the reference default, matching its single-sign-on callback timeout).
pub const REQUEST_TTL: Duration = Duration::from_secs(180);

/// Validity of a certificate issued from a headless approval (SPEC HL-17: bounds the damage a
/// stolen certificate can do, whatever TTL the client asked for).
pub const CERT_TTL: Duration = Duration::from_secs(60);

/// How long an approver's request waits for the login to fill in the record after the approver
/// showed interest (SPEC section 4, the reference default).
pub const INTEREST_WAIT: Duration = Duration::from_secs(5);

/// Random bytes in a WebAuthn challenge (WebAuthn requires at least 16; we use 32).
pub const CHALLENGE_BYTES: usize = 32;

/// How long an issued WebAuthn challenge may be answered: the WebAuthn default ceremony
/// timeout of five minutes is longer than a headless request lives, so the request bounds it.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(180);

/// Lifetime of a web session after password and WebAuthn login (the reference's default web
/// session length is 12 hours).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Lifetime of a signup invite (the reference's default for user invites is one hour).
pub const INVITE_TTL: Duration = Duration::from_secs(3600);

/// Logins that may wait at once for one user: a person runs a handful of commands in
/// parallel, never hundreds; past this a flood cannot pin server memory.
pub const PENDING_PER_USER_MAX: usize = 16;

/// Logins that may wait at once on one proxy, across all users.
pub const PENDING_PER_SERVER_MAX: usize = 10_000;

/// Largest request body any endpoint accepts. A WebAuthn attestation with a certificate
/// chain is the largest legitimate body, a few kilobytes.
pub const BODY_MAX_BYTES: usize = 64 * 1024;

/// Unauthenticated requests allowed per client address per window, and the window
/// (the reference rate-limits its unauthenticated web endpoints per address in this range).
pub const UNAUTH_RATE_BURST: u32 = 20;
pub const UNAUTH_RATE_WINDOW: Duration = Duration::from_secs(60);

/// Default ports of the reference, kept for familiarity (SPEC section 4).
pub const WEB_PROXY_PORT: u16 = 3080;
pub const SSH_PROXY_PORT: u16 = 3023;
pub const NODE_PORT: u16 = 3022;
pub const AUTH_PORT: u16 = 3025;
