//! `hwactl tokens add`, `hwactl get cert_authority`, `hwactl auth sign` and `hwactl nodes
//! add`: what an administrator needs to bring SSH nodes into the cluster, joining ones
//! (`hwad --roles=node`) and agentless ones (a stock OpenSSH sshd).
//!
//! The wire types are `hwa_auth::join`'s; the proxy's node routes serve them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;
use hwa_auth::join::{HostSign, HostSigned, JOIN_TOKEN_TTL_DEFAULT, JoinTokenAdd, JoinTokenAdded};
use hwa_core::api::NodeView;

use crate::cli::{AuthCommand, NodesCommand, TokensCommand};
use crate::client::AdminClient;
use crate::run::AdminError;

/// `hwactl get cert_authority --type=user|host`: one OpenSSH line.
pub async fn cert_authority(
    client: &AdminClient,
    ca_type: Option<&str>,
) -> Result<String, AdminError> {
    let kind = match ca_type {
        Some(kind @ ("user" | "host")) => kind,
        _ => {
            return Err(AdminError::Usage(
                "pass --type=user (sshd's TrustedUserCAKeys) or --type=host".into(),
            ));
        }
    };
    client.text(client.call(Method::GET, format!("/v1/admin/cert_authority/{kind}"))).await
}

/// `hwactl tokens add --type=node [--ttl=30m]`.
pub async fn tokens(client: &AdminClient, command: TokensCommand) -> Result<String, AdminError> {
    let TokensCommand::Add { kind, ttl } = command;
    let ttl_secs = match ttl {
        None => None,
        Some(text) => Some(hwa_auth::roles::parse_duration_secs(&text).ok_or_else(|| {
            AdminError::Usage(format!("--ttl `{text}` is not a duration such as 90, 45s, 30m, 1h"))
        })?),
    };
    let body = JoinTokenAdd { kind, ttl_secs };
    let added: JoinTokenAdded =
        client.json(client.call(Method::POST, "/v1/admin/tokens").json(&body)?).await?;
    let lives = ttl_secs.map_or(JOIN_TOKEN_TTL_DEFAULT, Duration::from_secs);
    Ok(format!(
        "{token}\n\nThe token works once and expires in {minutes} minute(s). Start the node \
         with:\n  hwad start --roles=node --auth-server=PROXY --token={token} --name=NAME \
         --listen=IP:PORT --data-dir DIR\n",
        token = added.token,
        minutes = lives.as_secs().div_ceil(60),
    ))
}

/// `hwactl auth sign --host=NAME --out=PREFIX`.
pub async fn auth(client: &AdminClient, command: AuthCommand) -> Result<String, AdminError> {
    let AuthCommand::Sign { host, out } = command;
    let body = HostSign { host: host.clone() };
    let signed: HostSigned =
        client.json(client.call(Method::POST, "/v1/admin/hosts/sign").json(&body)?).await?;
    let cert_path = cert_path_of(&out);
    write_file(&out, signed.private_key.as_bytes(), 0o600)?;
    let mut cert = signed.certificate;
    cert.push('\n');
    write_file(&cert_path, cert.as_bytes(), 0o644)?;
    Ok(format!(
        "wrote {key} and {cert} for host {host}; in sshd_config:\n  HostKey {key}\n  \
         HostCertificate {cert}\n",
        key = out.display(),
        cert = cert_path.display(),
    ))
}

/// `hwactl nodes add --name=NAME --addr=HOST:PORT --labels=k=v,...`.
pub async fn nodes(client: &AdminClient, command: NodesCommand) -> Result<String, AdminError> {
    let NodesCommand::Add { name, addr, labels } = command;
    let mut parsed = std::collections::BTreeMap::new();
    for pair in labels.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| AdminError::Usage(format!("--labels: `{pair}` is not name=value")))?;
        parsed.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    let body = NodeView { name: name.clone(), addr, labels: parsed };
    client.no_content(client.call(Method::POST, "/v1/admin/nodes").json(&body)?).await?;
    Ok(format!("node {name} has been registered\n"))
}

/// `PREFIX-cert.pub`, as ssh-keygen names a certificate.
fn cert_path_of(prefix: &Path) -> PathBuf {
    let mut text = prefix.as_os_str().to_owned();
    text.push("-cert.pub");
    PathBuf::from(text)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AdminError> {
    use std::io::Write;
    let io = |source| AdminError::Io { context: format!("writing {}", path.display()), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_file_is_named_as_ssh_keygen_names_it() {
        assert_eq!(cert_path_of(Path::new("/tmp/node3")), PathBuf::from("/tmp/node3-cert.pub"));
    }
}
