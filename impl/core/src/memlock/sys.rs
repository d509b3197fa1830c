//! The operating system calls behind [`super::SystemLocker`]: the only `unsafe` code in the
//! workspace. Each call passes either constants or the address and length of a live slice.

#![allow(unsafe_code)]

use super::{MemlockLimit, MlockError};

#[cfg(target_os = "linux")]
pub(super) fn memlock_limit() -> Result<MemlockLimit, MlockError> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    if rc != 0 {
        return Err(last_error());
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        Ok(MemlockLimit::Unlimited)
    } else {
        Ok(MemlockLimit::Bytes(limit.rlim_cur))
    }
}

#[cfg(target_os = "linux")]
pub(super) fn lock_all() -> Result<(), MlockError> {
    // SAFETY: mlockall takes flags only and does not touch Rust-visible memory.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if rc == 0 { Ok(()) } else { Err(last_error()) }
}

#[cfg(target_os = "linux")]
pub(super) fn lock_region(bytes: &[u8]) -> Result<(), MlockError> {
    if bytes.is_empty() {
        return Ok(());
    }
    // SAFETY: the pointer and length describe a live slice; mlock only pins its pages.
    let rc = unsafe { libc::mlock(bytes.as_ptr().cast(), bytes.len()) };
    if rc == 0 { Ok(()) } else { Err(last_error()) }
}

#[cfg(target_os = "linux")]
pub(super) fn unlock_region(bytes: &[u8]) {
    if !bytes.is_empty() {
        // SAFETY: as for mlock; unpinning pages never invalidates them.
        let _ = unsafe { libc::munlock(bytes.as_ptr().cast(), bytes.len()) };
    }
}

#[cfg(target_os = "linux")]
fn last_error() -> MlockError {
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match errno {
        libc::EPERM => MlockError::PermissionDenied,
        libc::ENOMEM => {
            MlockError::LimitTooLow { limit: memlock_limit().unwrap_or(MemlockLimit::Bytes(0)) }
        }
        errno => MlockError::Other { errno },
    }
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> MlockError {
    MlockError::Unsupported { os: std::env::consts::OS.to_owned() }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn memlock_limit() -> Result<MemlockLimit, MlockError> {
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
pub(super) fn lock_all() -> Result<(), MlockError> {
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
pub(super) fn lock_region(_bytes: &[u8]) -> Result<(), MlockError> {
    Err(unsupported())
}

#[cfg(not(target_os = "linux"))]
pub(super) fn unlock_region(_bytes: &[u8]) {}
