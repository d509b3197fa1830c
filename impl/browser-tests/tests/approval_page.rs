//! The approval page `/web/headless/<id>` in a real browser against real processes (SPEC HL-12,
//! HL-15, HL-16): `hwad start --dev`, `hwactl users add`, the `hwa ls --headless` client
//! waiting for its decision, and Debian's Chromium with a virtual CTAP2 authenticator.
//!
//! One scenario, in order: alice signs up from her invite; her first request makes the page ask
//! her to log in (password and security key), shows every detail HL-15 lists, and is approved,
//! so `hwa ls` prints the node table; her second request is rejected, so `hwa` fails with the
//! denial; bob, logged in, opening her third request is told it is not his, and sees no details
//! and no buttons. Screenshots of the approval page and of bob's message go to
//! `reports/screenshots/`.
//!
//! What this file leaves to the fixture (`fixture/mod.rs`): starting and stopping the processes
//! and the browser, and the bounded waits.

mod fixture;

use fixture::{Chromium, Cluster, HeadlessCommand, log_in, screenshot_dir, sign_up};

/// The warning HL-15 asks the page to show with every request.
const WARNING: &str = "Never approve a request you did not start";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_approved_and_rejected_on_the_page_and_another_user_is_told_it_is_not_theirs()
{
    let Some(browser) = Chromium::launch().await else { return };
    let cluster = Cluster::start().await;

    let invite = cluster.add_user("alice").await;
    assert!(invite.starts_with(&cluster.origin()), "invite under the RP's origin: {invite}");
    sign_up(&browser, &invite, "alice").await;
    // Without a session the approval page must ask to log in first (HL-16).
    browser.log_out().await;

    approve_after_logging_in(&browser, &cluster).await;
    reject(&browser, &cluster).await;
    another_user_sees_no_details(&browser, &cluster).await;

    browser.close().await;
}

/// Alice opens the printed URL, logs in, checks the details and approves with her key.
async fn approve_after_logging_in(browser: &Chromium, cluster: &Cluster) {
    let command = HeadlessCommand::ls(cluster, "alice").await;
    let page = format!("{}/web/headless/{}", cluster.origin(), command.request_id());
    assert_eq!(command.url, page, "hwa printed the approval URL; it printed:\n{}", command.printed);

    browser.open(&command.url).await;
    browser.wait_for_address(&format!("{}/web/login?next=", cluster.origin())).await;
    log_in(browser, "alice").await;
    browser.wait_for_address(&command.url).await;
    wait_for_details(browser).await;
    check_details(browser, &command).await;
    browser.screenshot(&screenshot_dir().join("approval-page.png")).await;

    browser.click("#approve").await;
    browser.wait_for_status("Approved").await;
    assert_eq!(browser.text("f-state").await, "approved");

    let finished = command.finish().await;
    assert!(finished.status.success(), "hwa ls failed after approval:\n{}", finished.stderr);
    let header = finished.stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("Node") && header.contains("Address"),
        "hwa ls printed no node table: {:?}",
        finished.stdout
    );
    assert!(finished.home_files.is_empty(), "hwa wrote into its home: {:?}", finished.home_files);
}

/// Alice opens her second request (still logged in) and rejects it.
async fn reject(browser: &Chromium, cluster: &Cluster) {
    let command = HeadlessCommand::ls(cluster, "alice").await;
    browser.open(&command.url).await;
    wait_for_details(browser).await;
    assert_eq!(browser.text("f-code").await, command.match_code);

    browser.click("#reject").await;
    browser.wait_for_status("Rejected").await;
    assert_eq!(browser.text("f-state").await, "denied");

    let finished = command.finish().await;
    assert!(!finished.status.success(), "hwa succeeded although rejected: {}", finished.stdout);
    assert!(
        finished.stderr.contains("denied by the approver"),
        "hwa did not say it was denied:\n{}",
        finished.stderr
    );
    assert!(finished.stdout.is_empty(), "hwa printed after a denial: {}", finished.stdout);
    assert!(finished.home_files.is_empty(), "hwa wrote into its home: {:?}", finished.home_files);
}

/// Bob signs up, logs in from the page alice's request sends him to, and is told the request
/// is another user's: no details, no buttons (HL-12).
async fn another_user_sees_no_details(browser: &Chromium, cluster: &Cluster) {
    let invite = cluster.add_user("bob").await;
    sign_up(browser, &invite, "bob").await;
    browser.log_out().await;

    let mut command = HeadlessCommand::ls(cluster, "alice").await;
    browser.open(&command.url).await;
    browser.wait_for_address(&format!("{}/web/login?next=", cluster.origin())).await;
    log_in(browser, "bob").await;
    browser.wait_for_address(&command.url).await;
    browser.wait_for_status("is not a request of user bob").await;
    let status = browser.text("status").await;
    assert!(status.contains("log in as that user"), "the message says what to do: {status}");

    assert!(!browser.is_shown("request").await, "bob must not see the details");
    assert!(!browser.is_shown("approve").await, "bob must not see an approve button");
    assert_eq!(browser.text("f-user").await, "", "no detail reached the page");
    assert_eq!(browser.text("f-code").await, "", "no detail reached the page");
    browser.screenshot(&screenshot_dir().join("approval-page-other-user.png")).await;

    assert!(command.is_waiting(), "alice's command still waits for her own decision");
}

/// Waits until the page shows the request with its time left counting.
async fn wait_for_details(browser: &Chromium) {
    browser
        .wait_for(
            "!document.getElementById('request').hidden \
             && document.getElementById('f-time').textContent.includes(':')",
            "the request details",
        )
        .await;
}

/// Every detail HL-15 lists, as the page shows it.
async fn check_details(browser: &Chromium, command: &HeadlessCommand) {
    assert_eq!(browser.text("f-id").await, command.request_id());
    assert_eq!(browser.text("f-user").await, "alice");
    let address = browser.text("f-addr").await;
    assert!(address.contains("127.0.0.1"), "requester address: {address:?}");
    let fingerprint = browser.text("f-fingerprint").await;
    assert!(fingerprint.starts_with("SHA256:"), "key fingerprint: {fingerprint:?}");
    let shown_command = browser.text("f-command").await;
    assert!(shown_command.contains("ls"), "command: {shown_command:?}");
    let left = browser.text("f-time").await;
    let seconds = left
        .split_once(':')
        .and_then(|(m, s)| Some(m.parse::<u64>().ok()? * 60 + s.parse::<u64>().ok()?))
        .unwrap_or_else(|| panic!("time left is not m:ss: {left:?}"));
    assert!((1..=180).contains(&seconds), "time left within the 3-minute expiry: {left}");
    assert_eq!(browser.text("f-code").await, command.match_code, "the page's match code");
    assert!(browser.is_shown("f-code").await, "the match code is visible");
    assert_eq!(browser.text("f-state").await, "pending");
    let warning = browser.eval("document.querySelector('.warning')?.innerText || ''").await;
    assert!(
        warning.as_str().is_some_and(|w| w.contains(WARNING)),
        "the page warns never to approve another's request: {warning}"
    );
    assert!(browser.is_shown("approve").await && browser.is_shown("reject").await);
}
