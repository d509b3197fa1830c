//! Starting and running the roles `auth` and `proxy` in one process: the data directory, the
//! SQLite store, the auth service, the proxy's listener and the admin identity `hwactl` reads.
//!
//! [`Daemon::start`] does everything that can fail before serving (so `hwad` can report it and
//! exit), then [`Daemon::run`] serves until the shutdown future completes. The real seams are
//! used here: the system clock, the operating system's generator and tokio's sockets; the
//! simulator wires the same library crates with simulated seams instead.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hwa_auth::join::Membership;
use hwa_auth::{AuthConfig, AuthService, PasswordHashing, Seams};
use hwa_core::admin::{ADMIN_IDENTITY_FILE, AdminIdentity};
use hwa_core::clock::SystemClock;
use hwa_core::entropy::OsEntropy;
use hwa_core::net::TokioNetwork;
use hwa_proxy::{BoundProxy, NodeGateway, ProxyConfig};
use hwa_store::sqlite::SqliteStore;

use crate::config::{ConfigError, PublicSettings, StartConfig};

/// File name of the SQLite database inside the data directory.
pub const DATABASE_FILE: &str = "hwa.db";

/// Why `hwad` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot prepare data directory {path}: {source}; check its owner and permissions")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error("cannot start the auth service: {0}")]
    Auth(#[from] hwa_auth::AuthError),
    #[error(transparent)]
    Proxy(#[from] hwa_proxy::ProxyError),
    #[error("cannot write the admin identity {path}: {source}")]
    Identity { path: PathBuf, source: std::io::Error },
}

/// A started daemon, bound and ready to serve.
#[derive(Debug)]
pub struct Daemon {
    proxy: BoundProxy,
    auth: AuthService,
    gateway: NodeGateway,
    public: PublicSettings,
    data_dir: PathBuf,
    identity_path: PathBuf,
}

impl Daemon {
    /// Prepares the data directory, binds, opens the store and the auth service, and writes a
    /// fresh admin identity.
    pub async fn start(config: &StartConfig) -> Result<Daemon, StartError> {
        prepare_data_dir(&config.data_dir)?;
        let proxy_config = ProxyConfig {
            listen: config.listen,
            public_addr: config.configured_public_addr(),
            tls: config.tls.clone(),
            cluster_name: String::new(),
        };
        let net = TokioNetwork::shared();
        let proxy = hwa_proxy::bind(&proxy_config, &net).await?;
        let public = config.public_settings(proxy.local_addr())?;
        let proxy = proxy.with_cluster_name(public.cluster_name.clone());

        let clock = SystemClock::shared();
        let db_path = config.data_dir.join(DATABASE_FILE);
        let store = SqliteStore::open(&db_path, clock.clone())
            .map_err(|err| StartError::Store { path: db_path.clone(), message: err.to_string() })?;
        let auth_config = AuthConfig {
            cluster_name: public.cluster_name.clone(),
            rp_id: public.rp_id.clone(),
            public_origins: public.origins.clone(),
            public_addr: public.public_addr.clone(),
            url_scheme: public.url_scheme.to_owned(),
            password_hashing: PasswordHashing::Standard,
        };
        let entropy = OsEntropy::shared();
        let seams = Seams { store: store.clone(), clock: clock.clone(), entropy: entropy.clone() };
        let (auth, _first_token) = AuthService::open(auth_config, seams).await?;
        let membership = Membership::open(store, clock, entropy, &public.cluster_name).await?;
        let gateway = NodeGateway { membership, net };
        let token = auth.rotate_admin_token().await?;

        let identity = AdminIdentity {
            proxy_addr: proxy.local_addr().to_string(),
            insecure_http: !proxy.is_tls(),
            tls_cert_pem: proxy.self_signed_pem().map(str::to_owned),
            token,
        };
        let identity_path = config.data_dir.join(ADMIN_IDENTITY_FILE);
        write_identity(&identity_path, &identity)?;
        tracing::info!(
            addr = %proxy.local_addr(),
            cluster = %public.cluster_name,
            identity = %identity_path.display(),
            "hwad started"
        );
        Ok(Daemon {
            proxy,
            auth,
            gateway,
            public,
            data_dir: config.data_dir.clone(),
            identity_path,
        })
    }

    /// The address the proxy listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.proxy.local_addr()
    }

    pub fn identity_path(&self) -> &Path {
        &self.identity_path
    }

    /// What a person should do next, for `hwad` to print.
    pub fn next_steps(&self) -> String {
        let scheme = self.public.url_scheme;
        let public = &self.public.public_addr;
        let data_dir = self.data_dir.display();
        let plain = if self.proxy.is_tls() { "" } else { " (plain HTTP: this machine only)" };
        format!(
            "hwad is running: cluster {cluster}, proxy at {scheme}://{public}{plain}\n\
             admin identity: {identity}\n\
             \n\
             next steps:\n\
             1. add a user and open the invite link it prints to sign up with a security key:\n\
             \x20    hwactl --data-dir {data_dir} users add alice --logins alice\n\
             2. log in from a browser at {scheme}://{public}/web/login\n\
             3. on a machine without a security key, run a command and approve it:\n\
             \x20    hwa ls --headless --proxy={public} --user=alice\n\
             \n\
             stop with Ctrl-C\n",
            cluster = self.public.cluster_name,
            identity = self.identity_path.display(),
        )
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        self.proxy.serve_with_nodes(self.auth, self.gateway, shutdown).await;
        tracing::info!("hwad stopped");
    }
}

/// Creates the data directory with mode 0700 (it holds the CA keys), or tightens an existing
/// one to 0700.
fn prepare_data_dir(path: &Path) -> Result<(), StartError> {
    let err = |source| StartError::DataDir { path: path.to_owned(), source };
    std::fs::create_dir_all(path).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

/// Writes the identity with mode 0600: to a temporary file created with that mode, then
/// renamed over the old one, so no reader ever sees a partial file or a readable token.
fn write_identity(path: &Path, identity: &AdminIdentity) -> Result<(), StartError> {
    let err = |source| StartError::Identity { path: path.to_owned(), source };
    let json = serde_json::to_vec_pretty(identity)
        .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(&json).map_err(err)?;
    file.write_all(b"\n").map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_identity_file_is_private_and_parses_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        prepare_data_dir(&data).expect("data dir");
        let mode = std::fs::metadata(&data).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let identity = AdminIdentity {
            proxy_addr: "127.0.0.1:3080".into(),
            insecure_http: true,
            tls_cert_pem: None,
            token: "t".into(),
        };
        let path = data.join(ADMIN_IDENTITY_FILE);
        write_identity(&path, &identity).expect("first write");
        write_identity(&path, &identity).expect("second write replaces");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back: AdminIdentity =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(back, identity);
    }
}
