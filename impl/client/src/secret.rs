//! Buffers for key material: zeroed when dropped (SPEC HL-05) and, when the whole process is
//! not locked, locked into memory page by page so they never reach swap (SPEC HL-06).
//!
//! The bytes live in a heap allocation that never moves, so the region locked is the region
//! that is later zeroed and unlocked.

use std::fmt;

use hwa_core::memlock::{MlockError, SharedLocker};
use zeroize::Zeroize;

/// A fixed-size secret on the heap.
pub struct SecretBytes<const N: usize> {
    bytes: Box<[u8; N]>,
    /// The locker that locked the region, to unlock it when dropped.
    locked_by: Option<SharedLocker>,
}

impl<const N: usize> SecretBytes<N> {
    /// A zeroed buffer, to be filled in place so no copy is left behind on the stack.
    pub fn zeroed() -> Self {
        SecretBytes { bytes: Box::new([0u8; N]), locked_by: None }
    }

    pub fn expose(&self) -> &[u8; N] {
        &self.bytes
    }

    pub fn expose_mut(&mut self) -> &mut [u8; N] {
        &mut self.bytes
    }

    /// Locks the buffer's pages; unlocked again when dropped.
    pub fn lock(&mut self, locker: &SharedLocker) -> Result<(), MlockError> {
        locker.lock_region(&self.bytes[..])?;
        self.locked_by = Some(locker.clone());
        Ok(())
    }

    pub fn is_locked(&self) -> bool {
        self.locked_by.is_some()
    }
}

impl<const N: usize> Drop for SecretBytes<N> {
    fn drop(&mut self) {
        self.bytes.zeroize();
        if let Some(locker) = self.locked_by.take() {
            locker.unlock_region(&self.bytes[..]);
        }
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes<{N}>(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hwa_core::memlock::{SimLockBehaviour, SimLocker};

    use super::*;

    #[test]
    fn debug_output_never_shows_the_bytes() {
        let mut s = SecretBytes::<4>::zeroed();
        s.expose_mut().copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(format!("{s:?}"), "SecretBytes<4>(redacted)");
    }

    #[test]
    fn locking_is_remembered_and_refusals_are_reported() {
        let ok: SharedLocker = Arc::new(SimLocker(SimLockBehaviour::FiniteLimit { bytes: 65536 }));
        let mut s = SecretBytes::<32>::zeroed();
        s.lock(&ok).unwrap();
        assert!(s.is_locked());
        let refused: SharedLocker = Arc::new(SimLocker(SimLockBehaviour::PermissionDenied));
        let mut t = SecretBytes::<32>::zeroed();
        assert_eq!(t.lock(&refused), Err(MlockError::PermissionDenied));
        assert!(!t.is_locked());
    }
}
