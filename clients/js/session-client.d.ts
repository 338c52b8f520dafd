/** Types of session-client.js: the browser client of the auth service's cookie mode. */

/** Why a session ended: a refusal reason of the auth service, or one of the client's own. */
export type EndReason =
  | "reused"
  | "expired_idle"
  | "expired_absolute"
  | "revoked"
  | "password_changed"
  | "evicted"
  | "upgraded"
  | "unknown"
  | "no_session"
  | "logged_out"
  | "logged_out_everywhere";

/** Why the session changed, as onChange listeners hear it. */
export type ChangeReason = EndReason | "logged_in" | "refreshed" | "handed_over";

/** A refusal by the auth service; `error` is the contract's code. */
export class AuthError extends Error {
  constructor(status: number, error: string, description: string, reason?: string, retryAfter?: number);
  readonly status: number;
  readonly error: string;
  readonly description: string;
  readonly reason?: string;
  /** Seconds to wait before asking again (a 429's `Retry-After`). */
  readonly retryAfter?: number;
}

/** The session is over: log in again; `reason` says why. */
export class SessionEndedError extends AuthError {
  readonly reason: EndReason;
}

/** What each end reason means to a person. */
export const REASONS: Readonly<Record<EndReason, string>>;

/** The user behind the current access token (read from it, not verified: for display). */
export interface Session {
  userId: string;
  email: string;
  scope: string;
  sessionId: string;
  expiresAt: Date;
}

export interface SessionClientOptions {
  /** The auth service's URL, e.g. "https://auth.example.com". */
  authUrl: string;
  /** The name the tabs' lock and channel share (default "session-client"). */
  channel?: string;
}

export interface SessionClient {
  /** Log in (cookie mode); AuthError (`invalid_credentials`, `rate_limited`, ...) when refused. */
  login(email: string, password: string): Promise<Session>;
  /** End this session on the server, in every tab. */
  logout(): Promise<void>;
  /** End every session of the user (every device), in every tab. */
  logoutAll(): Promise<void>;
  /** `fetch` with the access token; on a 401 saying it expired, refresh once and send again. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The current user; after a reload, restored by a refresh; null when not logged in
   * (no cookie); SessionEndedError when the cookie's session was refused (its `reason`). */
  session(): Promise<Session | null>;
  /** Ask for a password-reset mail: resolves alike whether or not an account has `email`
   * (AuthError `rate_limited` with `retryAfter` when throttled). */
  forgotPassword(email: string): Promise<void>;
  /** Spend a reset link's token: the password is set and every session of the account ends.
   * AuthError `invalid_token` (used, replaced or expired: ask again), `invalid_request` (a
   * password against the rules: the token is not spent). */
  resetPassword(token: string, password: string): Promise<void>;
  /** Spend a verification link's token; AuthError `invalid_token` when used, replaced or expired. */
  verifyEmail(token: string): Promise<void>;
  /** Ask for a new verification mail: resolves alike for every address. */
  resendVerification(email: string): Promise<void>;
  /** Hear of every change (login, refresh, hand-over from another tab, end); returns an unsubscribe. */
  onChange(listener: (session: Session | null, reason: ChangeReason) => void): () => void;
  /** Stop listening to the other tabs. */
  close(): void;
}

export function createSessionClient(options: SessionClientOptions): SessionClient;
