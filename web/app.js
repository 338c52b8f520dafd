// Teamroom: the demo page. Plain DOM code over the session client the auth service serves.
const config = await (await fetch("/config.json")).json();
const { createSessionClient, REASONS, SessionEndedError } = await import(`${config.auth_url}/js/session-client.js`);

const auth = createSessionClient({ authUrl: config.auth_url });
const PAGE_SIZE = 8;
const $ = (id) => document.getElementById(id);

let pages = [null]; // the cursor of each directory page seen so far; pages[0] is the first page
let pageIndex = 0;
let signedIn = false;
let panel = "login"; // the card shown while signed out: login, forgot, reset or verify
const PANELS = ["login", "forgot", "reset", "verify"];

// ---- what the user sees --------------------------------------------------------------------

function notice(text, kind = "info") {
  const box = $("notice");
  box.textContent = text;
  box.classList.toggle("ok", kind === "ok");
  box.hidden = !text;
}

function showError(id, text) {
  $(id).textContent = text;
  $(id).hidden = !text;
}

function endedMessage(reason) {
  if (reason === "logged_out") return "You logged out.";
  if (reason === "logged_out_everywhere") return "You logged out on every device.";
  if (reason === "no_session") return "";
  return `Your session ended: ${REASONS[reason] ?? "the server refused it"}. Please log in again.`;
}

/** The text of a refusal for a person: the service's description as a sentence. */
function sentence(text) {
  const plain = String(text ?? "").trim();
  if (!plain) return "Something went wrong. Please try again.";
  return plain[0].toUpperCase() + plain.slice(1) + (/[.!?]$/.test(plain) ? "" : ".");
}

/** What to say when an email-flow call failed, for the form's error line. */
function emailFlowError(error) {
  if (error.error === "rate_limited") {
    const wait = error.retryAfter ? ` Try again in ${waitText(error.retryAfter)}.` : " Try again later.";
    return `Too many requests for now.${wait}`;
  }
  if (error.status === 404) return "Email is not set up on this server: ask its operator to reset your password.";
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection and try again.";
  return sentence(error.description);
}

