//! The memory-locking decision table of a headless command (SPEC HL-06).
//!
//! | mode | locker says | result |
//! |---|---|---|
//! | off | (not asked) | nothing locked, no message |
//! | best effort | all locked | no message |
//! | best effort | finite limit | key buffers locked, a warning saying so and how to lock all |
//! | best effort | error | nothing locked, a warning with the remedy, the command goes on |
//! | strict | all locked | no message |
//! | strict | finite limit | the command fails, asking for an unlimited limit |
//! | strict | error | the command fails with the remedy |
//!
//! `mlockall` is never called under a finite limit: the locker checks the limit first (see
//! [`hwa_core::memlock`]) because later allocations would abort the process.

use hwa_core::memlock::{LockOutcome, MemoryLocker, MlockError, MlockMode};

use crate::error::ClientError;

/// What a command does about its secret buffers after the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlockPlan {
    /// Lock each secret buffer with `lock_region`, because the whole process is not locked.
    pub lock_secrets: bool,
    /// Whether a failed region lock fails the command.
    pub strict: bool,
    /// Warnings to show the user before going on.
    pub warnings: Vec<String>,
}

impl MlockPlan {
    /// The plan that locks nothing and says nothing.
    pub fn none() -> MlockPlan {
        MlockPlan { lock_secrets: false, strict: false, warnings: Vec::new() }
    }
}

/// Applies `mode` (already resolved for the command) with `locker`.
pub fn decide(mode: MlockMode, locker: &dyn MemoryLocker) -> Result<MlockPlan, ClientError> {
    let strict = match mode {
        MlockMode::Off | MlockMode::Auto => return Ok(MlockPlan::none()),
        MlockMode::BestEffort => false,
        MlockMode::Strict => true,
    };
    match locker.lock_all() {
        Ok(LockOutcome::All) => Ok(MlockPlan { lock_secrets: false, strict, warnings: Vec::new() }),
        Ok(LockOutcome::SecretsOnly { limit }) if strict => Err(ClientError::Mlock(format!(
            "--mlock=strict locks the whole process, which needs an unlimited memory lock limit \
             (it is {limit}); run `ulimit -l unlimited`, or add the line `<os_username> hard \
             memlock unlimited` to /etc/security/limits.conf and log in again"
        ))),
        Ok(LockOutcome::SecretsOnly { limit }) => Ok(MlockPlan {
            lock_secrets: true,
            strict,
            warnings: vec![format!(
                "warning: the memory lock limit is {limit}, so only the key buffers are locked, \
                 not the whole process; to lock everything run `ulimit -l unlimited`, or add \
                 the line `<os_username> hard memlock unlimited` to /etc/security/limits.conf"
            )],
        }),
        Err(e) if strict => Err(ClientError::Mlock(format!("{e}; {}", e.advice()))),
        Err(e) => {
            Ok(MlockPlan { lock_secrets: false, strict, warnings: vec![failure_warning(&e)] })
        }
    }
}

fn failure_warning(e: &MlockError) -> String {
    format!("warning: could not lock memory ({e}), going on without it; {}", e.advice())
}

/// What a failed `lock_region` means under `plan`: an error in strict mode, else a warning.
pub fn region_failure(plan: &MlockPlan, e: &MlockError) -> Result<String, ClientError> {
    if plan.strict {
        Err(ClientError::Mlock(format!("locking the key buffer failed: {e}; {}", e.advice())))
    } else {
        Ok(failure_warning(e))
    }
}

#[cfg(test)]
mod tests {
    use hwa_core::memlock::{SimLockBehaviour, SimLocker};

    use super::*;

    fn outcome(mode: MlockMode, behaviour: SimLockBehaviour) -> String {
        match decide(mode, &SimLocker(behaviour)) {
            Ok(plan) => format!(
                "ok lock_secrets={} strict={}\n{}",
                plan.lock_secrets,
                plan.strict,
                plan.warnings.join("\n")
            ),
            Err(e) => format!("error: {e}"),
        }
    }

    fn behaviours() -> Vec<(&'static str, SimLockBehaviour)> {
        vec![
            ("succeed", SimLockBehaviour::Succeed),
            ("finite_limit", SimLockBehaviour::FiniteLimit { bytes: 8 * 1024 * 1024 }),
            ("permission_denied", SimLockBehaviour::PermissionDenied),
            ("out_of_memory", SimLockBehaviour::OutOfMemory),
            ("unsupported_os", SimLockBehaviour::UnsupportedOs),
        ]
    }

    #[test]
    fn off_never_asks_the_locker_and_says_nothing() {
        for (_, b) in behaviours() {
            assert_eq!(decide(MlockMode::Off, &SimLocker(b)).unwrap(), MlockPlan::none());
        }
    }

    #[test]
    fn best_effort_goes_on_after_every_outcome_with_the_right_message() {
        for (name, b) in behaviours() {
            insta::assert_snapshot!(
                format!("best_effort_{name}"),
                outcome(MlockMode::BestEffort, b)
            );
        }
    }

    #[test]
    fn strict_fails_unless_everything_is_locked() {
        for (name, b) in behaviours() {
            insta::assert_snapshot!(format!("strict_{name}"), outcome(MlockMode::Strict, b));
        }
    }

    #[test]
    fn a_failed_region_lock_warns_in_best_effort_and_fails_in_strict() {
        let mut plan = MlockPlan { lock_secrets: true, strict: false, warnings: vec![] };
        assert!(
            region_failure(&plan, &MlockError::PermissionDenied).unwrap().contains("ulimit -l")
        );
        plan.strict = true;
        assert!(region_failure(&plan, &MlockError::PermissionDenied).is_err());
    }
}
