//! The software authenticator: its credentials, their keys, and the file they may live in.

use std::path::{Path, PathBuf};

use hwa_core::SharedEntropy;

use crate::error::VaError;
use crate::faults::Faults;

/// A software authenticator holding P-256 credentials.
#[derive(Debug)]
pub struct SoftAuthenticator {
    path: Option<PathBuf>,
    entropy: Option<SharedEntropy>,
    faults: Faults,
}

impl SoftAuthenticator {
    /// Opens (or creates, mode 0600) a JSON credential file.
    pub fn open_file(path: &Path) -> Result<Self, VaError> {
        Ok(SoftAuthenticator {
            path: Some(path.to_path_buf()),
            entropy: None,
            faults: Faults::default(),
        })
    }

    /// An authenticator whose keys and credential IDs come from `entropy`.
    pub fn in_memory(entropy: SharedEntropy) -> Self {
        SoftAuthenticator { path: None, entropy: Some(entropy), faults: Faults::default() }
    }

    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    pub fn credential_count(&self) -> usize {
        0
    }
}
