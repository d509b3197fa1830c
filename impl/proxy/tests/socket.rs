//! The proxy over real loopback sockets: plain HTTP on loopback, refusal of plain HTTP
//! elsewhere, TLS with a self-signed certificate a client pins, and the peer address taken
//! from the connection rather than from headers.

mod common;

use std::sync::Arc;

use hwa_core::net::TokioNetwork;
use hwa_proxy::{ProxyConfig, ProxyError, TlsMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

fn config(listen: &str, tls: TlsMode) -> ProxyConfig {
    ProxyConfig {
        listen: listen.parse().expect("test address"),
        public_addr: "localhost:0".into(),
        tls,
        cluster_name: "test".into(),
    }
}

/// Sends one HTTP/1.1 request on `stream` and reads the whole answer.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    head: &str,
) -> String {
    stream.write_all(head.as_bytes()).await.expect("request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn plain_http_on_loopback_answers_ping_and_stops_on_shutdown() {
    let fx = common::fixture().await;
    let net = TokioNetwork::shared();
    let bound = hwa_proxy::bind(&config("127.0.0.1:0", TlsMode::PlainLoopbackOnly), &net)
        .await
        .expect("binds");
    let addr = bound.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(fx.auth.clone(), async {
        let _ = stopped.await;
    }));
    let mut stream = net.dial(&addr.to_string()).await.unwrap();
    let answer = exchange(
        &mut stream,
        concat!(
            "GET /webapi/ping HTTP/1.1\r\nHost: localhost\r\n",
            "X-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n",
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"cluster_name\":\"test\""), "{answer}");
    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(15), server).await.unwrap().unwrap();
}

#[tokio::test]
async fn plain_http_on_a_non_loopback_address_is_refused() {
    let net = TokioNetwork::shared();
    let err = hwa_proxy::bind(&config("0.0.0.0:0", TlsMode::PlainLoopbackOnly), &net)
        .await
        .expect_err("refused");
    assert!(matches!(err, ProxyError::PlainNotLoopback(_)), "{err}");
    assert!(err.to_string().contains("configure TLS"), "{err}");
}

#[tokio::test]
async fn tls_with_a_self_signed_certificate_serves_a_client_that_pins_it() {
    let fx = common::fixture().await;
    let net = TokioNetwork::shared();
    let tls = TlsMode::SelfSigned { hostnames: vec!["localhost".into()] };
    let bound = hwa_proxy::bind(&config("127.0.0.1:0", tls), &net).await.expect("binds");
    let addr = bound.local_addr();
    let pem = bound.self_signed_pem().expect("self-signed pem").to_owned();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(fx.auth.clone(), async {
        let _ = stopped.await;
    }));

    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = net.dial(&addr.to_string()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.expect("handshake");
    let answer = exchange(
        &mut stream,
        "GET /web/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("strict-transport-security"), "{answer}");
    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(15), server).await.unwrap().unwrap();
}

#[tokio::test]
async fn the_rate_limit_keys_on_the_connection_address_not_on_forwarding_headers() {
    // Each request claims another client in X-Forwarded-For; all come from 127.0.0.1, so the
    // burst of UNAUTH_RATE_BURST is shared and the next request is refused.
    let fx = common::fixture().await;
    let net = TokioNetwork::shared();
    let bound = hwa_proxy::bind(&config("127.0.0.1:0", TlsMode::PlainLoopbackOnly), &net)
        .await
        .expect("binds");
    let addr = bound.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(fx.auth.clone(), async {
        let _ = stopped.await;
    }));
    let mut last = String::new();
    for i in 0..=hwa_core::limits::UNAUTH_RATE_BURST {
        let mut stream = net.dial(&addr.to_string()).await.expect("dial");
        let head = format!(
            "POST /webapi/mfa/login/begin HTTP/1.1\r\nHost: localhost\r\n\
             X-Forwarded-For: 203.0.113.{i}\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        last = exchange(&mut stream, &head).await;
    }
    assert!(last.starts_with("HTTP/1.1 429"), "{last}");
    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(15), server).await.expect("stops").ok();
}
