//! A small HTTP/1.1 client for the proxy's JSON API, over the network seam.
//!
//! Each call dials a fresh connection through [`hwa_core::Network`] (so the simulator's
//! partitions and latency apply), wraps it in TLS unless the proxy is a loopback `http://`
//! address, and runs one request on it with hyper's connection-level client. Calls are few and
//! far apart (a login, a long poll, a listing), so connection reuse would buy nothing.
//!
//! # Trust
//! [`Trust::System`] verifies the proxy against the system's root certificates.
//! [`Trust::Pinned`] accepts exactly one certificate, the self-signed one `hwad` writes into the
//! admin identity. [`Trust::Insecure`] accepts any certificate: development only, and the
//! command that chooses it warns on every run.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hwa_core::SharedNetwork;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ClientError, from_error_answer};
use crate::proxy_url::{ProxyUrl, Scheme};

/// Timeout of an ordinary call: the proxy answers these at once, so a long silence means a
/// network fault, and a person should not wait longer than this to hear about it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Timeout of the headless login long poll: the request lifetime (SPEC section 4) plus a
/// margin for the proxy to send its timeout answer, so the client never gives up first.
pub const LONG_POLL_TIMEOUT: Duration =
    Duration::from_secs(hwa_core::limits::REQUEST_TTL.as_secs() + 30);

/// Largest answer body read into memory: a node list of a large cluster fits many times over.
const RESPONSE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// How the proxy's TLS certificate is checked.
#[derive(Clone, Debug)]
pub enum Trust {
    System,
    Pinned(Vec<u8>),
    Insecure,
    /// The simulator's network, which has no TLS: `https://` proxies are spoken to in plain
    /// HTTP, as the simulated proxies serve it. No command-line flag selects it; only the
    /// simulator constructs it, and its network exists only inside its process.
    SimulatedNetwork,
}

/// One request to the proxy.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub authorization: Option<String>,
    pub body: Option<(Bytes, &'static str)>,
    pub accept: &'static str,
    pub timeout: Option<Duration>,
    /// `Upgrade` protocol to ask for (with `Connection: upgrade`), for [`HttpClient::upgrade`].
    pub upgrade: Option<&'static str>,
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            authorization: None,
            body: None,
            accept: "application/json",
            timeout: Some(CALL_TIMEOUT),
            upgrade: None,
        }
    }

    pub fn json<B: Serialize>(mut self, body: &B) -> Result<Call, ClientError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ClientError::Protocol(format!("cannot encode the request body: {e}")))?;
        self.body = Some((Bytes::from(bytes), "application/json"));
        Ok(self)
    }

    pub fn auth(mut self, authorization: Option<String>) -> Call {
        self.authorization = authorization;
        self
    }

    pub fn bearer(self, token: &str) -> Call {
        self.auth(Some(format!("Bearer {token}")))
    }
}

