// The script of the headless-webauthn pages: login, signup from an invite, and approval of a
// headless request. It calls the JSON API of this origin and runs the WebAuthn ceremonies
// with the browser's JSON helpers (parseRequestOptionsFromJSON, parseCreationOptionsFromJSON,
// credential.toJSON()). No framework, no other origin; the server's Content-Security-Policy
// forbids both.
"use strict";

(function () {
  const CSRF_HEADER = "X-HWA-CSRF";
  const SESSION_MODE_HEADER = "X-HWA-Session-Mode";

  // What to tell a person for each error code, before the server's own message.
  const CODE_HINTS = {
    bad_request: "The server refused the request.",
    unauthenticated: "You are not logged in, or your login was refused.",
    forbidden: "You may not do this.",
    not_found: "Not found.",
    already_decided: "This request was already decided; a decision is final.",
    conflict: "This conflicts with the current state.",
    expired: "This has expired.",
    timeout: "The wait timed out.",
    denied: "The request was denied.",
    headless_disabled: "Headless login is disabled for this cluster.",
    locked: "Access is locked.",
    mfa_failed: "Your security key's answer was refused.",
    rate_limited: "Too many attempts from your address; wait a minute and try again.",
    too_many_pending: "Too many requests are waiting.",
    payload_too_large: "The request was too large.",
    internal: "The server had an internal error.",
  };

  class ApiError extends Error {
    constructor(code, message, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  const byId = (id) => document.getElementById(id);

  async function api(method, path, payload, extraHeaders) {
    const headers = { Accept: "application/json" };
    headers[CSRF_HEADER] = "1";
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    Object.assign(headers, extraHeaders || {});
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: payload === undefined ? undefined : JSON.stringify(payload),
      });
    } catch (_) {
      throw new ApiError("network", "the server could not be reached; check your connection", 0);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = data && data.error
        ? data.error
        : { code: "internal", message: "unexpected answer, HTTP " + response.status };
      throw new ApiError(error.code, error.message, response.status);
    }
    return data;
  }

  function sentence(text) {
    if (!text) return "";
    const first = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(first) ? first : first + ".";
  }

  function describe(error) {
    if (error instanceof ApiError) {
      const hint = CODE_HINTS[error.code];
      return (hint ? hint + " " : "") + sentence(error.message);
    }
    if (error && error.name === "NotAllowedError") {
      return "The security key prompt was cancelled or timed out. Try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This security key is already registered for your account.";
    }
    if (error && error.name === "SecurityError") {
      return "This page's address does not match the cluster's WebAuthn settings "
        + "(relying party ID or origin). Open the page at the address the administrator gave.";
    }
    return "Unexpected error: " + (error && error.message ? error.message : String(error));
  }

  function show(text, kind) {
    const status = byId("status");
    status.textContent = text;
    status.className = "notice " + kind;
    status.hidden = false;
  }

  function webauthnReady() {
    const ok = window.PublicKeyCredential
      && typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function"
      && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";
    if (!ok) {
      show("This browser cannot use security keys from web pages (it lacks the WebAuthn JSON "
        + "helpers). Use a current version of Firefox, Chrome, Edge or Safari.", "error");
    }
    return ok;
  }

  // The server sends the options themselves; accept the `{ publicKey: ... }` wrapping too.
  const unwrap = (json) => (json && json.publicKey ? json.publicKey : json);

  async function assertion(challengeJson) {
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(unwrap(challengeJson));
    const credential = await navigator.credentials.get({ publicKey });
    if (!credential) throw new Error("the browser returned no credential");
    return credential.toJSON();
  }

  async function registration(creationJson) {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(unwrap(creationJson));
    const credential = await navigator.credentials.create({ publicKey });
    if (!credential) throw new Error("the browser returned no credential");
    return credential.toJSON();
  }

  function setBusy(elements, busy) {
    for (const element of elements) element.disabled = busy;
  }

  // Only same-site page paths may follow a login, never another origin.
  function safeNext(raw) {
    if (raw && raw.startsWith("/web/") && !raw.includes("\\")) return raw;
    return null;
  }

  function initLogin() {
    const form = byId("login-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!webauthnReady()) return;
      const user = form.elements.user.value.trim();
      const password = form.elements.password.value;
      if (!user || !password) {
        show("Enter your user name and your password.", "error");
        return;
      }
      const controls = Array.from(form.elements);
      setBusy(controls, true);
      try {
        show("Checking your password…", "info");
        const begin = await api("POST", "/webapi/mfa/login/begin", { user, password });
        show("Touch your security key.", "info");
        const webauthnResponse = await assertion(begin.webauthn_challenge);
        const headers = {};
        headers[SESSION_MODE_HEADER] = "cookie";
        await api("POST", "/webapi/mfa/login/finish",
          { user, webauthn_response: webauthnResponse }, headers);
        const next = safeNext(new URLSearchParams(location.search).get("next"));
        if (next) {
          show("Logged in. Opening the request…", "ok");
          location.assign(next);
        } else {
          show("Logged in as " + user + ". Open the approval link your terminal printed.", "ok");
        }
      } catch (error) {
        show(describe(error), "error");
      } finally {
        setBusy(controls, false);
      }
    });
  }

  async function initInvite() {
    const path = "/webapi/invites/" + encodeURIComponent(document.body.dataset.inviteToken);
    const form = byId("invite-form");
    const intro = byId("invite-intro");
    let user;
    try {
      const view = await api("GET", path);
      user = view.user;
    } catch (error) {
      intro.hidden = true;
      show(describe(error), "error");
      return;
    }
    intro.hidden = true;
    byId("invite-user").textContent = user;
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!webauthnReady()) return;
      const password = form.elements.password.value;
      if (password !== form.elements.confirm.value) {
        show("The two passwords differ. Type the same password twice.", "error");
        return;
      }
      const controls = Array.from(form.elements);
      setBusy(controls, true);
      try {
        const begin = await api("POST", path + "/register/begin", { password });
        show("Touch your security key to register it.", "info");
        const webauthnResponse = await registration(begin.webauthn_creation);
        const headers = {};
        headers[SESSION_MODE_HEADER] = "cookie";
        await api("POST", path + "/register/finish", { webauthn_response: webauthnResponse },
          headers);
        form.hidden = true;
        show("You are signed up as " + user + " and logged in. You can now approve headless "
          + "requests from the links your terminal prints.", "ok");
      } catch (error) {
        show(describe(error), "error");
        setBusy(controls, false);
      }
    });
  }

  function formatLeft(seconds) {
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  async function initHeadless() {
    const id = document.body.dataset.requestId;
    const path = "/webapi/headless/" + id;
    const approve = byId("approve");
    const reject = byId("reject");
    let view;
    show("Loading the request… (it appears once the waiting command has reached the server)",
      "info");
    try {
      view = await api("GET", path);
    } catch (error) {
      if (error.code === "unauthenticated") {
        location.assign("/web/login?next=" + encodeURIComponent("/web/headless/" + id));
        return;
      }
      show(describe(error), "error");
      return;
    }
    byId("status").hidden = true;
    render(view);
    byId("request").hidden = false;

    let timer = null;
    const finish = (state) => {
      if (timer) clearInterval(timer);
      setBusy([approve, reject], true);
      byId("f-state").textContent = state;
    };
    if (view.state !== "pending") {
      finish(view.state);
      show("This request was already " + view.state + ". A decision is final.", "info");
      return;
    }
    const deadline = Date.now() + view.seconds_left * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      byId("f-time").textContent = formatLeft(left);
      if (left === 0) {
        finish("expired");
        show("This request expired. Start the command again on the remote machine.", "error");
      }
    };
    tick();
    timer = setInterval(tick, 1000);

    approve.addEventListener("click", async () => {
      if (!webauthnReady()) return;
      setBusy([approve, reject], true);
      try {
        show("Touch your security key to approve.", "info");
        const challenge = await api("POST", "/webapi/mfa/authenticatechallenge",
          { scope: "headless", headless_id: id });
        const webauthnResponse = await assertion(challenge.webauthn_challenge);
        const decided = await api("PUT", path,
          { action: "accept", mfa_response: { webauthn_response: webauthnResponse } });
        finish(decided.state);
        show("Approved. The command on the remote machine continues now.", "ok");
      } catch (error) {
        show(describe(error), "error");
        if (!["already_decided", "expired", "forbidden"].includes(error.code)) {
          setBusy([approve, reject], false);
        }
      }
    });

    reject.addEventListener("click", async () => {
      setBusy([approve, reject], true);
      try {
        const decided = await api("PUT", path, { action: "denied" });
        finish(decided.state);
        show("Rejected. The command on the remote machine stops with an error.", "ok");
      } catch (error) {
        show(describe(error), "error");
        if (!["already_decided", "expired", "forbidden"].includes(error.code)) {
          setBusy([approve, reject], false);
        }
      }
    });
  }

  function render(view) {
    const text = (id, value) => { byId(id).textContent = value; };
    const scope = view.scope || {};
    text("f-id", view.id);
    text("f-user", view.user);
    text("f-addr", view.client_addr);
    text("f-fingerprint", view.key_fingerprint);
    text("f-command", scope.command || "(not given)");
    text("f-logins", scope.logins && scope.logins.length
      ? scope.logins.join(", ") : "any login your roles allow");
    text("f-nodes", scope.nodes && scope.nodes.length
      ? scope.nodes.join(", ") : "any node your roles allow");
    text("f-code", view.match_code);
    text("f-state", view.state);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.body.dataset.page;
    if (page === "login") initLogin();
    else if (page === "invite") initInvite();
    else if (page === "headless") initHeadless();
  });
})();
