//! The admin identity: `<data-dir>/admin-identity.json`, written by `hwad` at start
//! ([`hwa_core::admin::AdminIdentity`]), and the proxy address and TLS trust it implies.

use std::path::Path;

use hwa_client::http::{Trust, pinned_from_pem};
use hwa_client::proxy_url::ProxyUrl;
use hwa_core::admin::{ADMIN_IDENTITY_FILE, AdminIdentity};

use crate::run::AdminError;

/// Largest identity file read; a real one is well under a kilobyte plus a certificate.
const IDENTITY_MAX_BYTES: u64 = 256 * 1024;

/// Reads the identity in `data_dir`, with a message that says what to check when it is absent.
pub fn load(data_dir: &Path) -> Result<AdminIdentity, AdminError> {
    use std::io::Read;
    let path = data_dir.join(ADMIN_IDENTITY_FILE);
    let file = std::fs::File::open(&path).map_err(|e| {
        AdminError::Config(format!(
            "cannot read {} ({e}); is hwad running with --data-dir {}?",
            path.display(),
            data_dir.display()
        ))
    })?;
    let mut bytes = Vec::new();
    file.take(IDENTITY_MAX_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| AdminError::Config(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        AdminError::Config(format!(
            "{} is not an admin identity ({e}); restart hwad to write it again",
            path.display()
        ))
    })
}

/// The proxy and how to trust it: plain HTTP (loopback only), or TLS pinned to the
/// self-signed certificate in the identity, or the system's roots.
pub fn proxy_of(identity: &AdminIdentity) -> Result<(ProxyUrl, Trust), AdminError> {
    let scheme = if identity.insecure_http { "http" } else { "https" };
    let proxy = ProxyUrl::parse(&format!("{scheme}://{}", identity.proxy_addr))
        .map_err(|e| AdminError::Config(format!("the admin identity names a bad proxy: {e}")))?;
    let trust = match &identity.tls_cert_pem {
        Some(pem) => pinned_from_pem(pem).map_err(|e| AdminError::Config(e.to_string()))?,
        None => Trust::System,
    };
    Ok((proxy, trust))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_identity_asks_whether_hwad_runs_with_that_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is hwad running with --data-dir"), "{err}");
    }

    #[test]
    fn a_plain_http_identity_on_loopback_gives_an_http_proxy() {
        let identity = AdminIdentity {
            proxy_addr: "127.0.0.1:3080".into(),
            insecure_http: true,
            tls_cert_pem: None,
            token: "t".into(),
        };
        let (proxy, _) = proxy_of(&identity).unwrap();
        assert_eq!(proxy.origin(), "http://127.0.0.1:3080");
    }

    #[test]
    fn a_damaged_identity_says_to_restart_hwad() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ADMIN_IDENTITY_FILE), b"{}").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("restart hwad"), "{err}");
    }
}
