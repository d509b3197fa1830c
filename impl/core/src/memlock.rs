//! The memory-locking seam (SPEC HL-06) and the messages that tell a user what to do.
//!
//! A headless client holds a private key and a certificate in memory on a shared machine.
//! Locking its pages keeps them out of swap, where another user of the machine could read them
//! later. The policy is [`MlockMode`]; the mechanism is a [`MemoryLocker`]: [`SystemLocker`]
//! calls the operating system, [`SimLocker`] returns whatever outcome a simulation scenario
//! asks for, so every outcome is tested on every platform.
//!
//! # Why the limit is read first
//!
//! With a finite `RLIMIT_MEMLOCK` (Linux's default is 8 MiB), `mlockall(MCL_CURRENT |
//! MCL_FUTURE)` succeeds, and every later allocation past the limit then fails, which aborts a
//! Rust process. So [`SystemLocker::lock_all`] reads the limit first and only locks everything
//! when the limit is unlimited; with a finite limit it reports [`LockOutcome::SecretsOnly`] and
//! the caller locks just its secret buffers with [`MemoryLocker::lock_region`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

mod sys;

/// The user's choice of memory-locking policy (`--mlock`, `HWA_MLOCK_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlockMode {
    /// Do not lock memory.
    Off,
    /// `BestEffort` for headless commands, `Off` otherwise.
    Auto,
    /// Try to lock; on failure print a warning and go on.
    BestEffort,
    /// Lock everything or fail the command.
    Strict,
}

impl MlockMode {
    /// Resolves `Auto` for a command: headless commands hold secrets, so they try.
    pub fn resolve(self, headless: bool) -> MlockMode {
        match (self, headless) {
            (MlockMode::Auto, true) => MlockMode::BestEffort,
            (MlockMode::Auto, false) => MlockMode::Off,
            (mode, _) => mode,
        }
    }
}

impl FromStr for MlockMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(MlockMode::Off),
            "auto" => Ok(MlockMode::Auto),
            "best_effort" => Ok(MlockMode::BestEffort),
            "strict" => Ok(MlockMode::Strict),
            other => Err(format!(
                "unknown memory lock mode `{other}`; use one of off, auto, best_effort, strict"
            )),
        }
    }
}

impl fmt::Display for MlockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MlockMode::Off => "off",
            MlockMode::Auto => "auto",
            MlockMode::BestEffort => "best_effort",
            MlockMode::Strict => "strict",
        })
    }
}

/// The `RLIMIT_MEMLOCK` soft limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemlockLimit {
    Unlimited,
    Bytes(u64),
}

impl fmt::Display for MemlockLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemlockLimit::Unlimited => f.write_str("unlimited"),
            MemlockLimit::Bytes(b) => write!(f, "{} KiB", b / 1024),
        }
    }
}

/// What an attempt to lock all memory achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// All current and future pages are locked.
    All,
    /// The limit is finite, so locking everything would make later allocations abort the
    /// process; only buffers passed to [`MemoryLocker::lock_region`] will be locked.
    SecretsOnly { limit: MemlockLimit },
}

/// Why memory could not be locked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MlockError {
    #[error("not permitted to lock memory (EPERM)")]
    PermissionDenied,
    #[error("memory lock limit too low (ENOMEM, limit {limit})")]
    LimitTooLow { limit: MemlockLimit },
    #[error("memory locking is not supported on {os}")]
    Unsupported { os: String },
    #[error("memory locking failed with errno {errno}")]
    Other { errno: i32 },
}

impl MlockError {
    /// What the user should do about it, in the guide's words: raise the limit, or use Linux.
    pub fn advice(&self) -> String {
        match self {
            MlockError::PermissionDenied
            | MlockError::LimitTooLow { .. }
            | MlockError::Other { .. } => {
                "raise your memory lock limit: check it with `ulimit -l`, then run \
                 `ulimit -l unlimited`, or add the line `<os_username> hard memlock unlimited` \
                 to /etc/security/limits.conf and log in again"
                    .to_owned()
            }
            MlockError::Unsupported { .. } => {
                "the mlockall system call is only supported on Linux, so on this system the \
                 warning always appears; use headless login from Linux machines for the best \
                 protection on shared machines"
                    .to_owned()
            }
        }
    }
}

