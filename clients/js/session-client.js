/**
 * The browser client of the auth service's cookie mode: one ES module, no build step, no dependency.
 *
 * The refresh token lives in the auth service's HttpOnly cookie, out of reach of page scripts;
 * the access token lives in this module's closure, never in storage. After a reload the client
 * gets a new access token with a cookie-mode refresh.
 *
 * Several tabs share one session: refreshes are single-flight across them (Web Locks), and one
 * BroadcastChannel carries each new access token to the other tabs and each logout to all of them.
 *
 *     import { createSessionClient } from "http://localhost:8001/js/session-client.js";
 *     const auth = createSessionClient({ authUrl: "http://localhost:8001" });
 *     await auth.login("ada@example.com", "correct horse battery");
 *     const me = await (await auth.fetch("http://localhost:8002/me")).json();
 *
 * @module session-client
 */

/** A refusal by the auth service: `error` is the contract's code, `status` the HTTP status. */
export class AuthError extends Error {
  /**
   * @param {number} status
   * @param {string} error
   * @param {string} description
   * @param {string} [reason]
   * @param {number} [retryAfter]
   */
  constructor(status, error, description, reason, retryAfter) {
    super(`${error}${reason ? ` (${reason})` : ""}: ${description}`);
    this.name = "AuthError";
    this.status = status;
    this.error = error;
    this.description = description;
    /** Why a session ended (`reused`, `expired_idle`, `revoked`, ...), when the answer says. */
    this.reason = reason;
    /** Seconds to wait before asking again, from a 429's `Retry-After`. */
    this.retryAfter = retryAfter;
  }
}

/**
 * The session is over: log in again. `reason` says why: one of the auth service's refusal
 * reasons (`reused`, `expired_idle`, `expired_absolute`, `revoked`, `password_changed`,
 * `evicted`, `upgraded`, `unknown`), or `no_session` (never logged in, or the cookie is gone), `logged_out`
 * (this or another tab logged out), `logged_out_everywhere`.
 */
export class SessionEndedError extends AuthError {
  constructor(status, error, description, reason) {
    super(status, error, description, reason);
    this.name = "SessionEndedError";
  }
}

/** What each reason of a session's end means to a person, for a page to show. */
export const REASONS = Object.freeze({
  reused: "a copy of your session was used elsewhere, so it was ended to protect you",
  expired_idle: "it went unused for too long",
  expired_absolute: "it reached its maximum age",
  revoked: "it was ended from this or another device",
  password_changed: "the password was changed",
  evicted: "you signed in on too many devices, and this was the oldest",
  upgraded: "the service changed how it keeps sessions",
  unknown: "the server does not know it",
  no_session: "you are not logged in",
  logged_out: "you logged out",
  logged_out_everywhere: "you logged out everywhere",
});

const COOKIE_MODE = { "Session-Mode": "cookie" };

/** The claims of a JWT, read without verifying it (the services verify; the page only displays). */
function claimsOf(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
  return JSON.parse(json);
}

/** The contract's JSON error of a response, as an AuthError (SessionEndedError when the session is over). */
async function refusal(response, endsSession = false) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status alone
  }
  const error = typeof body.error === "string" ? body.error : "http_error";
  const description = typeof body.error_description === "string" ? body.error_description : response.statusText;
  if (endsSession && response.status === 400 && error === "invalid_grant") {
    return new SessionEndedError(400, error, description, body.reason || "unknown");
  }
  if (endsSession && response.status === 400 && error === "invalid_request") {
    return new SessionEndedError(400, error, description, "no_session");
  }
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return new AuthError(response.status, error, description, body.reason,
    Number.isNaN(retryAfter) ? undefined : retryAfter);
}

/** Whether a 401 says the access token expired (RFC 6750 challenge, or the JSON description). */
async function saysExpired(response) {
  const challenge = response.headers.get("WWW-Authenticate");
  if (challenge) {
    return /error="invalid_token"/.test(challenge) && /error_description="[^"]*expired/.test(challenge);
  }
  try {
    const body = await response.clone().json();
    return body.error === "invalid_token" && String(body.error_description).includes("expired");
  } catch {
    return false;
  }
}

/**
 * A client of one auth service.
 *
 * @param {object} options
 * @param {string} options.authUrl the auth service's URL, e.g. `https://auth.example.com`
 * @param {string} [options.channel] the name of the lock and channel the tabs share
 * @returns {SessionClient}
 */