function waitText(seconds) {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/** Turn a form's button back on: at once, or once a 429's Retry-After has passed. */
function enableAfter(button, error) {
  const wait = error?.error === "rate_limited" ? (error.retryAfter ?? 0) : 0;
  if (wait > 0) setTimeout(() => { button.disabled = false; }, wait * 1000);
  else button.disabled = false;
}

/** Show one of the signed-out cards; the login and forgot cards live at /, the others at their link's path. */
function showPanel(name, focus = true) {
  panel = name;
  for (const other of PANELS) $(`${other}-panel`).hidden = other !== name;
  if ((name === "login" || name === "forgot") && location.pathname !== "/") history.replaceState(null, "", "/");
  if (!focus) return;
  const first = { login: "login-email", forgot: "forgot-email", reset: "reset-password" }[name];
  $(first ?? `${name}-title`).focus();
}

function showSignedOut(reason, card = "login") {
  signedIn = false;
  $("signed-in").hidden = true;
  $("account").hidden = true;
  $("signed-out").hidden = false;
  notice(endedMessage(reason), reason.startsWith("logged_out") ? "ok" : "info");
  $("login-password").value = "";
  showPanel(card);
}

async function showSignedIn(session) {
  const first = !signedIn;
  signedIn = true;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  $("account").hidden = false;
  $("who").textContent = session.email;
  if (first) {
    pages = [null];
    pageIndex = 0;
    await Promise.all([loadMe(), loadSessions(), loadDirectory()]);
  }
}

/** Run an action; a session that ended on the way is shown by the onChange listener. */
async function guarded(action) {
  try {
    await action();
  } catch (error) {
    if (error instanceof SessionEndedError) return;
    notice(error.description ?? `Something went wrong: ${error.message}`);
  }
}

async function api(url, init) {
  const response = await auth.fetch(url, init);
  if (!response.ok && response.status !== 204) {
    const body = await response.json().catch(() => ({}));
    throw Object.assign(new Error(body.error ?? response.statusText), {
      description: body.error_description ?? `The server answered ${response.status}.`,
    });
  }
  return response.status === 204 ? null : response.json();
}

// ---- profile, sessions, directory ------------------------------------------------------------

async function loadMe() {
  const me = await api(`${config.resource_url}/me`);
  $("me-email").textContent = me.email;
  $("me-id").textContent = me.id;
  $("me-scope").textContent = me.scope.includes("users:write") ? "Administrator" : "Member (can read the directory)";
}

function deviceName(userAgent) {
  if (!userAgent) return "Unknown device";
  if (/python-requests/i.test(userAgent)) return "Python script";
  if (/^curl\//.test(userAgent)) return "curl";
  const browser = /Edg\//.test(userAgent) ? "Edge"
    : /HeadlessChrome/.test(userAgent) ? "Chrome (headless)"
    : /Chrome\//.test(userAgent) ? "Chrome"
    : /Firefox\//.test(userAgent) ? "Firefox"
    : /Safari\//.test(userAgent) ? "Safari" : "A browser";
  const system = /Android/.test(userAgent) ? "Android" : /iPhone|iPad/.test(userAgent) ? "iOS"
    : /Windows/.test(userAgent) ? "Windows" : /Mac OS/.test(userAgent) ? "macOS"
    : /Linux/.test(userAgent) ? "Linux" : "";
  return system ? `${browser} on ${system}` : browser;
}

function ago(iso) {
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(iso).toLocaleDateString();
}

async function loadSessions() {
  const { sessions } = await api(`${config.auth_url}/sessions`);
  const list = $("session-list");
  list.replaceChildren(...sessions.map((session) => {
    const item = document.createElement("li");
    const name = deviceName(session.user_agent);
    item.setAttribute("aria-label", `${name}${session.current ? ", this device" : ""}`);
    const text = document.createElement("div");
    const device = document.createElement("div");
    device.className = "device";
    device.textContent = name;
    if (session.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "This device";
      device.append(badge);
    }
    const when = document.createElement("div");
    when.className = "when";
    when.textContent = `Signed in ${ago(session.created_at)} · last active ${ago(session.last_used_at)}`;
    text.append(device, when);
    item.append(text);
    if (!session.current) {
      const end = document.createElement("button");
      end.type = "button";
      end.className = "button ghost small danger";
      end.textContent = "End session";
      end.addEventListener("click", () => guarded(async () => {
        end.disabled = true;
        await api(`${config.auth_url}/sessions/${session.id}`, { method: "DELETE" });
        notice(`Ended the session on ${name}.`, "ok");
        await loadSessions();
      }));
      item.append(end);
    }
    return item;
  }));
}

function initials(user) {
  const source = (user.name || user.email).trim();
  const words = source.split(/[\s@.]+/).filter(Boolean);
  return ((words[0]?.[0] ?? "?") + (words[1]?.[0] ?? "")).toUpperCase();
}

async function loadDirectory() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (pages[pageIndex]) params.set("cursor", pages[pageIndex]);
  const { users, next_cursor: next } = await api(`${config.resource_url}/users?${params}`);
  $("people").replaceChildren(...users.map((user) => {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    const person = document.createElement("span");
    person.className = "person";
    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = initials(user);
    person.append(avatar, user.name || "—");
    name.append(person);
    const email = document.createElement("td");
    email.textContent = user.email;
    const joined = document.createElement("td");
    joined.textContent = new Date(user.created_at).toLocaleDateString();
    row.append(name, email, joined);
    return row;
  }));
  if (next && pages.length === pageIndex + 1) pages.push(next);
  $("page-label").textContent = `Page ${pageIndex + 1}`;
  $("page-prev").disabled = pageIndex === 0;
  $("page-next").disabled = !(next && pages[pageIndex + 1]);
}

// ---- wiring ---------------------------------------------------------------------------------

auth.onChange((session, reason) => {
  // A reset or verify link being followed here is not interrupted by what other tabs do.
  if (!signedIn && (panel === "reset" || panel === "verify")) return;
  if (session === null) showSignedOut(reason);
  else if (!signedIn) guarded(() => showSignedIn(session));
});

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showError("login-error", "");
  $("login-resend").hidden = true;
  const button = event.submitter;
  button.disabled = true;
  auth.login($("login-email").value.trim(), $("login-password").value)
    .then((session) => {
      notice("");
      return showSignedIn(session);
    })
    .catch((error) => {
      const messages = {
        invalid_credentials: "Wrong email or password.",
        rate_limited: "Too many attempts. Wait a moment and try again.",
        email_not_verified: "Confirm your email address first: open the link in the mail we sent you.",
      };
      showError("login-error", messages[error.error] ?? error.description ?? String(error));
      $("login-resend").hidden = error.error !== "email_not_verified";
    })
    .finally(() => { button.disabled = false; });
});

