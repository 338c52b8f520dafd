// Teamroom: the demo page. Plain DOM code over the session client the auth service serves.
const config = await (await fetch("/config.json")).json();
const { createSessionClient, REASONS, SessionEndedError } = await import(`${config.auth_url}/js/session-client.js`);

const auth = createSessionClient({ authUrl: config.auth_url });
const PAGE_SIZE = 8;
const $ = (id) => document.getElementById(id);

let pages = [null]; // the cursor of each directory page seen so far; pages[0] is the first page
let pageIndex = 0;
let signedIn = false;

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

function showSignedOut(reason) {
  signedIn = false;
  $("signed-in").hidden = true;
  $("account").hidden = true;
  $("signed-out").hidden = false;
  notice(endedMessage(reason), reason.startsWith("logged_out") ? "ok" : "info");
  $("login-password").value = "";
  $("login-email").focus();
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
  if (session === null) showSignedOut(reason);
  else if (!signedIn) guarded(() => showSignedIn(session));
});

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showError("login-error", "");
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
      };
      showError("login-error", messages[error.error] ?? error.description ?? String(error));
    })
    .finally(() => { button.disabled = false; });
});

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
  await guarded(async () => showSignedIn(await auth.login(email, password)));
  notice("Welcome to Teamroom! Your account is ready.", "ok");
});

$("logout").addEventListener("click", () => guarded(() => auth.logout()));
$("logout-all").addEventListener("click", () => guarded(() => auth.logoutAll()));
$("sessions-reload").addEventListener("click", () => guarded(loadSessions));
$("directory-reload").addEventListener("click", () => guarded(loadDirectory));
$("page-next").addEventListener("click", () => guarded(() => { pageIndex += 1; return loadDirectory(); }));
$("page-prev").addEventListener("click", () => guarded(() => { pageIndex -= 1; return loadDirectory(); }));

// After a reload the access token is gone: the session comes back through a cookie-mode refresh.
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
document.body.dataset.ready = "true";
