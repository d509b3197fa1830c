//! The randomness seam.
//!
//! Challenges, session tokens, invite tokens and every key pair draw their bytes from an
//! [`Entropy`]. In production that is the operating system's generator; in the simulator it is
//! a ChaCha20 stream seeded from the run's seed, so a seed replays the same keys and tokens.
//! turmoil does not intercept `getrandom`, which is why ambient generators are banned on
//! simulated paths.

use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

/// A source of cryptographically strong random bytes.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    fn fill(&self, dest: &mut [u8]);
}

pub type SharedEntropy = Arc<dyn Entropy>;

/// Fills an array of `N` random bytes.
pub fn array<const N: usize>(entropy: &dyn Entropy) -> [u8; N] {
    let mut out = [0u8; N];
    entropy.fill(&mut out);
    out
}

/// A random token of `n_bytes`, hex encoded: for session, invite and join tokens.
pub fn token_hex(entropy: &dyn Entropy, n_bytes: usize) -> String {
    let mut bytes = vec![0u8; n_bytes];
    entropy.fill(&mut bytes);
    hex::encode(bytes)
}

/// The operating system's generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl OsEntropy {
    pub fn shared() -> SharedEntropy {
        Arc::new(OsEntropy)
    }
}

impl Entropy for OsEntropy {
    fn fill(&self, dest: &mut [u8]) {
        // A machine that cannot produce random bytes cannot run an authentication service;
        // there is no safe degraded mode to fall back to.
        #[allow(clippy::disallowed_methods)] // the one place the real generator is read
        getrandom::getrandom(dest).expect("the operating system's random generator failed");
    }
}

/// A deterministic stream for the simulator and for reproducible tests.
#[derive(Debug)]
pub struct SeededEntropy {
    rng: Mutex<ChaCha20Rng>,
}

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        SeededEntropy { rng: Mutex::new(ChaCha20Rng::seed_from_u64(seed)) }
    }

    pub fn shared(seed: u64) -> SharedEntropy {
        Arc::new(SeededEntropy::new(seed))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, dest: &mut [u8]) {
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.fill_bytes(dest);
    }
}

/// Adapts an [`Entropy`] to the `rand_core` traits that key generation in the crypto crates
/// expects.
#[derive(Debug)]
pub struct RngAdapter<'a>(pub &'a dyn Entropy);

impl RngCore for RngAdapter<'_> {
    fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes(array(self.0))
    }

    fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(array(self.0))
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl CryptoRng for RngAdapter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
        let a: [u8; 32] = array(&SeededEntropy::new(7));
        let b: [u8; 32] = array(&SeededEntropy::new(7));
        let c: [u8; 32] = array(&SeededEntropy::new(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
