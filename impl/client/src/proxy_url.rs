//! The proxy's address as the user gives it (`--proxy`, `HWA_PROXY`, an invite URL) and the
//! rule that plain HTTP is only for loopback proxies.
//!
//! `proxy.example.com`, `proxy.example.com:3080` and `https://proxy.example.com` all mean TLS;
//! `http://` is accepted only when the host is `localhost`, an address in 127.0.0.0/8 or `::1`,
//! because anything else would send session tokens and certificates in clear text. A loopback
//! host given without a scheme (`localhost:3080`, as `hwad start --dev` prints it) means plain
//! HTTP; `https://localhost` still means TLS.

use std::fmt;
use std::net::IpAddr;

use hwa_core::limits::WEB_PROXY_PORT;

use crate::error::ClientError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port a URL of this scheme implies when it names none.
    fn url_default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A parsed proxy address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyUrl {
    pub scheme: Scheme,
    /// Host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
}

impl ProxyUrl {
    /// Parses a proxy address. Without a scheme, TLS and the reference's web port are assumed.
    pub fn parse(text: &str) -> Result<ProxyUrl, ClientError> {
        let text = text.trim().trim_end_matches('/');
        if text.is_empty() {
            return Err(ClientError::Usage("the proxy address is empty".into()));
        }
        let (with_scheme, default_port) = if text.contains("://") {
            (text.to_owned(), None)
        } else {
            (format!("https://{text}"), Some(WEB_PROXY_PORT))
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| {
            ClientError::Usage(format!("`{text}` is not a proxy address ({e}); use host[:port]"))
        })?;
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => {
                return Err(ClientError::Usage(format!(
                    "proxy scheme `{other}` is not supported; use https:// (or http:// on loopback)"
                )));
            }
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(ClientError::Usage(format!("`{text}` names no proxy host"))),
        };
        if url.path() != "/" && !url.path().is_empty() {
            return Err(ClientError::Usage(format!(
                "`{text}` has a path; give the proxy as host[:port] without a path"
            )));
        }
        let port = url.port().or(default_port).unwrap_or(scheme.url_default_port());
        let mut proxy = ProxyUrl { scheme, host, port };
        if default_port.is_some() && proxy.is_loopback() {
            // A development cluster on this machine (`hwad start --dev`) speaks plain HTTP,
            // and names itself `localhost:PORT`; traffic never leaves the machine.
            proxy.scheme = Scheme::Http;
        }
        if scheme == Scheme::Http && !proxy.is_loopback() {
            return Err(ClientError::Usage(format!(
                "plain http:// is only allowed for a proxy on this machine (localhost, 127.0.0.1, \
                 ::1), not `{}`; use https://",
                proxy.authority()
            )));
        }
        Ok(proxy)
    }

    /// Whether the host is this machine.
    pub fn is_loopback(&self) -> bool {
        if self.host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `host:port`, with brackets around an IPv6 address: what is dialed and what names the
    /// profile.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The origin a browser would report for pages of this proxy, as WebAuthn checks it.
    pub fn origin(&self) -> String {
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == self.scheme.url_default_port() {
            format!("{}://{host}", self.scheme.as_str())
        } else {
            format!("{}://{host}:{}", self.scheme.as_str(), self.port)
        }
    }

    /// A full URL for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_host_means_tls_on_the_reference_web_port() {
        let p = ProxyUrl::parse("proxy.example.com").unwrap();
        assert_eq!(p.scheme, Scheme::Https);
        assert_eq!(p.authority(), "proxy.example.com:3080");
        assert_eq!(p.origin(), "https://proxy.example.com:3080");
    }

    #[test]
    fn an_https_url_without_port_uses_443_and_its_origin_omits_it() {
        let p = ProxyUrl::parse("https://proxy.example.com/").unwrap();
        assert_eq!(p.authority(), "proxy.example.com:443");
        assert_eq!(p.origin(), "https://proxy.example.com");
    }

    #[test]
    fn plain_http_is_accepted_on_loopback_only() {
        for ok in ["http://127.0.0.1:3080", "http://localhost:3080", "http://[::1]:3080"] {
            assert!(ProxyUrl::parse(ok).is_ok(), "{ok}");
        }
        let err = ProxyUrl::parse("http://proxy.example.com:3080").unwrap_err();
        assert!(matches!(err, ClientError::Usage(_)));
        assert!(err.to_string().contains("only allowed for a proxy on this machine"), "{err}");
    }

    #[test]
    fn a_loopback_host_without_scheme_is_the_plain_http_dev_proxy() {
        let p = ProxyUrl::parse("localhost:35741").unwrap();
        assert_eq!(p.origin(), "http://localhost:35741");
        let p = ProxyUrl::parse("https://localhost:35741").unwrap();
        assert_eq!(p.scheme, Scheme::Https);
    }

    #[test]
    fn ipv6_authorities_are_bracketed() {
        let p = ProxyUrl::parse("http://[::1]:3080").unwrap();
        assert_eq!(p.authority(), "[::1]:3080");
        assert_eq!(p.origin(), "http://[::1]:3080");
    }

    #[test]
    fn paths_and_other_schemes_are_refused() {
        assert!(ProxyUrl::parse("https://p.example.com/web").is_err());
        assert!(ProxyUrl::parse("ftp://p.example.com").is_err());
        assert!(ProxyUrl::parse("").is_err());
    }
}
