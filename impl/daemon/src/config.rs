//! What `hwad start` runs with: command-line flags over a TOML file over built-in defaults,
//! resolved into one [`StartConfig`].
//!
//! Values that depend on the port actually bound (`--listen 127.0.0.1:0`) are left open here
//! and settled by [`StartConfig::public_settings`] once the listener is bound.
//!
//! The file, every field optional:
//!
//! ```toml
//! cluster_name = "example"
//! listen = "0.0.0.0:3080"
//! public_addr = "proxy.example.com:3080"
//! rp_id = "example.com"
//! origins = ["https://proxy.example.com:3080"]
//! data_dir = "/var/lib/hwa"
//! roles = ["auth", "proxy"]
//!
//! [tls]
//! cert_file = "/etc/hwa/cert.pem"     # with key_file, or:
//! key_file = "/etc/hwa/key.pem"
//! # self_signed = ["proxy.example.com"]
//! ```
//!
//! Errors name the field (or flag) and say what to write instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hwa_core::limits::WEB_PROXY_PORT;
use hwa_proxy::TlsMode;
use serde::Deserialize;

/// Roles one `hwad` process can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Auth,
    Proxy,
}

/// Why a configuration is not usable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{field}: {message}")]
    Field { field: &'static str, message: String },
}

fn field(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Field { field, message: message.into() }
}

/// The TOML file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub cluster_name: Option<String>,
    pub listen: Option<String>,
    pub public_addr: Option<String>,
    pub rp_id: Option<String>,
    pub origins: Option<Vec<String>>,
    pub data_dir: Option<PathBuf>,
    pub roles: Option<Vec<String>>,
    pub tls: Option<FileTls>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub self_signed: Option<Vec<String>>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        FileConfig::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: path.to_owned(),
            message: err.to_string().trim_end().to_owned(),
        })
    }
}

/// The flags of `hwad start` that shape the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartFlags {
    pub dev: bool,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub roles: Option<String>,
    pub file: Option<FileConfig>,
}

/// The resolved configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartConfig {
    pub dev: bool,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub tls: TlsMode,
    pub roles: Vec<Role>,
    cluster_name: Option<String>,
    public_addr: Option<String>,
    rp_id: Option<String>,
    origins: Option<Vec<String>>,
}

/// What people reach the cluster at, known once the listener is bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicSettings {
    pub cluster_name: String,
    pub public_addr: String,
    pub rp_id: String,
    pub origins: Vec<String>,
    pub url_scheme: &'static str,
}

impl StartConfig {
    /// Resolves flags over the file over defaults.
    pub fn resolve(flags: StartFlags) -> Result<StartConfig, ConfigError> {
        let file = flags.file.unwrap_or_default();
        let data_dir = flags.data_dir.or(file.data_dir).ok_or_else(|| {
            field(
                "--data-dir",
                "no data directory; pass --data-dir DIR or set `data_dir` in the config file",
            )
        })?;
        let listen = match flags.listen {
            Some(text) => parse_listen("--listen", &text)?,
            None => match file.listen {
                Some(text) => parse_listen("listen", &text)?,
                None if flags.dev => SocketAddr::from(([127, 0, 0, 1], WEB_PROXY_PORT)),
                None => SocketAddr::from(([0, 0, 0, 0], WEB_PROXY_PORT)),
            },
        };
        let roles = match flags.roles {
            Some(text) => parse_roles("--roles", text.split(',').map(str::to_owned).collect())?,
            None => match file.roles {
                Some(list) => parse_roles("roles", list)?,
                None => vec![Role::Auth, Role::Proxy],
            },
        };
        let tls = match file.tls {
            Some(tls) => parse_tls(tls)?,
            None => TlsMode::PlainLoopbackOnly,
        };
        if let Some(origins) = &file.origins {
            for origin in origins {
                check_origin(origin)?;
            }
        }
        if file.cluster_name.as_ref().is_some_and(|name| name.trim().is_empty()) {
            return Err(field("cluster_name", "must not be empty"));
        }
        Ok(StartConfig {
            dev: flags.dev,
            data_dir,
            listen,
            tls,
            roles,
            cluster_name: file.cluster_name,
            public_addr: file.public_addr,
            rp_id: file.rp_id,
            origins: file.origins,
        })
    }

