//! End-to-end browser tests of headless-webauthn's web pages. The crate has no library code:
//! its tests (`tests/approval_page.rs`, with the shared fixture in `tests/fixture/`) run the
//! real `hwad`, `hwactl` and `hwa` binaries and drive Debian's Chromium over the DevTools
//! protocol with a virtual WebAuthn authenticator.
//!
//! It is a workspace member of its own because chromiumoxide and its generated protocol types
//! take long to compile; `cargo test -p hwa-browser-tests` builds and runs it on its own.
//! Chromium is `$HWA_CHROMIUM` when set, else `/usr/bin/chromium`, else `chromium` on the
//! PATH. Without it the tests say they skipped, unless the environment variable `CI` is set, in
//! which case they fail (`ci/install-deps.sh` installs Chromium).
//!
//! ```text
//! cargo test -p hwa-browser-tests            # screenshots land in reports/screenshots/
//! ```