/// A client for one proxy.
#[derive(Clone)]
pub struct HttpClient {
    net: SharedNetwork,
    proxy: ProxyUrl,
    tls: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").field("proxy", &self.proxy.origin()).finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(net: SharedNetwork, proxy: ProxyUrl, trust: &Trust) -> Result<Self, ClientError> {
        let tls = match (proxy.scheme, trust) {
            (Scheme::Http, _) | (_, Trust::SimulatedNetwork) => None,
            (Scheme::Https, _) => Some(Arc::new(tls_config(trust)?)),
        };
        Ok(HttpClient { net, proxy, tls })
    }

    pub fn proxy(&self) -> &ProxyUrl {
        &self.proxy
    }

    /// Sends `call` and returns the answer with its body still streaming.
    pub async fn send(&self, call: &Call) -> Result<http::Response<Incoming>, ClientError> {
        match call.timeout {
            Some(limit) => {
                tokio::time::timeout(limit, self.send_inner(call)).await.map_err(|_| {
                    ClientError::Transport {
                        addr: self.proxy.authority(),
                        message: no_answer_within(limit),
                    }
                })?
            }
            None => self.send_inner(call).await,
        }
    }

    /// Sends `call` (which names an `upgrade` protocol) and returns the raw connection once
    /// the proxy answers `101 Switching Protocols`; any other answer becomes an error.
    pub async fn upgrade(&self, call: &Call) -> Result<hwa_core::net::BoxStream, ClientError> {
        let answer = self.send(call).await?;
        if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = answer.status().as_u16();
            let body = Limited::new(answer.into_body(), RESPONSE_MAX_BYTES)
                .collect()
                .await
                .map_err(|e| self.transport(format!("reading the answer failed: {e}")))?
                .to_bytes();
            return Err(from_error_answer(status, &body));
        }
        let upgraded = hyper::upgrade::on(answer)
            .await
            .map_err(|e| self.transport(format!("the tunnel did not open: {e}")))?;
        Ok(Box::pin(TokioIo::new(upgraded)))
    }

    /// Sends `call` and reads the whole body; any status is returned as it is.
    pub async fn fetch(&self, call: &Call) -> Result<(StatusCode, Bytes), ClientError> {
        let read = async {
            let answer = self.send_inner(call).await?;
            let status = answer.status();
            let body = Limited::new(answer.into_body(), RESPONSE_MAX_BYTES)
                .collect()
                .await
                .map_err(|e| self.transport(format!("reading the answer failed: {e}")))?
                .to_bytes();
            Ok((status, body))
        };
        match call.timeout {
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .map_err(|_| self.transport(no_answer_within(limit)))?,
            None => read.await,
        }
    }

    /// Sends `call` and decodes a JSON answer; an error status becomes a [`ClientError`].
    pub async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ClientError> {
        let body = self.expect_ok(call).await?;
        serde_json::from_slice(&body).map_err(|e| {
            ClientError::Protocol(format!("{} {} answered bad JSON: {e}", call.method, call.path))
        })
    }

    /// Sends `call` and returns the body of a successful answer.
    pub async fn expect_ok(&self, call: &Call) -> Result<Bytes, ClientError> {
        let (status, body) = self.fetch(call).await?;
        if !status.is_success() {
            return Err(from_error_answer(status.as_u16(), &body));
        }
        Ok(body)
    }

    async fn send_inner(&self, call: &Call) -> Result<http::Response<Incoming>, ClientError> {
        let addr = self.proxy.authority();
        let stream = self
            .net
            .dial(&addr)
            .await
            .map_err(|source| ClientError::Connect { addr: addr.clone(), source })?;
        let request = self.build(call)?;
        match &self.tls {
            None => self.exchange(TokioIo::new(stream), request).await,
            Some(config) => {
                let name = ServerName::try_from(self.proxy.host.clone()).map_err(|e| {
                    ClientError::Usage(format!(
                        "`{}` is not a TLS server name: {e}",
                        self.proxy.host
                    ))
                })?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|e| ClientError::Tls {
                        addr: addr.clone(),
                        message: tls_advice(&e),
                    })?;
                self.exchange(TokioIo::new(tls), request).await
            }
        }
    }

    async fn exchange<S>(
        &self,
        io: TokioIo<S>,
        request: http::Request<Full<Bytes>>,
    ) -> Result<http::Response<Incoming>, ClientError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| self.transport(format!("HTTP handshake failed: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "proxy connection ended with an error");
            }
        });
        sender.send_request(request).await.map_err(|e| self.transport(e.to_string()))
    }

    fn build(&self, call: &Call) -> Result<http::Request<Full<Bytes>>, ClientError> {
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(&call.path)
            .header(header::HOST, self.proxy.authority())
            .header(header::ACCEPT, call.accept)
            .header(header::USER_AGENT, concat!("hwa/", env!("CARGO_PKG_VERSION")));
        if let Some(protocol) = call.upgrade {
            builder =
                builder.header(header::CONNECTION, "upgrade").header(header::UPGRADE, protocol);
        }
        if let Some(auth) = &call.authorization {
            let mut value = HeaderValue::from_str(auth)
                .map_err(|_| ClientError::Protocol("authorization is not a header value".into()))?;
            value.set_sensitive(true);
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let body = match &call.body {
            Some((bytes, content_type)) => {
                builder = builder.header(header::CONTENT_TYPE, *content_type);
                bytes.clone()
            }
            None => Bytes::new(),
        };
        builder
            .body(Full::new(body))
            .map_err(|e| ClientError::Usage(format!("bad request path `{}`: {e}", call.path)))
    }

    fn transport(&self, message: String) -> ClientError {
        ClientError::Transport { addr: self.proxy.authority(), message }
    }
}

