//! The node and the client over turmoil's simulated network: the same code as on real
//! sockets, reached only through the `hwa_core::Network` seam.
//!
//! Only authentication is exercised here. Commands spawn real processes, which run in real
//! time while the simulation steps virtual time, so they belong to the loopback tests.

mod support;

use std::sync::Arc;
use std::time::Duration;

use hwa_core::SharedNetwork;
use hwa_core::net::TurmoilNetwork;
use hwa_node::{NodeConfig, TracingAuditSink};
use hwa_ssh::{Identity, SshError, Target};
use ssh_key::certificate::CertType;
use support::{Cluster, NODE_NAME, default_policy, login};

/// Port the simulated node listens on.
const SSH_PORT: u16 = 22;

#[test]
fn a_certificate_is_admitted_and_a_foreign_one_refused_over_simulated_tcp() {
    let cluster = Cluster::new(30);
    let host_key = cluster.key();
    let config = NodeConfig {
        name: NODE_NAME.into(),
        listen: (std::net::Ipv4Addr::UNSPECIFIED, SSH_PORT).into(),
        labels: Default::default(),
        user_ca_keys: vec![cluster.user_ca.public_key().clone()],
        host_key: host_key.clone(),
        host_cert: Some(cluster.host_cert(&host_key, NODE_NAME)),
        policy: default_policy(),
    };
    let me = login();
    let clock = cluster.clock.clone();

    let mut sim = turmoil::Builder::new().simulation_duration(Duration::from_secs(60)).build();
    let node_clock = clock.clone();
    sim.host("node", move || {
        let config = config.clone();
        let clock = node_clock.clone();
        async move {
            let net: SharedNetwork = TurmoilNetwork::shared();
            let never = std::future::pending::<()>();
            hwa_node::serve(config, net, clock, Arc::new(TracingAuditSink), never).await?;
            Ok(())
        }
    });
    sim.client("client", async move {
        // The certificate names the client's simulated address, as the auth service names
        // the address it saw.
        let source = turmoil::lookup("client").to_string();
        let key = cluster.key();
        let cert = cluster.cert_builder(&key, &me, CertType::User, &source, NODE_NAME);
        let good = Identity { key: Arc::new(key), cert: cert.sign(&cluster.user_ca)? };
        let mut forged = good.clone();
        let foreign_ca = cluster.key();
        forged.cert = cluster.user_cert_builder(&forged.key, &me).sign(&foreign_ca)?;

        let net: SharedNetwork = TurmoilNetwork::shared();
        let target =
            Target { addr: format!("node:{SSH_PORT}"), trust: cluster.host_trust(), login: me };
        let refused = hwa_ssh::connect(&net, &clock, &target, &forged).await;
        assert!(matches!(refused, Err(SshError::AccessDenied { .. })), "{refused:?}");
        let conn = hwa_ssh::connect(&net, &clock, &target, &good).await?;
        assert!(!conn.is_closed());
        conn.close().await?;
        Ok(())
    });
    sim.run().unwrap();
}
