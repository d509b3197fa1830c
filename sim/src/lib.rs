//! The deterministic simulator: the real auth service, proxy, client and approver code running
//! as turmoil hosts, with faults and adversaries scheduled from a seed.
//!
//! | module | what it owns |
//! |---|---|
//! | [`schedule`] | fault schedules as data, and drawing one from a seed |
//! | [`trace`] | the deterministic event trace and its digest |
//! | [`outcome`] | how a run ends: pass, safety, liveness or crash |

pub mod outcome;
pub mod schedule;
pub mod trace;
