//! The credential store of the software authenticator: in memory, or a JSON file.
//!
//! The file holds private keys in the clear. It is for development and tests only: it is
//! created with mode 0600, a file readable by group or others is refused, every open logs a
//! warning, and every change is written to a temporary file (0600) that is renamed over the
//! old one, so a crash never leaves half a file.
//!
//! # Limitations
//!
//! - Keys are not encrypted at rest; a real platform authenticator keeps them in hardware or
//!   in a keychain.
//! - Two processes sharing one file would overwrite each other's changes: there is no lock.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passkey_authenticator::{CredentialStore, DiscoverabilitySupport, StoreInfo};
use passkey_types::ctap2::make_credential::{
    Options, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity,
};
use passkey_types::ctap2::{Ctap2Error, StatusCode};
use passkey_types::webauthn::PublicKeyCredentialDescriptor;
use passkey_types::{CredentialExtensions, Passkey};
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::error::VaError;

/// Mode of the credential file and of its temporary copy: owner read and write only.
pub const FILE_MODE: u32 = 0o600;

/// Permission bits that must be clear: anything for group or others.
const GROUP_OTHER_BITS: u32 = 0o077;

/// Version of the file format.
const FILE_VERSION: u32 = 1;

/// Most credentials one store holds: a security key holds a few dozen; past this a bug or a
/// flood is filling memory and the file.
pub const CREDENTIALS_MAX: usize = 1024;

/// The file, as JSON.
#[derive(Debug, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    credentials: Vec<CredentialRecord>,
}

/// One credential in the file. Byte fields are base64url without padding.
#[derive(Serialize, Deserialize)]
struct CredentialRecord {
    credential_id: String,
    rp_id: String,
    user_handle: Option<String>,
    user_name: Option<String>,
    user_display_name: Option<String>,
    /// The P-256 private scalar.
    private_key: String,
    counter: Option<u32>,
}

impl std::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRecord").field("rp_id", &self.rp_id).finish_non_exhaustive()
    }
}

/// Credentials by credential ID, optionally mirrored to a file.
pub struct SoftStore {
    credentials: BTreeMap<Vec<u8>, Passkey>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SoftStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftStore")
            .field("credentials", &self.credentials.len())
            .field("path", &self.path)
            .finish()
    }
}

impl SoftStore {
    pub fn in_memory() -> Self {
        SoftStore { credentials: BTreeMap::new(), path: None }
    }

    /// Opens the file, or creates it (mode 0600) when missing.
    pub fn open(path: &Path) -> Result<Self, VaError> {
        let io = |source| VaError::Io { path: path.to_path_buf(), source };
        tracing::warn!(
            target: "hwa_virtual_authenticator",
            path = %path.display(),
            "the software authenticator's credential file holds private keys in the clear; \
             use it for development and tests only"
        );
        let mut store = SoftStore { credentials: BTreeMap::new(), path: Some(path.to_path_buf()) };
        match fs::metadata(path) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & GROUP_OTHER_BITS != 0 {
                    return Err(VaError::InsecureFile { path: path.to_path_buf(), mode });
                }
                let text = fs::read_to_string(path).map_err(io)?;
                store.credentials = parse_file(path, &text)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => store.persist()?,
            Err(e) => return Err(io(e)),
        }
        Ok(store)
    }

    pub fn len(&self) -> usize {
        self.credentials.len()
    }

    pub fn is_empty(&self) -> bool {
        self.credentials.is_empty()
    }

    /// The stored credential with this ID.
    pub fn get(&self, id: &[u8]) -> Option<&Passkey> {
        self.credentials.get(id)
    }

    /// Writes the file, if any: temporary file 0600, then rename.
    pub fn persist(&self) -> Result<(), VaError> {
        let Some(path) = &self.path else { return Ok(()) };
        let io = |source| VaError::Io { path: path.clone(), source };
        let mut records = Vec::with_capacity(self.credentials.len());
        for passkey in self.credentials.values() {
            records.push(record_of(passkey)?);
        }
        let file = StoreFile { version: FILE_VERSION, credentials: records };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| VaError::Authenticator(format!("cannot encode credentials: {e}")))?;
        let mut tmp_name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .map_err(io)?;
        // The umask can only clear bits, but say the mode explicitly all the same.
        out.set_permissions(fs::Permissions::from_mode(FILE_MODE)).map_err(io)?;
        out.write_all(text.as_bytes()).map_err(io)?;
        out.sync_all().map_err(io)?;
        fs::rename(&tmp, path).map_err(io)?;
        // Make the rename itself durable; a directory that cannot be opened (unusual
        // permissions) only loses that guarantee, not the write.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(Ok(handle)) = dir.map(fs::File::open) {
            handle.sync_all().map_err(io)?;
        }
        Ok(())
    }

    fn save(&mut self, passkey: Passkey) -> Result<(), StatusCode> {
        let id = passkey.credential_id.to_vec();
        if !self.credentials.contains_key(&id) && self.credentials.len() >= CREDENTIALS_MAX {
            return Err(Ctap2Error::KeyStoreFull.into());
        }
        self.credentials.insert(id, passkey);
        self.persist().map_err(|e| {
            tracing::error!(target: "hwa_virtual_authenticator", error = %e, "cannot persist");
            StatusCode::from(Ctap2Error::Other)
        })
    }
}

