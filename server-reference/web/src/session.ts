// Session state (SPEC 15): the access token lives in this module's memory only — never in
// localStorage, sessionStorage, IndexedDB or a cookie written by script. The refresh token
// is the server's HttpOnly `breeze_refresh` cookie (Path=/api/v1/auth); a page load restores
// the session through POST /api/v1/auth/refresh, and so does a 401. Refreshes are
// single-flight within the tab and serialized across tabs with a Web Lock, so two tabs never
// present the same refresh token (the server treats a reuse as theft and ends the family).
import { csrfCookie, csrfHeaders } from './csrf';
import { ApiError, errorOf } from './errors';
import type { MfaChallenge, SessionAnswer, SessionUser } from './types';

export type SessionState =
  | { kind: 'loading' }
  | { kind: 'anonymous'; notice?: string }
  | { kind: 'authenticated'; user: SessionUser; mfa: boolean };

let token: string | null = null;
let state: SessionState = { kind: 'loading' };
let refreshTimer: number | undefined;
let inFlight: Promise<boolean> | null = null;
const listeners = new Set<() => void>();

export const accessToken = (): string | null => token;
export const sessionState = (): SessionState => state;

export function onSession(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function set(next: SessionState): void {
  state = next;
  for (const fn of listeners) fn();
}

function clear(notice?: string): void {
  token = null;
  if (refreshTimer !== undefined) window.clearTimeout(refreshTimer);
  refreshTimer = undefined;
  set(notice ? { kind: 'anonymous', notice } : { kind: 'anonymous' });
}

function adopt(s: SessionAnswer): void {
  token = s.accessToken;
  if (refreshTimer !== undefined) window.clearTimeout(refreshTimer);
  // renew at 80% of the lifetime so requests rarely meet an expired token
  const ms = Math.max(10, s.expiresIn * 0.8) * 1000;
  refreshTimer = window.setTimeout(() => void refreshSession(), ms);
  set({ kind: 'authenticated', user: s.user, mfa: s.mfa });
}

async function authPost(path: string, body?: unknown, bearer = false): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...csrfHeaders('POST', path) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (bearer && token) headers['authorization'] = `Bearer ${token}`;
  return fetch(path, {
    method: 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
  });
}

export type LoginResult = { kind: 'session' } | { kind: 'mfa'; mfaToken: string };

export async function login(email: string, password: string): Promise<LoginResult> {
  const res = await authPost('/api/v1/auth/login', { email, password });
  if (!res.ok) throw await errorOf(res);
  const body = (await res.json()) as SessionAnswer | MfaChallenge;
  if ('mfaRequired' in body && body.mfaRequired) return { kind: 'mfa', mfaToken: body.mfaToken };
  adopt(body as SessionAnswer);
  return { kind: 'session' };
}

export async function verifyMfa(mfaToken: string, code: string): Promise<void> {
  const res = await authPost('/api/v1/auth/mfa/verify', { mfaToken, code });
  if (!res.ok) throw await errorOf(res);
  adopt((await res.json()) as SessionAnswer);
}

async function refreshOnce(): Promise<boolean> {
  const res = await authPost('/api/v1/auth/refresh');
  if (!res.ok) return false;
  adopt((await res.json()) as SessionAnswer);
  return true;
}

/**
 * Completes a single sign-on that the server sent back with `?sso=mfa` (SPEC 16): the
 * challenge is the server's HttpOnly MFA cookie, so only the code travels in the request.
 */
export async function verifySsoMfa(code: string): Promise<void> {
  const res = await authPost('/api/v1/auth/sso/mfa', { code });
  if (!res.ok) throw await errorOf(res);
  adopt((await res.json()) as SessionAnswer);
}

/** Rotates the refresh cookie for a new access token; false when there is no live session. */
export function refreshSession(): Promise<boolean> {
  if (!inFlight) {
    const run = (): Promise<boolean> => refreshOnce().catch(() => false);
    const locked: Promise<boolean> =
      'locks' in navigator ? navigator.locks.request('breeze-refresh', run) : run();
    inFlight = locked.finally(() => {
      inFlight = null;
    });
  }
  return inFlight;
}

/** Called once at start: restores a session from the refresh cookie when there is one. */
export async function restore(): Promise<void> {
  // the CSRF cookie is issued with the refresh cookie and has its lifetime: without it
  // there is no session to restore, and no request is made
  if (!csrfCookie() || !(await refreshSession())) clear();
}

/** A request met 401 after a refresh: the session is over (revoked, expired, logged out). */
export function sessionExpired(): void {
  if (state.kind === 'authenticated') clear('Your session ended. Log in again.');
}

export async function logout(): Promise<void> {
  try {
    const res = await authPost('/api/v1/auth/logout', undefined, true);
    if (!res.ok && res.status !== 401) throw await errorOf(res);
    await res.arrayBuffer(); // read to the end: the request is complete before the page moves on
  } finally {
    clear('Logged out.');
  }
}

/** Ends the local session without a request (after the server ended it, e.g. MFA enabled). */
export function endLocally(notice: string): void {
  clear(notice);
}

export { ApiError };
