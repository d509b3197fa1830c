//! Interoperability with a real browser: Chromium, with its DevTools virtual authenticator
//! (CTAP2, USB, user verification), registers and asserts against `hwa-webauthn` through the
//! WebAuthn Level 3 JSON methods a page uses (`PublicKeyCredential.parse*OptionsFromJSON` and
//! `credential.toJSON()`).
//!
//! The test starts Chromium headless itself, talks DevTools over `--remote-debugging-pipe`
//! (file descriptors 3 and 4, set up by `sh`), and serves the page from a loopback listener
//! as `http://localhost:<port>`. Without a `chromium` binary on the PATH it says so and passes:
//! `ci/install-deps.sh` installs one.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // test harness: a failure is a failed test

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hwa_core::UnixMillis;
use hwa_core::entropy::SeededEntropy;
use hwa_virtual_authenticator::{SoftAuthenticator, WebauthnClient};
use hwa_webauthn::{RelyingParty, RpConfig, WebauthnUser};
use serde_json::{Value, json};

/// How long the whole browser session may take before the watchdog ends Chromium.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

const NOW: UnixMillis = UnixMillis(1_767_225_600_000);

const PAGE: &str = "<!doctype html><title>hwa-webauthn interop</title><p>ok";

/// Chromium driven over the DevTools pipe.
struct Browser {
    child: Child,
    to_browser: ChildStdin,
    from_browser: BufReader<ChildStdout>,
    next_id: u64,
    done: Arc<AtomicBool>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Option<Browser> {
        let found = Command::new("sh")
            .args(["-c", "command -v chromium"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("chromium is not installed; skipping (ci/install-deps.sh installs it)");
            return None;
        }
        let profile = tempfile::tempdir().unwrap();
        let script = format!(
            "exec chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
             --no-default-browser-check --user-data-dir={} --remote-debugging-pipe \
             about:blank 3<&0 4>&1 0</dev/null 1>/dev/null 2>/dev/null",
            profile.path().display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let to_browser = child.stdin.take().unwrap();
        let from_browser = BufReader::new(child.stdout.take().unwrap());
        let done = Arc::new(AtomicBool::new(false));
        let (pid, watchdog_done) = (child.id(), done.clone());
        std::thread::spawn(move || {
            std::thread::sleep(BROWSER_DEADLINE);
            if !watchdog_done.load(Ordering::SeqCst) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        });
        Some(Browser { child, to_browser, from_browser, next_id: 1, done, _profile: profile })
    }

    /// Sends one DevTools command and waits for its answer, skipping events.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::String(session.to_owned());
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser.write_all(&bytes).unwrap();
        self.to_browser.flush().unwrap();
        loop {
            let mut frame = Vec::new();
            let n = self.from_browser.read_until(0, &mut frame).unwrap();
            assert!(n > 0, "chromium closed the DevTools pipe during {method}");
            frame.pop();
            let answer: Value = serde_json::from_slice(&frame).unwrap();
            if answer["id"] == id {
                assert!(answer.get("error").is_none(), "{method} failed: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// Evaluates an async expression in the page and returns its string result.
    fn eval(&mut self, session: &str, expression: &str) -> String {
        let result = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        assert!(result.get("exceptionDetails").is_none(), "page threw: {result}");
        result["result"]["value"].as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves [`PAGE`] on a loopback port until dropped.
struct Page {
    port: u16,
    done: Arc<AtomicBool>,
}

impl Page {
    fn serve() -> Page {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let mut request = [0u8; 4096];
                        let _ = stream.read(&mut request);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                             connection: close\r\n\r\n{PAGE}",
                            PAGE.len()
                        );
                        let _ = stream.write_all(reply.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Page { port, done }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

#[test]
fn chromium_registers_and_asserts_against_the_relying_party() {
    let Some(mut browser) = Browser::launch() else { return };
    let page = Page::serve();
    let origin = format!("http://localhost:{}", page.port);

    let target = browser.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    let s = Some(session.as_str());
    browser.call(s, "Page.enable", json!({}));
    browser.call(s, "Page.navigate", json!({ "url": format!("{origin}/") }));
    for _ in 0..100 {
        if browser.eval(&session, "document.readyState") == "complete"
            && browser.eval(&session, "location.origin") == origin
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(browser.eval(&session, "location.origin"), origin, "the page did not load");
    browser.call(s, "WebAuthn.enable", json!({ "enableUI": false }));
    browser.call(
        s,
        "WebAuthn.addVirtualAuthenticator",
        json!({ "options": {
            "protocol": "ctap2",
            "transport": "usb",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "automaticPresenceSimulation": true,
        }}),
    );

    let rp = RelyingParty::new(RpConfig {
        rp_id: "localhost".into(),
        rp_name: "hwa interop".into(),
        allowed_origins: vec![origin.clone()],
    })
    .unwrap();
    let user =
        WebauthnUser { handle: vec![5; 32], name: "alice".into(), display_name: "Alice".into() };
    let entropy = SeededEntropy::new(77);

    let (options, state) = rp.start_registration(&user, &[], &entropy, NOW).unwrap();
    let created = browser.eval(
        &session,
        &format!(
            "(async () => {{ const publicKey = \
             PublicKeyCredential.parseCreationOptionsFromJSON({options}); \
             const c = await navigator.credentials.create({{ publicKey }}); \
             return JSON.stringify(c.toJSON()); }})()"
        ),
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    let mut credential = rp.finish_registration(&state, &created, NOW).unwrap();
    let ours = software_client_answers(&rp, &origin);
    assert_same_fields(&created, &ours.0);

    let mut last_count = 0;
    for _ in 0..2 {
        let (options, state) =
            rp.start_assertion(&user, std::slice::from_ref(&credential), &entropy, NOW).unwrap();
        let asserted = browser.eval(
            &session,
            &format!(
                "(async () => {{ const publicKey = \
                 PublicKeyCredential.parseRequestOptionsFromJSON({options}); \
                 const c = await navigator.credentials.get({{ publicKey }}); \
                 return JSON.stringify(c.toJSON()); }})()"
            ),
        );
        let asserted: Value = serde_json::from_str(&asserted).unwrap();
        assert_same_fields(&asserted, &ours.1);
        let verified = rp
            .finish_assertion(&state, &asserted, &user, std::slice::from_ref(&credential), NOW)
            .unwrap();
        assert!(verified.user_verified);
        assert!(verified.sign_count > last_count, "Chromium's authenticator counts uses");
        last_count = verified.sign_count;
        credential = verified.updated;
    }
    drop(page);
}

/// What `hwa-virtual-authenticator` answers for a registration and an assertion.
fn software_client_answers(rp: &RelyingParty, origin: &str) -> (Value, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    runtime.block_on(async {
        let user =
            WebauthnUser { handle: vec![6; 32], name: "bob".into(), display_name: "Bob".into() };
        let entropy = SeededEntropy::new(78);
        let authenticator = SoftAuthenticator::in_memory(Arc::new(SeededEntropy::new(79)));
        let mut client = WebauthnClient::new(authenticator);
        let (options, state) = rp.start_registration(&user, &[], &entropy, NOW).unwrap();
        let created = client.register(&options, origin).await.unwrap();
        let credential = rp.finish_registration(&state, &created, NOW).unwrap();
        let (options, _) = rp.start_assertion(&user, &[credential], &entropy, NOW).unwrap();
        let asserted = client.authenticate(&options, origin).await.unwrap();
        (created, asserted)
    })
}

/// The software client answers with the fields Chromium's `toJSON()` gives, at both levels.
fn assert_same_fields(chromium: &Value, ours: &Value) {
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(chromium), keys(ours));
    let mut inner_chromium = keys(&chromium["response"]);
    let mut inner_ours = keys(&ours["response"]);
    // Only a discoverable credential returns its user handle; ours always are.
    inner_chromium.retain(|k| k != "userHandle");
    inner_ours.retain(|k| k != "userHandle");
    assert_eq!(inner_chromium, inner_ours);
}