    /// The public address as configured, or the listen address when none is (before binding
    /// the port may still be 0).
    pub fn configured_public_addr(&self) -> String {
        self.public_addr.clone().unwrap_or_else(|| self.listen.to_string())
    }

    /// Names and origins for the bound address `bound`.
    pub fn public_settings(&self, bound: SocketAddr) -> Result<PublicSettings, ConfigError> {
        let tls = !matches!(self.tls, TlsMode::PlainLoopbackOnly | TlsMode::PlainSimulatedNetwork);
        let url_scheme = if tls { "https" } else { "http" };
        let loopback = bound.ip().is_loopback();
        let public_addr = match &self.public_addr {
            Some(addr) => addr.clone(),
            None if loopback => format!("localhost:{}", bound.port()),
            None => {
                return Err(field(
                    "public_addr",
                    format!(
                        "required when listening on {bound}; set it to the host:port people \
                         open in their browser, such as proxy.example.com:{}",
                        bound.port()
                    ),
                ));
            }
        };
        let host = public_addr.rsplit_once(':').map_or(public_addr.as_str(), |(host, _)| host);
        let rp_id = match &self.rp_id {
            Some(rp_id) => rp_id.clone(),
            None if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') => {
                return Err(field(
                    "rp_id",
                    format!(
                        "WebAuthn needs a domain name, and public_addr `{public_addr}` is an IP \
                         address; set rp_id (and public_addr) to the proxy's domain name"
                    ),
                ));
            }
            None => host.to_owned(),
        };
        let origins = match &self.origins {
            Some(origins) => origins.clone(),
            None => {
                let mut origins = vec![format!("{url_scheme}://{public_addr}")];
                if loopback {
                    for extra in [
                        format!("{url_scheme}://localhost:{}", bound.port()),
                        format!("{url_scheme}://127.0.0.1:{}", bound.port()),
                    ] {
                        if !origins.contains(&extra) {
                            origins.push(extra);
                        }
                    }
                }
                origins
            }
        };
        let cluster_name = self.cluster_name.clone().unwrap_or_else(|| rp_id.clone());
        Ok(PublicSettings { cluster_name, public_addr, rp_id, origins, url_scheme })
    }
}

fn parse_listen(name: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        field(name, format!("`{text}` is not an address; write ip:port, such as 127.0.0.1:3080"))
    })
}

