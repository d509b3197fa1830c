//! The same server code over turmoil's simulated network: the proxy accepts connections from
//! the `hwa_core::Network` seam, so a simulated client on another host reaches it by name, and
//! the client address the proxy sees is the simulated host's.

mod common;

use std::time::Duration;

use hwa_core::entropy::SeededEntropy;
use hwa_core::net::TurmoilNetwork;
use hwa_proxy::{ProxyConfig, TlsMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT: u16 = 3080;

async fn exchange(head: &str) -> Result<String, Box<dyn std::error::Error>> {
    let net = TurmoilNetwork::shared();
    let mut stream = net.dial(&format!("proxy:{PORT}")).await?;
    stream.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn the_proxy_serves_a_simulated_client_and_rate_limits_it_by_its_simulated_address() {
    let mut sim = turmoil::Builder::new().simulation_duration(Duration::from_secs(60)).build();
    sim.host("proxy", || async {
        let auth = common::auth_service(SeededEntropy::shared(1)).await;
        let config = ProxyConfig {
            listen: (std::net::Ipv4Addr::UNSPECIFIED, PORT).into(),
            public_addr: format!("proxy:{PORT}"),
            tls: TlsMode::PlainSimulatedNetwork,
            cluster_name: "sim".into(),
        };
        hwa_proxy::serve(config, auth, TurmoilNetwork::shared(), std::future::pending()).await?;
        Ok(())
    });
    sim.client("laptop", async {
        let ping =
            exchange("GET /webapi/ping HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n")
                .await?;
        assert!(ping.starts_with("HTTP/1.1 200 OK"), "{ping}");
        assert!(ping.contains("\"cluster_name\":\"sim\""), "{ping}");
        let mut last = String::new();
        for _ in 0..=hwa_core::limits::UNAUTH_RATE_BURST {
            last = exchange(concat!(
                "POST /webapi/mfa/login/begin HTTP/1.1\r\nHost: proxy\r\n",
                "Content-Type: application/json\r\nContent-Length: 2\r\n",
                "Connection: close\r\n\r\n{}"
            ))
            .await?;
        }
        assert!(last.starts_with("HTTP/1.1 429"), "{last}");
        Ok(())
    });
    sim.run().expect("simulation succeeds");
}
