//! The pages in a real browser: headless Chromium with a virtual WebAuthn authenticator
//! (Chrome DevTools Protocol `WebAuthn` domain) signs up from an invite page, then approves a
//! waiting headless login from the approval page, and the login receives its certificate;
//! logged out, it is sent through the login page and back, and rejects a second request.
//! This checks the page script (`assets/app.js`) end to end: the JSON helpers, the cookie
//! session, the CSRF header and the messages.
//!
//! Chromium is started on loopback with a temporary profile and stopped at the end. Without a
//! `chromium` binary on the PATH the test says so and passes without running (CI installs it).

mod common;

use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hwa_auth::{AuthConfig, AuthService, PasswordHashing, Seams};
use hwa_core::admin::UserAdd;
use hwa_core::clock::SystemClock;
use hwa_core::entropy::SeededEntropy;
use hwa_core::id::{RequestId, match_code};
use hwa_core::net::TokioNetwork;
use hwa_proxy::{ProxyConfig, TlsMode};
use hwa_store::memory::MemoryStore;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// How long one wait on the page may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Interval between looks at the page.
const POLL: Duration = Duration::from_millis(100);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A minimal DevTools client: one page session over the browser's websocket.
struct Devtools {
    socket: Socket,
    next_id: u64,
    session: Option<String>,
}