export function createSessionClient({ authUrl, channel = "session-client" }) {
  const base = authUrl.replace(/\/+$/, "");
  const lockName = `${channel}:refresh:${base}`;
  /** @type {string | null} the access token: in this closure only */
  let accessToken = null;
  /** @type {Promise<string> | null} the refresh under way in this tab */
  let refreshing = null;
  /** @type {string | null} why the session last ended, as this tab heard it */
  let lastEnd = null;
  const listeners = new Set();
  const tabs = typeof BroadcastChannel === "function" ? new BroadcastChannel(`${channel}:${base}`) : null;

  function notify(reason) {
    const current = sessionOf(accessToken);
    for (const listener of listeners) listener(current, reason);
  }

  function adopt(token, reason, tell = true) {
    accessToken = token;
    lastEnd = null;
    if (tell && tabs) tabs.postMessage({ type: "token", accessToken: token });
    notify(reason);
  }

  function end(reason, tell = true) {
    const had = accessToken !== null;
    accessToken = null;
    lastEnd = reason;
    if (tell && tabs) tabs.postMessage({ type: "ended", reason });
    if (had || tell) notify(reason);
  }

  if (tabs) {
    tabs.onmessage = ({ data }) => {
      if (data && data.type === "token" && typeof data.accessToken === "string") {
        if (data.accessToken !== accessToken) adopt(data.accessToken, "handed_over", false);
      } else if (data && data.type === "ended" && typeof data.reason === "string") {
        end(data.reason, false);
      }
    };
  }

  function post(path, init) {
    return fetch(`${base}${path}`, { method: "POST", credentials: "include", cache: "no-store", ...init });
  }

  /** A JSON POST that needs no session (the email flows): no cookie, no token; an AuthError unless 2xx. */
  async function postAnonymous(path, body) {
    const response = await fetch(`${base}${path}`, {
      method: "POST",
      credentials: "omit",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await refusal(response);
  }

  /** One cookie-mode refresh; the successor cookie is set by the answer. */
  async function refreshNow() {
    const response = await post("/refresh", { headers: COOKIE_MODE });
    if (response.ok) {
      const pair = await response.json();
      adopt(pair.access_token, "refreshed");
      return pair.access_token;
    }
    const error = await refusal(response, true);
    // A refused token ends the session for every tab; no cookie at all says nothing about theirs.
    if (error instanceof SessionEndedError) end(error.reason, error.reason !== "no_session");
    throw error;
  }

  /** A token newer than `stale`: refreshed here, or handed over by the tab that refreshed first. */
  async function refreshAcrossTabs(stale) {
    if (!navigator.locks) return refreshNow();
    // Held by another tab: it is refreshing, and will hand its token over before it lets go.
    const busy = await navigator.locks.request(lockName, { ifAvailable: true }, (lock) => lock === null);
    return navigator.locks.request(lockName, async () => {
      if (accessToken !== null && accessToken !== stale) return accessToken;
      if (busy) {
        const handed = await nextToken(stale, 1000);
        if (handed !== null) return handed;
        if (lastEnd !== null && accessToken === null && stale !== null) {
          // The other tab's refresh was refused, or it logged out: the session is over here too.
          throw new SessionEndedError(400, "invalid_grant", REASONS[lastEnd] ?? lastEnd, lastEnd);
        }
      }
      return refreshNow();
    });
  }

  /** Wait up to `ms` for a token other than `stale` to arrive from another tab; null if none did. */
  function nextToken(stale, ms) {
    return new Promise((resolve) => {
      const check = () => {
        if (accessToken !== stale) {
          finish(accessToken);
        }
      };
      const finish = (value) => {
        clearTimeout(timer);
        listeners.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => finish(null), ms);
      listeners.add(check);
      check();
    });
  }

  /** Refresh once in this tab however many callers ask at once. */
  function refresh(stale) {
    if (!refreshing) {
      refreshing = refreshAcrossTabs(stale).finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  /** The token to send: the one in memory, else one from a refresh (a reload, a new tab). */
  async function currentToken() {
    return accessToken ?? refresh(null);
  }

  return {
    async login(email, password) {
      const response = await post("/login", {
        headers: { ...COOKIE_MODE, "Content-Type": "application/json" },
        body: JSON.stringify({ email, password }),
      });
      if (!response.ok) throw await refusal(response);
      const pair = await response.json();
      adopt(pair.access_token, "logged_in");
      return sessionOf(pair.access_token);
    },

    async logout() {
      const response = await post("/logout", { headers: COOKIE_MODE });
      end("logged_out");
      if (!response.ok) throw await refusal(response);
    },

    async logoutAll() {
      const response = await this.fetch(`${base}/logout/all`, { method: "POST" });
      if (!response.ok) throw await refusal(response);
      await post("/logout", { headers: COOKIE_MODE }); // the cookie of the ended session goes too
      end("logged_out_everywhere");
    },

    async fetch(input, init = {}) {
      const send = (token) => {
        const headers = new Headers(init.headers);
        headers.set("Authorization", `Bearer ${token}`);
        return fetch(input, { ...init, headers });
      };
      let token = await currentToken();
      let response = await send(token);
      if (response.status === 401 && (await saysExpired(response))) {
        token = await refresh(token);
        response = await send(token);
      }
      return response;
    },

    async session() {
      if (accessToken !== null) return sessionOf(accessToken);
      try {
        await currentToken();
      } catch (error) {
        if (error instanceof SessionEndedError && error.reason === "no_session") return null;
        throw error;
      }
      return sessionOf(accessToken);
    },

    // The email flows (EMAIL=on on the service; 404 otherwise). The two that send a mail answer
    // alike for every address, so they resolve alike: whether a mail goes out is not for the page to know.

    forgotPassword(email) {
      return postAnonymous("/password/forgot", { email });
    },

    resetPassword(token, password) {
      return postAnonymous("/password/reset", { token, password });
    },

    verifyEmail(token) {
      return postAnonymous("/email/verify", { token });
    },

    resendVerification(email) {
      return postAnonymous("/email/verify/resend", { email });
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    close() {
      listeners.clear();
      if (tabs) tabs.close();
    },
  };
}

/** What a page may show of the user behind an access token. */
function sessionOf(token) {
  if (token === null) return null;
  const claims = claimsOf(token);
  return {
    userId: claims.sub,
    email: claims.email,
    scope: claims.scope,
    sessionId: claims.sid,
    expiresAt: new Date(claims.exp * 1000),
  };
}