fn parse_roles(name: &'static str, list: Vec<String>) -> Result<Vec<Role>, ConfigError> {
    let mut roles = Vec::new();
    for raw in list {
        let role = match raw.trim() {
            "auth" => Role::Auth,
            "proxy" => Role::Proxy,
            "node" => {
                return Err(field(
                    name,
                    "role `node` runs alone in its own hwad: `hwad start --roles=node \
                     --auth-server=ADDR --token=TOKEN --name=NAME --listen=IP:PORT --data-dir DIR`",
                ));
            }
            other => {
                return Err(field(
                    name,
                    format!("unknown role `{other}`; roles are auth and proxy"),
                ));
            }
        };
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles.sort();
    if roles != [Role::Auth, Role::Proxy] {
        return Err(field(
            name,
            "roles auth and proxy run together (the proxy is the auth service's HTTP surface); \
             use auth,proxy",
        ));
    }
    Ok(roles)
}

fn parse_tls(tls: FileTls) -> Result<TlsMode, ConfigError> {
    match (tls.cert_file, tls.key_file, tls.self_signed) {
        (Some(cert), Some(key), None) => Ok(TlsMode::Files { cert, key }),
        (None, None, Some(hostnames)) if !hostnames.is_empty() => {
            Ok(TlsMode::SelfSigned { hostnames })
        }
        (None, None, Some(_)) => Err(field(
            "tls.self_signed",
            "list at least one host name the certificate is for, such as [\"localhost\"]",
        )),
        (Some(_), None, None) => Err(field("tls.key_file", "required with tls.cert_file")),
        (None, Some(_), None) => Err(field("tls.cert_file", "required with tls.key_file")),
        _ => Err(field(
            "tls",
            "set either cert_file and key_file, or self_signed, not both and not neither",
        )),
    }
}

fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
        && !origin.ends_with('/')
        && origin.split("://").nth(1).is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
    if ok {
        return Ok(());
    }
    Err(field(
        "origins",
        format!("`{origin}` is not an origin; write scheme://host[:port] without a path"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(listen: Option<&str>) -> StartConfig {
        StartConfig::resolve(StartFlags {
            dev: true,
            data_dir: Some("/tmp/x".into()),
            listen: listen.map(str::to_owned),
            ..StartFlags::default()
        })
        .expect("dev config")
    }

    #[test]
    fn dev_defaults_listen_on_loopback_3080_with_localhost_origins() {
        let config = dev(None);
        assert_eq!(config.listen, "127.0.0.1:3080".parse().expect("addr"));
        let public = config.public_settings(config.listen).expect("public");
        assert_eq!(public.rp_id, "localhost");
        assert_eq!(public.origins, ["http://localhost:3080", "http://127.0.0.1:3080"]);
        assert_eq!(public.url_scheme, "http");
    }

    #[test]
    fn port_zero_takes_the_bound_port_into_the_origins() {
        let config = dev(Some("127.0.0.1:0"));
        let public = config.public_settings("127.0.0.1:41234".parse().expect("addr")).expect("ok");
        assert_eq!(public.public_addr, "localhost:41234");
        assert!(public.origins.contains(&"http://127.0.0.1:41234".to_owned()));
    }

    #[test]
    fn the_node_role_is_refused_with_a_clear_message() {
        let err = StartConfig::resolve(StartFlags {
            data_dir: Some("/tmp/x".into()),
            roles: Some("auth,proxy,node".into()),
            ..StartFlags::default()
        })
        .expect_err("node refused");
        assert!(err.to_string().starts_with("--roles: role `node` runs alone"), "{err}");
    }

    #[test]
    fn an_unknown_file_field_is_named() {
        let err =
            FileConfig::parse("listen = \"127.0.0.1:1\"\nlisten_addr = 3\n", Path::new("c.toml"))
                .expect_err("unknown field");
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }

    #[test]
    fn a_bad_listen_address_in_the_file_names_the_field() {
        let file =
            FileConfig::parse("listen = \"localhost\"\n", Path::new("c.toml")).expect("toml");
        let err = StartConfig::resolve(StartFlags {
            data_dir: Some("/tmp/x".into()),
            file: Some(file),
            ..StartFlags::default()
        })
        .expect_err("bad listen");
        assert!(err.to_string().starts_with("listen: `localhost` is not an address"), "{err}");
    }

    #[test]
    fn tls_needs_both_files_or_self_signed() {
        let file =
            FileConfig::parse("[tls]\ncert_file = \"c.pem\"\n", Path::new("c.toml")).expect("toml");
        let err = StartConfig::resolve(StartFlags {
            data_dir: Some("/tmp/x".into()),
            file: Some(file),
            ..StartFlags::default()
        })
        .expect_err("half tls");
        assert_eq!(err.to_string(), "tls.key_file: required with tls.cert_file");
    }

    #[test]
    fn a_public_ip_address_needs_an_explicit_rp_id() {
        let file = FileConfig::parse(
            concat!(
                "listen = \"0.0.0.0:3080\"\npublic_addr = \"203.0.113.5:3080\"\n",
                "[tls]\nself_signed = [\"x\"]\n",
            ),
            Path::new("c.toml"),
        )
        .expect("toml");
        let config = StartConfig::resolve(StartFlags {
            data_dir: Some("/tmp/x".into()),
            file: Some(file),
            ..StartFlags::default()
        })
        .expect("config");
        let err = config.public_settings(config.listen).expect_err("ip rp id");
        assert!(err.to_string().starts_with("rp_id:"), "{err}");
    }

    #[test]
    fn a_missing_data_dir_says_how_to_give_one() {
        let err = StartConfig::resolve(StartFlags::default()).expect_err("no data dir");
        assert!(err.to_string().contains("--data-dir DIR"), "{err}");
    }
}
