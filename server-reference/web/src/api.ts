// The API client: JSON requests with the in-memory access token, one refresh-and-retry on
// 401, the CSRF header on cookie-authenticated state-changing requests, and errors carrying
// the server's stable code and field issues (never a secret: the server does not echo them).
import { accessToken, refreshSession, sessionExpired } from './session';
import { csrfHeaders } from './csrf';
import { errorOf } from './errors';

export { ApiError } from './errors';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Sends one request with the current access token (no retry). */
async function send(method: Method, path: string, body: unknown, accept: string): Promise<Response> {
  const headers: Record<string, string> = { accept, ...csrfHeaders(method, path) };
  const token = accessToken();
  if (token) headers['authorization'] = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  return fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store', redirect: 'error' });
}

/** A request that refreshes the session once on 401 and retries. */
export async function request(method: Method, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
  let res = await send(method, path, body, accept);
  if (res.status === 401 && accessToken()) {
    if (await refreshSession()) {
      res = await send(method, path, body, accept);
    }
    if (res.status === 401) sessionExpired();
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown): Promise<T> => api<T>('POST', path, body);
export const del = <T>(path: string): Promise<T> => api<T>('DELETE', path);

/** `path?k=v&...` with the empty values left out. */
export function withQuery(path: string, q: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

/** Path segment encoding for ids that come from the API or the URL. */
export const seg = (s: string): string => encodeURIComponent(s);
