//! Shared vocabulary of headless-webauthn: the seams that make simulation possible, the request
//! ID derivation, the protocol constants and the JSON shapes of the HTTP surface.
//!
//! Every other crate depends on this one; it depends on none of them. It owns no behaviour of
//! the auth service, proxy or client beyond what both ends of a wire must agree on.
//!
//! | module | what it owns |
//! |---|---|
//! | [`clock`] | the wall clock seam: real time in production, simulated time under turmoil |
//! | [`entropy`] | the randomness seam: the operating system's generator, or a seeded stream |
//! | [`net`] | the network seam: listen and dial over tokio or turmoil |
//! | [`memlock`] | the memory-locking seam and the messages that tell users what to do |
//! | [`id`] | the request ID (SPEC HL-03) and the match code shown on both sides (HL-15) |
//! | [`limits`] | protocol constants (SPEC section 4) and the bounds on every queue |
//! | [`admin`] | JSON bodies of the administration API that `hwactl` calls |
//! | [`api`] | JSON bodies of the reference HTTP surface (SPEC section 5) and its error shape |
//! | [`node_audit`] | what nodes report to the cluster's audit log |
//! | [`time`] | the one timestamp type, milliseconds since the Unix epoch |

pub mod admin;
pub mod api;
pub mod clock;
pub mod entropy;
pub mod id;
pub mod limits;
pub mod memlock;
pub mod net;
pub mod node_audit;
pub mod time;

pub use clock::{Clock, SharedClock};
pub use entropy::{Entropy, SharedEntropy};
pub use net::{BoxStream, Listener, Network, SharedNetwork};
pub use time::UnixMillis;
