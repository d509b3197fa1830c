//! How a simulated run ends, and the exit codes that tell the kinds apart.
//!
//! A safety failure (an invariant broke: two decisions, a certificate without approval) is the
//! worst news and must never be confused with a liveness failure (the run was safe but a
//! legitimate request was not decided in time) or a crash (a host's software panicked or
//! returned an error the scenario did not expect).

use std::fmt;
use std::process::ExitCode;

/// The end of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Safety(String),
    Liveness(String),
    Crash(String),
}

impl Outcome {
    pub fn is_pass(&self) -> bool {
        *self == Outcome::Pass
    }

    /// 0 pass, 10 safety, 11 liveness, 12 crash. (2 is left to usage errors.)
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Safety(_) => 10,
            Outcome::Liveness(_) => 11,
            Outcome::Crash(_) => 12,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Safety(_) => "safety",
            Outcome::Liveness(_) => "liveness",
            Outcome::Crash(_) => "crash",
        }
    }
}

impl From<&Outcome> for ExitCode {
    fn from(outcome: &Outcome) -> ExitCode {
        ExitCode::from(outcome.exit_code())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Pass => f.write_str("pass"),
            Outcome::Safety(m) => write!(f, "safety failure: {m}"),
            Outcome::Liveness(m) => write!(f, "liveness failure: {m}"),
            Outcome::Crash(m) => write!(f, "crash: {m}"),
        }
    }
}