$("login-resend").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const email = $("login-email").value.trim();
  let failure = null;
  button.disabled = true;
  try {
    await auth.resendVerification(email);
    showError("login-error", "");
    button.hidden = true;
    notice(`A new link is on its way to ${email}. Open it, then log in.`, "ok");
  } catch (error) {
    failure = error;
    showError("login-error", emailFlowError(error));
  } finally {
    enableAfter(button, failure);
  }
});

// ---- forgotten password, reset link, verify link ----------------------------------------------

/** Offer "Forgot password?" only where the auth service has the email endpoints (EMAIL=on): its
 * OpenAPI document lists /password/forgot then. Unreachable (5 s) or without them: the button stays hidden. */
async function offerPasswordReset() {
  try {
    const response = await fetch(`${config.auth_url}/openapi.json`, { signal: AbortSignal.timeout(5000) });
    const description = await response.json();
    $("forgot-open").hidden = !description?.paths?.["/password/forgot"];
  } catch {
    $("forgot-open").hidden = true;
  }
}

$("forgot-open").addEventListener("click", () => {
  $("forgot-email").value = $("login-email").value.trim();
  showError("forgot-error", "");
  notice("");
  showPanel("forgot");
});
$("forgot-back").addEventListener("click", () => {
  notice("");
  showPanel("login");
});

$("forgot-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("forgot-error", "");
  const button = event.submitter;
  const email = $("forgot-email").value.trim();
  let failure = null;
  button.disabled = true;
  try {
    await auth.forgotPassword(email);
    notice(`If an account has the address ${email}, a mail is on its way with a link to choose a new password.`, "ok");
  } catch (error) {
    failure = error;
    showError("forgot-error", emailFlowError(error));
  } finally {
    enableAfter(button, failure);
  }
});

const linkToken = new URLSearchParams(location.search).get("token");

function showResetLinkDead() {
  $("reset-form").hidden = true;
  $("reset-dead").hidden = false;
  $("reset-title").textContent = "This link no longer works";
  $("reset-title").focus();
}

$("reset-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("reset-error", "");
  const button = event.submitter;
  button.disabled = true;
  try {
    await auth.resetPassword(linkToken, $("reset-password").value);
  } catch (error) {
    if (error.error === "invalid_token") showResetLinkDead();
    else showError("reset-error", emailFlowError(error));  // the link still works: try another password
    enableAfter(button, error);
    return;
  }
  button.disabled = false;
  $("reset-form").reset();
  showSignedOut("no_session");
  notice("Your password was changed, and every device signed in to your account was signed out. "
    + "Log in with your new password.", "ok");
});

$("reset-again").addEventListener("click", () => {
  $("forgot-email").value = "";
  showPanel("forgot");
});

