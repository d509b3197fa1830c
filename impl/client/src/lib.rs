//! The `hwa` client as a library: every command the `hwa` binary offers, written against an
//! injected [`ClientEnv`] so that the simulator runs this very code as a turmoil host.
//!
//! `main.rs` only builds the real environment (tokio sockets, the system clock and generator,
//! `mlockall`, real stdio) and calls [`run()`]. Nothing here reads the process environment, the
//! wall clock or the operating system's randomness directly.
//!
//! | module | what it owns |
//! |---|---|
//! | [`mod@env`] | the seams: network, clock, entropy, locker, terminal, authenticators |
//! | [`cli`] | argument parsing and the resolution of flags against environment variables |
//! | [`device`] | the binary's WebAuthn devices: software authenticator files, security keys |
//! | [`securitykey`] | USB security keys over hidraw: PIN, CTAP2, the WebAuthn JSON |
//! | [`error`] | [`ClientError`], its exit codes and how proxy errors read |
//! | [`proxy_url`] | the proxy address, its scheme and the loopback rule for plain HTTP |
//! | [`http`] | a small HTTP/1 client over the network seam, with TLS |
//! | [`mlock`] | the memory-locking decision table (SPEC HL-06) |
//! | [`secret`] | zeroized, locked buffers for key material |
//! | [`headless`] | headless login: key, request ID, long poll, in-memory identity |
//! | [`certauth`] | the `HwaCert` authorization header of a headless identity |
//! | [`profile`] | session profiles under `~/.hwa/profiles` |
//! | [`session`] | `hwa login` and `hwa signup` |
//! | [`mod@approve`] | `hwa headless approve` and `hwa headless watch` |
//! | [`sse`] | a server-sent events parser for `/webapi/headless/events` |
//! | [`nodes`] | `hwa ls` |
//! | [`remote`] | `hwa ssh` and `hwa scp` through the proxy's node tunnel |
//! | [`mod@run`] | command dispatch and exit codes |
//!
//! # Running under the simulator
//! A turmoil host builds a [`ClientEnv`] from `TurmoilNetwork`, a `SimClock`, a
//! `SeededEntropy`, a `SimLocker`, `home: None` (headless commands never need one), an
//! [`IoTerminal`] over in-memory pipes, and an [`AuthenticatorFactory`] handing out
//! [`device::SoftDevice`]s over in-memory software authenticators. It then calls [`run()`] with
//! a command line, or the typed functions ([`headless_login`], [`approve()`], [`watch`],
//! [`login`], [`signup`], [`list_nodes`]) directly. Every command future is `Send`.

pub mod approve;
pub mod certauth;
pub mod cli;
pub mod device;
pub mod env;
pub mod error;
pub mod headless;
pub mod http;
pub mod mlock;
pub mod nodes;
pub mod profile;
pub mod proxy_url;
pub mod remote;
pub mod run;
pub mod secret;
pub mod securitykey;
pub mod session;
pub mod sessioncert;
pub mod sse;

pub use approve::{ApproveParams, WatchParams, approve, watch};
pub use env::{
    Attached, AuthenticatorFactory, ClientEnv, DeviceChoice, IoTerminal, LocalTty, Terminal,
    WebauthnDevice,
};
pub use error::ClientError;
pub use headless::{HeadlessIdentity, HeadlessParams, headless_login};
pub use nodes::{ListParams, list_nodes};
pub use run::run;
pub use session::{LoginParams, SignupParams, login, signup};
