//! Benchmarks of headless-webauthn: each one drives the real product (store, auth service,
//! proxy, client library, or the simulator) and writes a Markdown and a JSON report under
//! `reports/bench/`, so speed is compared side by side in one run rather than asserted by timed
//! tests.
//!
//! | module | what it owns |
//! |---|---|
//! | [`cluster`] | one auth service on a fresh SQLite store behind the real proxy on loopback |
//! | [`people`] | users signed up through the real invite flow, and what an approver does |
//! | [`waiting`] | waiting headless logins, in this process or a helper process |
//! | [`decision`] | `decision-latency`: from the approver's decision to the certificate |
//! | [`throughput`] | `sim-throughput`: simulated scenario runs per second |
//! | [`ssh_setup`] | `ssh-setup`: SSH session set-up through the proxy and direct, beside OpenSSH |
//! | [`fanout`] | the store's watch fan-out cost at a pending count, measured directly |
//! | [`stats`] | min, median, p90 and max of a set of samples |
//! | [`machine`] | facts about the machine, peak memory and the open-files limit |
//! | [`report`] | writing the report files |
//!
//! The binary (`src/main.rs`) only parses arguments, sets up logging and calls these.

pub mod cluster;
pub mod decision;
pub mod fanout;
pub mod machine;
pub mod people;
pub mod report;
pub mod ssh_setup;
pub mod stats;
pub mod throughput;
pub mod waiting;