impl Devtools {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(message.to_string())).await.expect("devtools send");
        loop {
            let frame = self.socket.next().await.expect("devtools open").expect("devtools read");
            let Message::Text(text) = frame else { continue };
            let reply: Value = serde_json::from_str(&text).expect("devtools JSON");
            if reply["id"] == json!(id) {
                assert!(reply.get("error").is_none(), "{method} failed: {reply}");
                return reply["result"].clone();
            }
        }
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }))
            .await;
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true on the page; fails with the status text otherwise.
    async fn wait_for(&mut self, expression: &str, what: &str) {
        for _ in 0..(PAGE_TIMEOUT.as_millis() / POLL.as_millis()) {
            if self.eval(expression).await == json!(true) {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        let status = self.eval("document.getElementById('status')?.textContent").await;
        let url = self.eval("location.href").await;
        panic!("waited in vain for {what} at {url}; page status: {status}");
    }

    async fn status_contains(&mut self, text: &str) {
        let expression = format!(
            "(document.getElementById('status')?.textContent || '').includes({})",
            json!(text)
        );
        self.wait_for(&expression, text).await;
    }
}

/// Starts Chromium and returns it with the browser's websocket address.
async fn chromium(profile: &std::path::Path) -> Option<(tokio::process::Child, String)> {
    let mut child = tokio::process::Command::new("chromium")
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg("--remote-debugging-address=127.0.0.1")
        .arg("--remote-debugging-port=0")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let url = tokio::time::timeout(PAGE_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some((child, url))
}

fn ssh_public_key(seed: u8) -> String {
    use base64::Engine;
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
    let mut blob = Vec::new();
    for part in [b"ssh-ed25519".as_slice(), key.as_bytes().as_slice()] {
        let len = u32::try_from(part.len()).expect("short part");
        blob.extend_from_slice(&len.to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!("ssh-ed25519 {}", base64::engine::general_purpose::STANDARD.encode(blob))
}

/// Starts a headless login long poll over a real connection; the task ends with the answer.
fn start_login(port: u16, key: &str) -> tokio::task::JoinHandle<String> {
    let id = RequestId::derive(key.as_bytes());
    let body = json!({ "user": "alice", "headless_id": id, "ssh_pub_key": key }).to_string();
    tokio::spawn(async move {
        let addr = format!("127.0.0.1:{port}");
        let mut stream = TokioNetwork::shared().dial(&addr).await.expect("dial");
        let head = format!(
            "POST /webapi/headless/login HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        answer
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_up_and_approves_a_headless_request_with_a_virtual_authenticator() {
    let profile = tempfile::tempdir().expect("profile dir");
    let Some((mut browser, ws_url)) = chromium(profile.path()).await else {
        eprintln!("chromium is not installed: the browser test did not run");
        return;
    };

    // The proxy on a free loopback port; the auth service learns the origin from the port.
    let net = TokioNetwork::shared();
    let config = ProxyConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        public_addr: "localhost".into(),
        tls: TlsMode::PlainLoopbackOnly,
        cluster_name: "browser".into(),
    };
    let bound = hwa_proxy::bind(&config, &net).await.expect("binds");
    let port = bound.local_addr().port();
    let origin = format!("http://localhost:{port}");
    let clock = SystemClock::shared();
    let seams =
        Seams { store: MemoryStore::new(clock.clone()), clock, entropy: SeededEntropy::shared(11) };
    let auth_config = AuthConfig {
        cluster_name: "browser".into(),
        rp_id: "localhost".into(),
        public_origins: vec![origin.clone()],
        public_addr: format!("localhost:{port}"),
        url_scheme: "http".into(),
        password_hashing: PasswordHashing::Fast,
    };
    let (auth, _) = AuthService::open(auth_config, seams).await.expect("auth opens");
    let server = tokio::spawn(bound.serve(auth.clone(), std::future::pending()));

    let (socket, _) = tokio_tungstenite::connect_async(ws_url.as_str()).await.expect("devtools");
    let mut devtools = Devtools { socket, next_id: 0, session: None };
    let target = devtools.call("Target.createTarget", json!({ "url": "about:blank" })).await;
    let attached = devtools
        .call("Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true }))
        .await;
    devtools.session = attached["sessionId"].as_str().map(str::to_owned);
    devtools.call("WebAuthn.enable", json!({ "enableUI": false })).await;
    let options = json!({
        "protocol": "ctap2",
        "transport": "usb",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserVerified": true,
        "automaticPresenceSimulation": true,
    });
    devtools.call("WebAuthn.addVirtualAuthenticator", json!({ "options": options })).await;

    // Sign up from the invite page.
    let added = auth
        .add_user(UserAdd { user: "alice".into(), logins: vec!["alice".into()], roles: vec![] })
        .await
        .expect("user added");
    devtools.call("Page.navigate", json!({ "url": added.invite_url })).await;
    devtools.wait_for("!document.getElementById('invite-form').hidden", "the signup form").await;
    devtools
        .eval(&format!(
            "document.getElementById('password').value = {pw};
             document.getElementById('confirm').value = {pw};
             document.getElementById('invite-form').requestSubmit(); true",
            pw = json!(common::PASSWORD)
        ))
        .await;
    devtools.status_contains("You are signed up as alice").await;

    // A headless login waits; the approval page shows it and approves it.
    let key = ssh_public_key(9);
    let login = start_login(port, &key);
    let id = RequestId::derive(key.as_bytes());
    devtools.call("Page.navigate", json!({ "url": format!("{origin}/web/headless/{id}") })).await;
    devtools.wait_for("!document.getElementById('request').hidden", "the request details").await;
    let code = devtools.eval("document.getElementById('f-code').textContent").await;
    assert_eq!(code, json!(match_code(key.as_bytes())));
    let user = devtools.eval("document.getElementById('f-user').textContent").await;
    assert_eq!(user, json!("alice"));
    devtools.eval("document.getElementById('approve').click(); true").await;
    devtools.status_contains("Approved").await;
    let answer =
        tokio::time::timeout(PAGE_TIMEOUT, login).await.expect("login ends").expect("task");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("ssh_certificate"), "{answer}");

    // Logged out, the approval page sends the person to the login page and back, and a
    // rejection ends the waiting login with a denial.
    devtools.call("Network.clearBrowserCookies", json!({})).await;
    let key = ssh_public_key(10);
    let login = start_login(port, &key);
    let id = RequestId::derive(key.as_bytes());
    devtools.call("Page.navigate", json!({ "url": format!("{origin}/web/headless/{id}") })).await;
    devtools.wait_for("document.body.dataset.page === 'login'", "the login page").await;
    devtools
        .eval(&format!(
            "document.getElementById('user').value = 'alice';
             document.getElementById('password').value = {pw};
             document.getElementById('login-form').requestSubmit(); true",
            pw = json!(common::PASSWORD)
        ))
        .await;
    devtools.wait_for("document.body.dataset.page === 'headless'", "the way back").await;
    devtools.wait_for("!document.getElementById('request').hidden", "the request details").await;
    devtools.eval("document.getElementById('reject').click(); true").await;
    devtools.status_contains("Rejected").await;
    let answer =
        tokio::time::timeout(PAGE_TIMEOUT, login).await.expect("login ends").expect("task");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    server.abort();
    let _ = browser.kill().await;
}
