//! The conformance suite: requirements as data, scenarios written once and run against several
//! targets, and reports that CI systems and people read.
//!
//! | module | what it owns |
//! |---|---|
//! | [`catalog`] | the requirement catalog and the skip list, loaded and validated |
//! | [`report`] | case results and the JUnit, Markdown and JSON reports |
//! | [`target`] | the target interface: what a case may do on a machine |
//! | [`plan`] | what a case describes: users, preference, machines, checks |
//! | [`cases`] | the cases, written once against [`target::Machine`] |
//! | [`sim`] | the `sim` target: the simulated cluster, in process |
//! | [`live`] | the `live` target: real `hwad`, `hwactl` and `hwa` processes on loopback |
//! | [`runner`] | which case runs where, validation, running, results |

pub mod cases;
pub mod catalog;
pub mod live;
pub mod plan;
pub mod report;
pub mod runner;
pub mod sim;
pub mod target;