$("resend-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("resend-error", "");
  const button = event.submitter;
  const email = $("resend-email").value.trim();
  let failure = null;
  button.disabled = true;
  try {
    await auth.resendVerification(email);
    notice(`If ${email} has an account waiting to be confirmed, a new link is on its way.`, "ok");
  } catch (error) {
    failure = error;
    showError("resend-error", emailFlowError(error));
  } finally {
    enableAfter(button, failure);
  }
});

/** The verify link's landing: spend the token at once; true when the address is confirmed. */
async function verifyFromLink() {
  showSignedOut("no_session", "verify");
  try {
    if (!linkToken) throw Object.assign(new Error("no token in the link"), { error: "invalid_token" });
    await auth.verifyEmail(linkToken);
  } catch (error) {
    if (error.error === "invalid_token") {
      $("verify-progress").hidden = true;
      $("verify-dead").hidden = false;
      $("verify-title").textContent = "This link no longer works";
    } else {
      $("verify-progress").textContent = `${emailFlowError(error)} Reload this page to try the link again.`;
    }
    return false;
  }
  history.replaceState(null, "", "/");
  return true;
}

$("register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("register-error", "");
  const email = $("register-email").value.trim();
  const password = $("register-password").value;
  const response = await fetch(`${config.auth_url}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, name: $("register-name").value.trim() || undefined }),
  }).catch(() => null);
  if (!response || response.status !== 201) {
    const body = response ? await response.json().catch(() => ({})) : {};
    const messages = { email_taken: "This email already has an account: log in instead." };
    showError("register-error", messages[body.error] ?? body.error_description ?? "Cannot reach the server.");
    return;
  }
  $("register-form").reset();
  $("register-box").open = false;
  try {
    await showSignedIn(await auth.login(email, password));
    notice("Welcome to Teamroom! Your account is ready.", "ok");
  } catch (error) {
    if (error.error === "email_not_verified") {  // REQUIRE_VERIFIED_EMAIL=on: the mail's link comes first
      $("login-email").value = email;
      notice(`Your account is ready. We sent a link to ${email}: open it to confirm your address, then log in.`, "ok");
    } else if (!(error instanceof SessionEndedError)) {
      notice(error.description ?? `Something went wrong: ${error.message}`);
    }
  }
});

$("logout").addEventListener("click", () => guarded(() => auth.logout()));
$("logout-all").addEventListener("click", () => guarded(() => auth.logoutAll()));
$("sessions-reload").addEventListener("click", () => guarded(loadSessions));
$("directory-reload").addEventListener("click", () => guarded(loadDirectory));
$("page-next").addEventListener("click", () => guarded(() => { pageIndex += 1; return loadDirectory(); }));
$("page-prev").addEventListener("click", () => guarded(() => { pageIndex -= 1; return loadDirectory(); }));

// After a reload the access token is gone: the session comes back through a cookie-mode refresh.
async function restoreSession() {
  try {
    const session = await auth.session();
    if (session) await showSignedIn(session);
    else showSignedOut("no_session");
  } catch (error) {
    if (error instanceof SessionEndedError) showSignedOut(error.reason);
    else {
      showSignedOut("no_session");
      notice(`Cannot reach the sign-in service (${error.message}).`);
    }
  }
}

const resetOffered = offerPasswordReset();
// The mails link to PUBLIC_URL/reset-password?token=... and PUBLIC_URL/verify-email?token=...
if (location.pathname === "/reset-password") {
  showSignedOut("no_session", "reset");
  if (!linkToken) showResetLinkDead();
} else if (location.pathname === "/verify-email") {
  if (await verifyFromLink()) {
    await restoreSession();
    notice(signedIn ? "Your email address is confirmed." : "Your email address is confirmed. You can log in now.", "ok");
  }
} else {
  await restoreSession();
}
await resetOffered;
document.body.dataset.ready = "true";
