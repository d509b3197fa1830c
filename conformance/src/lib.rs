//! The conformance suite: requirements as data, scenarios written once and run against several
//! targets, and reports that CI systems and people read.
//!
//! | module | what it owns |
//! |---|---|
//! | [`catalog`] | the requirement catalog and the skip list, loaded and validated |
//! | [`report`] | case results and the JUnit, Markdown and JSON reports |

pub mod catalog;
pub mod report;
