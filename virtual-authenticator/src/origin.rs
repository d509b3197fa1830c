//! Which origins may use which relying party ID: the browser's rule, checked by our client
//! itself rather than trusted to passkey-client (which lets any origin use `localhost`).
//!
//! The rule (WebAuthn L3, section 5.1.3 and 5.1.4.1, with the HTML "is a registrable domain
//! suffix of or is equal to" algorithm): the origin must be a secure context (`https`, or
//! `http` on `localhost` only), its host must equal the RP ID or end with `.` + RP ID, and
//! `localhost` as an RP ID is only for origins whose host is `localhost`. IP addresses are
//! never valid RP IDs.
//!
//! # Limitations
//!
//! Whether the RP ID is itself a public suffix (`com`, `co.uk`) needs the Public Suffix List;
//! here an RP ID without a dot other than `localhost` is refused, and passkey-client's own
//! check against the list runs afterwards.

use url::{Host, Url};

use crate::error::VaError;

/// The RP ID the development setup uses: allowed only for `http(s)://localhost[:port]`.
pub const LOCALHOST: &str = "localhost";

/// Parses `origin` and checks that it may use `rp_id`; answers the parsed origin.
pub fn check(origin: &str, rp_id: &str) -> Result<Url, VaError> {
    let refuse = || VaError::Origin { origin: origin.to_owned(), rp_id: rp_id.to_owned() };
    let url = Url::parse(origin).map_err(|_| refuse())?;
    let host = match url.host() {
        Some(Host::Domain(domain)) => domain.to_ascii_lowercase(),
        _ => return Err(refuse()),
    };
    let rp_id = rp_id.to_ascii_lowercase();
    let secure = match url.scheme() {
        "https" => true,
        "http" => host == LOCALHOST,
        _ => false,
    };
    if !secure || url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse());
    }
    if rp_id == LOCALHOST {
        return if host == LOCALHOST { Ok(url) } else { Err(refuse()) };
    }
    let is_suffix = host == rp_id || host.ends_with(&format!(".{rp_id}"));
    if !is_suffix || !rp_id.contains('.') || rp_id.starts_with('.') || rp_id.ends_with('.') {
        return Err(refuse());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_may_use_its_own_domain_and_its_parent() {
        assert!(check("https://example.com", "example.com").is_ok());
        assert!(check("https://login.example.com:8443", "example.com").is_ok());
    }

    #[test]
    fn an_origin_may_not_use_another_domain_or_a_sibling() {
        assert!(check("https://example.org", "example.com").is_err());
        assert!(check("https://badexample.com", "example.com").is_err());
        assert!(check("https://example.com", "login.example.com").is_err());
        assert!(check("https://example.com", "com").is_err());
    }

    #[test]
    fn localhost_is_only_for_localhost_origins() {
        assert!(check("http://localhost:3080", "localhost").is_ok());
        assert!(check("https://localhost", "localhost").is_ok());
        assert!(check("https://example.com", "localhost").is_err());
        assert!(check("http://127.0.0.1:3080", "localhost").is_err());
    }

    #[test]
    fn plain_http_is_refused_except_on_localhost() {
        assert!(check("http://example.com", "example.com").is_err());
        assert!(check("ftp://example.com", "example.com").is_err());
    }
}
