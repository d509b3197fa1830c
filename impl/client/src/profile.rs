//! Session profiles: what `hwa login` and `hwa signup` keep so that later commands (`ls`,
//! `ssh` and `scp` without `--headless`, `headless approve`, `headless watch`) can call the
//! proxy as the user.
//!
//! A profile is `~/.hwa/profiles/<host:port>.json`, mode 0600 in a directory of mode 0700,
//! because it holds a session token. `~/.hwa/current` names the proxy last logged in to, so
//! `--proxy` may be left out afterwards. Headless commands never come here (SPEC HL-05).

use std::path::{Path, PathBuf};

use hwa_core::time::UnixMillis;
use serde::{Deserialize, Serialize};

use crate::error::ClientError;
use crate::proxy_url::ProxyUrl;

/// Directory under the home directory that holds the client's files.
const HWA_DIR: &str = ".hwa";
/// Mode of the directories: only the owner may list or enter them.
const DIR_MODE: u32 = 0o700;
/// Mode of a profile: it holds a session token.
const FILE_MODE: u32 = 0o600;
/// Largest profile read back; a real one is a few hundred bytes.
const PROFILE_MAX_BYTES: u64 = 64 * 1024;

/// A logged-in session with one proxy.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The proxy as `hwa --proxy` accepts it.
    pub proxy: String,
    pub user: String,
    pub token: String,
    pub expires_at: UnixMillis,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("proxy", &self.proxy)
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where the profiles of one home directory live.
#[derive(Clone, Debug)]
pub struct ProfileStore {
    root: PathBuf,
}

/// The saved session for `proxy` under `home`, or an error telling the user to log in.
pub fn saved_session(home: Option<&Path>, proxy: &ProxyUrl) -> Result<Profile, ClientError> {
    let not_logged_in = || ClientError::NotLoggedIn { proxy: crate::headless::proxy_arg(proxy) };
    let home = home.ok_or_else(not_logged_in)?;
    ProfileStore::new(home).load(proxy)?.ok_or_else(not_logged_in)
}

impl ProfileStore {
    pub fn new(home: &Path) -> ProfileStore {
        ProfileStore { root: home.join(HWA_DIR) }
    }

    fn profiles_dir(&self) -> PathBuf {
        self.root.join("profiles")
    }

    pub fn path_for(&self, proxy: &ProxyUrl) -> PathBuf {
        self.profiles_dir().join(format!("{}.json", file_stem(proxy)))
    }

    /// Saves `profile` for `proxy` and makes it the current one.
    pub fn save(&self, proxy: &ProxyUrl, profile: &Profile) -> Result<PathBuf, ClientError> {
        for dir in [&self.root, &self.profiles_dir()] {
            make_private_dir(dir)?;
        }
        let path = self.path_for(proxy);
        let text = serde_json::to_vec_pretty(profile)
            .map_err(|e| ClientError::Protocol(format!("cannot encode the profile: {e}")))?;
        write_private(&path, &text)?;
        write_private(&self.root.join("current"), profile.proxy.as_bytes())?;
        Ok(path)
    }

    /// The profile for `proxy`, or `None` when there is none.
    pub fn load(&self, proxy: &ProxyUrl) -> Result<Option<Profile>, ClientError> {
        let path = self.path_for(proxy);
        let Some(bytes) = read_bounded(&path)? else { return Ok(None) };
        let profile = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Config(format!(
                "profile {} is damaged ({e}); delete it and run `hwa login` again",
                path.display()
            ))
        })?;
        Ok(Some(profile))
    }

    /// The proxy of the last login, if any.
    pub fn current_proxy(&self) -> Result<Option<String>, ClientError> {
        let bytes = read_bounded(&self.root.join("current"))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).trim().to_owned()).filter(|s| !s.is_empty()))
    }

    /// Removes the profile of `proxy`; absent is fine.
    pub fn remove(&self, proxy: &ProxyUrl) -> Result<(), ClientError> {
        let path = self.path_for(proxy);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClientError::io(format!("removing {}", path.display()), e)),
        }
    }
}

/// The file name for a proxy: its authority, with characters other than letters, digits, `.`,
/// `-` and `:` replaced, so that no proxy name can point outside the directory.
fn file_stem(proxy: &ProxyUrl) -> String {
    proxy
        .authority()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':') { c } else { '_' })
        .collect()
}

fn make_private_dir(dir: &Path) -> Result<(), ClientError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // An existing directory keeps its contents but loses group and other access.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
                .map_err(|e| ClientError::io(format!("restricting {}", dir.display()), e))
        }
        Err(e) => Err(ClientError::io(format!("creating {}", dir.display()), e)),
    }
}

/// Writes through a temporary file created with mode 0600 and renamed, so a reader never sees
/// half a profile and the token is never readable by others, even for a moment.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let context = || format!("writing {}", path.display());
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| ClientError::io(context(), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ClientError::io(context(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| ClientError::io(context(), e))
}

fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, ClientError> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ClientError::io(format!("reading {}", path.display()), e)),
    };
    let mut bytes = Vec::new();
    file.take(PROFILE_MAX_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| ClientError::io(format!("reading {}", path.display()), e))?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn sample() -> Profile {
        Profile {
            proxy: "http://127.0.0.1:3080".into(),
            user: "alice".into(),
            token: "secret-token".into(),
            expires_at: UnixMillis(1),
        }
    }

    #[test]
    fn a_saved_profile_is_private_and_reads_back() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(home.path());
        let proxy = ProxyUrl::parse("http://127.0.0.1:3080").unwrap();
        let path = store.save(&proxy, &sample()).unwrap();
        assert!(path.ends_with(".hwa/profiles/127.0.0.1:3080.json"), "{}", path.display());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&home.path().join(".hwa")), 0o700);
        assert_eq!(mode(&home.path().join(".hwa/profiles")), 0o700);
        assert_eq!(store.load(&proxy).unwrap(), Some(sample()));
        assert_eq!(store.current_proxy().unwrap().as_deref(), Some("http://127.0.0.1:3080"));
    }

    #[test]
    fn an_existing_open_directory_is_restricted_on_save() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".hwa")).unwrap();
        std::fs::set_permissions(home.path().join(".hwa"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let proxy = ProxyUrl::parse("http://127.0.0.1:3080").unwrap();
        ProfileStore::new(home.path()).save(&proxy, &sample()).unwrap();
        let mode = std::fs::metadata(home.path().join(".hwa")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_missing_profile_is_none_and_a_damaged_one_says_what_to_do() {
        let home = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(home.path());
        let proxy = ProxyUrl::parse("proxy.example.com").unwrap();
        assert_eq!(store.load(&proxy).unwrap(), None);
        std::fs::create_dir_all(home.path().join(".hwa/profiles")).unwrap();
        std::fs::write(store.path_for(&proxy), b"{").unwrap();
        let err = store.load(&proxy).unwrap_err().to_string();
        assert!(err.contains("run `hwa login` again"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_token() {
        assert!(!format!("{:?}", sample()).contains("secret-token"));
    }
}
