// A Node service that verifies Breeze JWTs and checks a permission before each route, with the
// Breeze Node package (napi-rs). Run it:
//
//   BREEZE_JWT_RING='{"keys":{"2026-11":"<secret>"},"active":"2026-11"}' \
//   BREEZE_ROLE_MAP='{"<roleId uuid>":"Org Viewer"}' PORT=8080 node examples/node-jwt-service/service.mjs
//
// GET /devices needs `devices:read`; POST /scripts/execute needs `scripts:execute`.
// 401 {"error": <code>} for a missing or bad token (the code is the JWT error's stable code),
// 403 {"error": "forbidden", "permission"} when the role does not grant the route's permission.
import http from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const ROUTES = {
  'GET /devices': 'devices:read',
  'POST /scripts/execute': 'scripts:execute',
};

/**
 * Creates the service. `breeze` is the Breeze package (the napi addon by default; the WASM
 * package has the same API), `ring` the JWT key ring, `roleMap` maps a token's `roleId` to a
 * seeded role name, `now` returns unix seconds.
 */
export function createService({ breeze, ring, roleMap, now = () => Math.floor(Date.now() / 1000) }) {
  breeze ??= createRequire(import.meta.url)('../../bindings/node/index.js');
  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  return http.createServer((req, res) => {
    const permission = ROUTES[`${req.method} ${new URL(req.url, 'http://x').pathname}`];
    if (!permission) return send(res, 404, { error: 'not_found' });
    const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(req.headers.authorization ?? '');
    if (!match) return send(res, 401, { error: 'missing_token' });
    let claims;
    try {
      claims = breeze.jwtVerify(ring, match[1], 'access', now());
    } catch (e) {
      return send(res, 401, { error: typeof e.code === 'string' ? e.code : 'invalid_token' });
    }
    const role = roleMap[claims.roleId ?? ''];
    let allowed = false;
    try {
      allowed = role !== undefined && breeze.permissionCheck(role, permission);
    } catch {
      allowed = false; // fail closed on an unknown role
    }
    if (!allowed) return send(res, 403, { error: 'forbidden', permission });
    return send(res, 200, { ok: true, user: claims.sub, org: claims.orgId, permission });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const ring = JSON.parse(process.env.BREEZE_JWT_RING ?? 'null');
  const roleMap = JSON.parse(process.env.BREEZE_ROLE_MAP ?? '{}');
  if (!ring) {
    console.error('set BREEZE_JWT_RING to the JWT key ring JSON');
    process.exit(2);
  }
  const port = Number(process.env.PORT ?? 8080);
  createService({ ring, roleMap }).listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
}
