//! Runs the behaviour suite against a real etcd server that the test starts itself on
//! loopback, with a temporary data directory, and stops afterwards.
//!
//! Needs the `etcd` binary (Debian package `etcd-server`) and the `etcd` cargo feature:
//! `cargo test -p hwa-store --features etcd --test etcd`. Without the binary the test says it
//! skipped, except under CI (`CI` set), where a missing binary is a failure.
#![cfg(feature = "etcd")]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use hwa_core::clock::SIM_EPOCH;
use hwa_store::etcd::EtcdStore;
use hwa_store::suite::{self, ManualClock, Target};
use hwa_store::{SharedStore, Store};

/// How long etcd may take to answer after it was started.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_store_passes_the_suite() {
    let Some(server) = EtcdServer::start() else { return };
    let endpoint = server.endpoint.clone();
    let clock = ManualClock::new(SIM_EPOCH);
    wait_until_ready(&endpoint, &clock).await;

    let shared = clock.clone();
    let made = Arc::new(AtomicUsize::new(0));
    let target = Target {
        name: "etcd".into(),
        clock,
        make: Box::new(move || {
            // Every case gets its own namespace on the one server, so it starts empty.
            let namespace = format!("suite-{}/", made.fetch_add(1, Ordering::SeqCst));
            let endpoints = vec![endpoint.clone()];
            let clock = shared.clone();
            async move {
                let store: SharedStore =
                    EtcdStore::connect(&endpoints, &namespace, clock).await.unwrap();
                store
            }
            .boxed()
        }),
        // Leases run on etcd's own clock, with a minimum length of 1.5 election timeouts.
        expiry_event_within: Duration::from_secs(15),
    };
    suite::run_all(&target).await;
}

#[tokio::test]
async fn etcd_store_keeps_namespaces_apart() {
    let Some(server) = EtcdServer::start() else { return };
    let clock = ManualClock::new(SIM_EPOCH);
    wait_until_ready(&server.endpoint, &clock).await;
    let endpoints = vec![server.endpoint.clone()];
    let blue = EtcdStore::connect(&endpoints, "blue/", clock.clone()).await.unwrap();
    let green = EtcdStore::connect(&endpoints, "green/", clock.clone()).await.unwrap();
    blue.put("users/ann", b"blue".to_vec(), None).await.unwrap();
    assert_eq!(green.get("users/ann").await.unwrap(), None);
    assert_eq!(green.range("", 10).await.unwrap(), Vec::new());
    assert_eq!(blue.range("", 10).await.unwrap().len(), 1);
}

/// An etcd process on loopback ports, killed when dropped.
struct EtcdServer {
    endpoint: String,
    child: Child,
    _data: tempfile::TempDir,
}

impl EtcdServer {
    /// Starts etcd, or returns `None` after saying why the test is skipped.
    fn start() -> Option<EtcdServer> {
        let binary = find_etcd()?;
        let data = tempfile::tempdir().expect("temp dir");
        let client_port = free_port();
        let peer_port = free_port();
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let child = Command::new(binary)
            .arg("--name=hwa-test")
            .arg(format!("--data-dir={}", data.path().join("etcd").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=hwa-test={peer_url}"))
            // Short election timeout: the minimum lease length (1.5 × it) bounds how soon
            // expiry's delete events come.
            .arg("--heartbeat-interval=50")
            .arg("--election-timeout=500")
            .arg("--log-level=error")
            .arg("--logger=zap")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start etcd");
        Some(EtcdServer { endpoint: client_url, child, _data: data })
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Telling the person running the tests that nothing ran is the point of this message.
#[allow(clippy::print_stderr)]
fn find_etcd() -> Option<&'static Path> {
    let found =
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].into_iter().map(Path::new).find(|p| p.exists());
    if found.is_none() {
        let message = "etcd is not installed (Debian package `etcd-server`)";
        assert!(std::env::var_os("CI").is_none(), "{message}; CI must install it");
        eprintln!("skipped: {message}");
    }
    found
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

async fn wait_until_ready(endpoint: &str, clock: &Arc<ManualClock>) {
    let endpoints = vec![endpoint.to_owned()];
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    loop {
        match EtcdStore::connect(&endpoints, "ready/", clock.clone()).await {
            Ok(_) => return,
            Err(e) if tokio::time::Instant::now() > deadline => panic!("etcd never answered: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
