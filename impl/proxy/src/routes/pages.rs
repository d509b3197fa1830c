//! The browser pages: login, signup from an invite, and headless approval (SPEC HL-15,
//! HL-16), plus the one script and one stylesheet they load.
//!
//! Pages are server-rendered HTML skeletons with every label, the approval warning and a
//! `<noscript>` explanation; `assets/app.js` fills in the data from the JSON API and runs the
//! WebAuthn ceremonies (`navigator.credentials`), because a security key can only be used from
//! script. Nothing is loaded from another origin, and the Content-Security-Policy (set for every
//! answer by the router) allows scripts, styles and fetches from this origin only, no inline
//! code at all. Values reach the script through HTML-escaped `data-` attributes.
//!
//! What this file leaves to others: what a request shows and who may see it (the auth
//! service, through the JSON API the script calls).

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hwa_core::id::RequestId;

use crate::extract::NamePath;
use crate::state::AppState;

const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// Longest invite token a page accepts in its path; tokens are 64 hex characters today.
const INVITE_TOKEN_MAX_CHARS: usize = 256;

/// The `/web` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/web/login", get(login))
        .route("/web/invite/{token}", get(invite))
        .route("/web/headless/{id}", get(headless))
        .route("/web/assets/app.js", get(script))
        .route("/web/assets/app.css", get(stylesheet))
}

async fn login() -> Html<String> {
    Html(layout(
        "Log in",
        "login",
        "",
        r#"<h1>Log in</h1>
<p>Log in with your password and your security key.</p>
<form id="login-form" novalidate>
  <label for="user">User name</label>
  <input id="user" name="user" autocomplete="username webauthn" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Log in</button>
</form>"#,
    ))
}

async fn invite(NamePath(token): NamePath) -> Response {
    if !is_plausible_token(&token) {
        return not_found_page(
            "This invite link is not valid. Ask an administrator for a new one.",
        );
    }
    let data = format!(r#" data-invite-token="{}""#, escape(&token));
    Html(layout(
        "Sign up",
        "invite",
        &data,
        r#"<h1>Sign up</h1>
<p id="invite-intro">Checking your invite…</p>
<form id="invite-form" hidden novalidate>
  <p>You are signing up as <strong id="invite-user"></strong>. Choose a password, then register
  your security key.</p>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required>
  <label for="confirm">Password again</label>
  <input id="confirm" name="confirm" type="password" autocomplete="new-password" required>
  <button type="submit">Sign up and register my security key</button>
</form>"#,
    ))
    .into_response()
}

async fn headless(NamePath(raw): NamePath) -> Response {
    let Ok(id) = raw.parse::<RequestId>() else {
        return not_found_page(
            "This is not a headless request link. Copy the whole URL the command printed.",
        );
    };
    let data = format!(r#" data-request-id="{}""#, escape(&id.to_string()));
    Html(layout("Approve a headless request", "headless", &data, HEADLESS_MAIN)).into_response()
}

const HEADLESS_MAIN: &str = r#"<h1>Headless login request</h1>
<p class="warning" role="note"><strong>Never approve a request you did not start yourself.</strong>
Approving lets whoever holds this request run the command below as you.</p>
<section id="request" hidden aria-labelledby="details-heading">
  <h2 id="details-heading">What is asking</h2>
  <dl>
    <dt>Request ID</dt><dd id="f-id" class="mono"></dd>
    <dt>User</dt><dd id="f-user"></dd>
    <dt>Requested from address</dt><dd id="f-addr" class="mono"></dd>
    <dt>Key fingerprint</dt><dd id="f-fingerprint" class="mono"></dd>
    <dt>Command</dt><dd id="f-command" class="mono"></dd>
    <dt>Logins</dt><dd id="f-logins"></dd>
    <dt>Nodes</dt><dd id="f-nodes"></dd>
    <dt>Match code</dt><dd><span id="f-code" class="code"></span>
      <span class="hint">must equal the code your terminal printed</span></dd>
    <dt>Time left</dt><dd id="f-time" aria-live="off"></dd>
    <dt>State</dt><dd id="f-state"></dd>
  </dl>
  <div class="actions">
    <button id="approve" type="button">Approve with my security key</button>
    <button id="reject" type="button" class="secondary">Reject</button>
  </div>
</section>"#;

async fn script() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

async fn stylesheet() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Whether `token` could be an invite token: URL-safe characters only, bounded length. The
/// auth service decides whether it is one.
fn is_plausible_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= INVITE_TOKEN_MAX_CHARS
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn not_found_page(message: &str) -> Response {
    let main = format!("<h1>Not found</h1>\n<p>{}</p>", escape(message));
    (StatusCode::NOT_FOUND, Html(layout("Not found", "none", "", &main))).into_response()
}

/// The page frame: one stylesheet, one deferred script, a live status region the script
/// writes every message into, and a `<noscript>` note.
fn layout(title: &str, page: &str, data: &str, main: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · headless-webauthn</title>
<link rel="stylesheet" href="/web/assets/app.css">
<script src="/web/assets/app.js" defer></script>
</head>
<body data-page="{page}"{data}>
<main>
{main}
<div id="status" class="notice" role="status" aria-live="polite" hidden></div>
<noscript><p class="notice error">This page needs JavaScript: security keys can only be used
from a script. Enable JavaScript for this site, or approve from a terminal with
<code>hwa headless approve</code>.</p></noscript>
</main>
</body>
</html>
"#,
        title = escape(title),
        page = escape(page),
    )
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_and_attribute_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_url_safe_bounded_tokens_are_plausible() {
        assert!(is_plausible_token("0123abcdef"));
        assert!(!is_plausible_token(""));
        assert!(!is_plausible_token("abc\"><script>"));
        assert!(!is_plausible_token(&"a".repeat(INVITE_TOKEN_MAX_CHARS + 1)));
    }

    #[test]
    fn the_script_and_styles_load_from_this_origin_only() {
        let page = layout("t", "login", "", "");
        assert!(page.contains(r#"src="/web/assets/app.js""#));
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains("<script>"), "no inline script");
    }
}