/// Locks process memory.
pub trait MemoryLocker: Send + Sync + fmt::Debug {
    /// Tries to lock all current and future pages (`mlockall(MCL_CURRENT | MCL_FUTURE)`).
    fn lock_all(&self) -> Result<LockOutcome, MlockError>;

    /// Locks the pages holding `bytes`, for secret buffers when everything cannot be locked.
    fn lock_region(&self, bytes: &[u8]) -> Result<(), MlockError>;

    /// Unlocks the pages holding `bytes`; errors are ignored because the buffer is being freed.
    fn unlock_region(&self, bytes: &[u8]);
}

pub type SharedLocker = Arc<dyn MemoryLocker>;

/// The operating system's memory locking.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemLocker;

impl MemoryLocker for SystemLocker {
    fn lock_all(&self) -> Result<LockOutcome, MlockError> {
        match sys::memlock_limit()? {
            MemlockLimit::Unlimited => {
                sys::lock_all()?;
                Ok(LockOutcome::All)
            }
            limit @ MemlockLimit::Bytes(_) => Ok(LockOutcome::SecretsOnly { limit }),
        }
    }

    fn lock_region(&self, bytes: &[u8]) -> Result<(), MlockError> {
        sys::lock_region(bytes)
    }

    fn unlock_region(&self, bytes: &[u8]) {
        sys::unlock_region(bytes);
    }
}

/// The outcomes a simulated machine can be given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimLockBehaviour {
    Succeed,
    FiniteLimit { bytes: u64 },
    PermissionDenied,
    OutOfMemory,
    UnsupportedOs,
}

/// A locker that returns the outcome the scenario chose.
#[derive(Clone, Debug)]
pub struct SimLocker(pub SimLockBehaviour);

impl MemoryLocker for SimLocker {
    fn lock_all(&self) -> Result<LockOutcome, MlockError> {
        match &self.0 {
            SimLockBehaviour::Succeed => Ok(LockOutcome::All),
            SimLockBehaviour::FiniteLimit { bytes } => {
                Ok(LockOutcome::SecretsOnly { limit: MemlockLimit::Bytes(*bytes) })
            }
            SimLockBehaviour::PermissionDenied => Err(MlockError::PermissionDenied),
            SimLockBehaviour::OutOfMemory => {
                Err(MlockError::LimitTooLow { limit: MemlockLimit::Bytes(64 * 1024) })
            }
            SimLockBehaviour::UnsupportedOs => {
                Err(MlockError::Unsupported { os: "a simulated non-Linux system".to_owned() })
            }
        }
    }

    fn lock_region(&self, _bytes: &[u8]) -> Result<(), MlockError> {
        match &self.0 {
            SimLockBehaviour::Succeed | SimLockBehaviour::FiniteLimit { .. } => Ok(()),
            _ => self.lock_all().map(|_| ()),
        }
    }

    fn unlock_region(&self, _bytes: &[u8]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_means_best_effort_only_for_headless_commands() {
        assert_eq!(MlockMode::Auto.resolve(true), MlockMode::BestEffort);
        assert_eq!(MlockMode::Auto.resolve(false), MlockMode::Off);
        assert_eq!(MlockMode::Strict.resolve(false), MlockMode::Strict);
    }

    #[test]
    fn modes_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!("strict".parse::<MlockMode>(), Ok(MlockMode::Strict));
        let err = "always".parse::<MlockMode>().unwrap_err();
        assert!(err.contains("off, auto, best_effort, strict"), "{err}");
    }

    #[test]
    fn advice_names_the_remedy_for_each_failure() {
        assert!(MlockError::PermissionDenied.advice().contains("ulimit -l"));
        assert!(MlockError::PermissionDenied.advice().contains("hard memlock unlimited"));
        let unsupported = MlockError::Unsupported { os: "macos".into() };
        assert!(unsupported.advice().contains("only supported on Linux"));
    }

    #[test]
    fn the_system_locker_never_locks_everything_under_a_finite_limit() {
        // Whatever this machine's limit is, a finite one must not lead to mlockall.
        if let Ok(LockOutcome::SecretsOnly { limit }) = SystemLocker.lock_all() {
            assert!(matches!(limit, MemlockLimit::Bytes(_)));
        }
    }
}