/// The message for a failed TLS handshake, with the usual remedy for a self-signed proxy.
fn tls_advice(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        format!(
            "{text}; the proxy's certificate is not trusted by this system (for a development \
                 proxy with a self-signed certificate, pass --insecure)"
        )
    } else {
        text
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS configuration for a trust choice.
pub fn tls_config(trust: &Trust) -> Result<ClientConfig, ClientError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS setup failed: {e}")))?;
    let config = match trust {
        Trust::System => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A malformed system certificate is skipped; the others still count.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(ClientError::Config(
                    "no trusted root certificates found on this system; install the \
                     ca-certificates package"
                        .into(),
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Pinned(der) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyOrPinned {
                pinned: Some(der.clone()),
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Trust::SimulatedNetwork => {
            return Err(ClientError::Config("the simulated network carries no TLS".into()));
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyOrPinned {
                pinned: None,
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// Parses the first certificate of a PEM text, for [`Trust::Pinned`].
pub fn pinned_from_pem(pem: &str) -> Result<Trust, ClientError> {
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    match rustls_pemfile::certs(&mut reader).next() {
        Some(Ok(cert)) => Ok(Trust::Pinned(cert.as_ref().to_vec())),
        _ => {
            Err(ClientError::Config("the pinned proxy certificate is not a PEM certificate".into()))
        }
    }
}

/// Accepts exactly the pinned certificate, or any certificate when none is pinned; the
/// handshake signatures are still verified, so the peer holds the certificate's key.
#[derive(Debug)]
struct AnyOrPinned {
    pinned: Option<Vec<u8>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyOrPinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pinned {
            Some(pinned) if pinned.as_slice() != end_entity.as_ref() => {
                Err(rustls::Error::General("the proxy's certificate is not the pinned one".into()))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The message of a call that timed out, in seconds, or milliseconds below one second.
fn no_answer_within(limit: Duration) -> String {
    if limit >= Duration::from_secs(1) {
        format!("no answer within {} seconds", limit.as_secs())
    } else {
        format!("no answer within {} ms", limit.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hwa_core::net::TokioNetwork;

    #[tokio::test]
    async fn an_unreachable_proxy_is_a_connect_error_naming_the_address() {
        // Port 9 on loopback (discard) is closed on test machines; the dial is refused.
        let proxy = ProxyUrl::parse("http://127.0.0.1:9").unwrap();
        let client = HttpClient::new(TokioNetwork::shared(), proxy, &Trust::System).unwrap();
        let err = client.fetch(&Call::new(Method::GET, "/webapi/ping")).await.unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    }

    /// Serves one canned HTTP answer on a loopback port and answers the proxy to call.
    async fn one_answer(answer: &'static str) -> ProxyUrl {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let net = TokioNetwork::shared();
        let mut listener = net.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            if !answer.is_empty() {
                stream.write_all(answer.as_bytes()).await.unwrap();
            } else {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
        ProxyUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap()
    }

    fn client(proxy: ProxyUrl) -> HttpClient {
        HttpClient::new(TokioNetwork::shared(), proxy, &Trust::System).unwrap()
    }

    #[tokio::test]
    async fn an_error_answer_becomes_an_api_error_with_its_code() {
        let body =
            r#"{"error":{"code":"already_decided","message":"request was already decided"}}"#;
        let answer = Box::leak(
            format!(
                "HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let proxy = one_answer(answer).await;
        let err = client(proxy)
            .json::<serde_json::Value>(&Call::new(Method::GET, "/webapi/ping"))
            .await
            .unwrap_err();
        assert_eq!(err.api_code(), Some(hwa_core::api::ErrorCode::AlreadyDecided));
        assert_eq!(err.to_string(), "request was already decided");
    }

    #[tokio::test]
    async fn a_success_with_a_body_of_the_wrong_shape_is_a_protocol_error() {
        let proxy = one_answer(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\
             connection: close\r\n\r\n[]",
        )
        .await;
        let err = client(proxy)
            .json::<hwa_core::api::PingResponse>(&Call::new(Method::GET, "/webapi/ping"))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
        assert!(err.to_string().contains("GET /webapi/ping answered bad JSON"), "{err}");
    }

    #[tokio::test]
    async fn a_silent_proxy_is_reported_after_the_call_timeout() {
        let proxy = one_answer("").await;
        let mut call = Call::new(Method::GET, "/webapi/ping");
        call.timeout = Some(Duration::from_millis(300));
        let err = client(proxy).fetch(&call).await.unwrap_err();
        assert!(err.to_string().contains("no answer within"), "{err}");
    }

    #[test]
    fn the_long_poll_outlives_the_request_lifetime() {
        assert!(LONG_POLL_TIMEOUT > hwa_core::limits::REQUEST_TTL);
    }

    #[test]
    fn a_pem_without_a_certificate_is_refused() {
        assert!(pinned_from_pem("not pem").is_err());
    }

    #[test]
    fn every_trust_choice_builds_a_tls_configuration() {
        assert!(tls_config(&Trust::Insecure).is_ok());
        assert!(tls_config(&Trust::Pinned(vec![1, 2, 3])).is_ok());
    }
}
