//! The deterministic simulator: the real auth service, proxy, client and approver code running
//! as turmoil hosts, with faults and adversaries scheduled from a seed.
//!
//! | module | what it owns |
//! |---|---|
//! | [`harness`] | one run: building the cluster, stepping, faults, safety then liveness |
//! | [`scenarios`] | the scenarios, and the steps people and attackers take in them |
//! | [`invariants`] | the safety rules checked after every step |
//! | [`board`] | what hosts see of each other outside the network, and observations |
//! | [`hosts`] | the client environment of a simulated machine |
//! | [`schedule`] | fault schedules as data, and drawing one from a seed |
//! | [`explore`] | sweeps over seeds, races and the determinism check |
//! | [`trace`] | the deterministic event trace and its digest |
//! | [`outcome`] | how a run ends: pass, safety, liveness or crash |

pub mod board;
pub mod explore;
pub mod harness;
pub mod hosts;
pub mod invariants;
pub mod outcome;
pub mod scenarios;
pub mod schedule;
pub mod trace;
