// CSRF (SPEC 9): state-changing requests under /api/v1/auth/ carry the refresh cookie, so
// they must send `x-breeze-csrf` equal to the `breeze_csrf` cookie (double submit; the cookie
// is SameSite=Strict and readable by this origin's scripts only). The console never writes a
// cookie itself.

const CSRF_COOKIE = 'breeze_csrf';
const COOKIE_AUTH_PREFIX = '/api/v1/auth/';

export function csrfCookie(): string | null {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === CSRF_COOKIE) {
      const v = part.slice(eq + 1).trim();
      return v ? v : null;
    }
  }
  return null;
}

export function csrfHeaders(method: string, path: string): Record<string, string> {
  if (method === 'GET' || !path.startsWith(COOKIE_AUTH_PREFIX)) return {};
  const v = csrfCookie();
  return v ? { 'x-breeze-csrf': v } : {};
}
