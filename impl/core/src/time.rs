//! The one timestamp type: milliseconds since the Unix epoch.
//!
//! Stored records, certificates and wire bodies all count time this way, so that a record
//! written by one auth server compares correctly on another. Conversions to SSH certificate
//! seconds live here too, rounding in the direction that never lengthens a validity window.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The time `d` later, saturating rather than wrapping.
    pub fn plus(self, d: Duration) -> UnixMillis {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        UnixMillis(self.0.saturating_add(ms))
    }

    /// The time `d` earlier, saturating at the epoch.
    pub fn minus(self, d: Duration) -> UnixMillis {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        UnixMillis(self.0.saturating_sub(ms))
    }

    /// How long until `later`, or zero when `later` is not after `self`.
    pub fn until(self, later: UnixMillis) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }

    /// Whole seconds, rounded down: right for the start of a validity window.
    pub fn secs_floor(self) -> u64 {
        self.0 / 1000
    }

    /// Whole seconds, rounded down as well: for the end of a validity window rounding down
    /// shortens it, which is the safe direction.
    pub fn secs_end(self) -> u64 {
        self.0 / 1000
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(UnixMillis(5).minus(Duration::from_secs(1)), UnixMillis(0));
        assert_eq!(UnixMillis(u64::MAX).plus(Duration::from_secs(1)), UnixMillis(u64::MAX));
        assert_eq!(UnixMillis(10).until(UnixMillis(4)), Duration::ZERO);
        assert_eq!(UnixMillis(1_999).secs_end(), 1);
    }
}