fn record_of(passkey: &Passkey) -> Result<CredentialRecord, VaError> {
    let d = crypto::private_scalar(&passkey.key)
        .ok_or_else(|| VaError::Authenticator("credential key has no private scalar".into()))?;
    Ok(CredentialRecord {
        credential_id: URL_SAFE_NO_PAD.encode(&*passkey.credential_id),
        rp_id: passkey.rp_id.clone(),
        user_handle: passkey.user_handle.as_ref().map(|h| URL_SAFE_NO_PAD.encode(&**h)),
        user_name: passkey.username.clone(),
        user_display_name: passkey.user_display_name.clone(),
        private_key: URL_SAFE_NO_PAD.encode(d),
        counter: passkey.counter,
    })
}

fn parse_file(path: &Path, text: &str) -> Result<BTreeMap<Vec<u8>, Passkey>, VaError> {
    let corrupt = |reason: String| VaError::CorruptFile { path: path.to_path_buf(), reason };
    let file: StoreFile = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    if file.version != FILE_VERSION {
        return Err(corrupt(format!("unknown version {}", file.version)));
    }
    if file.credentials.len() > CREDENTIALS_MAX {
        return Err(corrupt(format!("more than {CREDENTIALS_MAX} credentials")));
    }
    let b64 = |field: &str, value: &str| {
        URL_SAFE_NO_PAD.decode(value).map_err(|_| corrupt(format!("{field} is not base64url")))
    };
    let mut out = BTreeMap::new();
    for record in file.credentials {
        let id = b64("credential_id", &record.credential_id)?;
        let d = b64("private_key", &record.private_key)?;
        let key = crypto::cose_from_scalar(&d).map_err(|e| corrupt(e.to_string()))?;
        let user_handle = match &record.user_handle {
            Some(h) => Some(b64("user_handle", h)?.into()),
            None => None,
        };
        let passkey = Passkey {
            key,
            credential_id: id.clone().into(),
            rp_id: record.rp_id,
            user_handle,
            username: record.user_name,
            user_display_name: record.user_display_name,
            counter: record.counter,
            extensions: CredentialExtensions::default(),
        };
        out.insert(id, passkey);
    }
    Ok(out)
}

#[async_trait::async_trait]
impl CredentialStore for SoftStore {
    type PasskeyItem = Passkey;

    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let found: Vec<Passkey> = match ids {
            Some(ids) if !ids.is_empty() => ids
                .iter()
                .filter_map(|d| self.credentials.get(&*d.id))
                .filter(|p| p.rp_id == rp_id)
                .cloned()
                .collect(),
            _ => self.credentials.values().filter(|p| p.rp_id == rp_id).cloned().collect(),
        };
        if found.is_empty() { Err(Ctap2Error::NoCredentials.into()) } else { Ok(found) }
    }

    async fn save_credential(
        &mut self,
        cred: Passkey,
        _user: PublicKeyCredentialUserEntity,
        _rp: PublicKeyCredentialRpEntity,
        _options: Options,
    ) -> Result<(), StatusCode> {
        self.save(cred)
    }

    async fn update_credential(&mut self, cred: &Passkey) -> Result<(), StatusCode> {
        self.save(cred.clone())
    }

    async fn get_info(&self) -> StoreInfo {
        // Like a passkey provider, every credential keeps its user handle, so assertions
        // return it and the relying party's user-handle check always runs.
        StoreInfo { discoverability: DiscoverabilitySupport::ForcedDiscoverable }
    }
}
