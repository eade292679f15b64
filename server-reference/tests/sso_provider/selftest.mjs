// Self-test of provider.mjs: drives the real authorization code + PKCE flow
// the way Breeze (the relying party) and a browser would, then every control
// route. Exits 0 printing `selftest ok`, non-zero with the failure.
//
//   cd server-reference/tests/sso_provider && npm ci && node selftest.mjs

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as assert from 'node:assert/strict';

import * as jose from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLIENTS = {
  'breeze-rs256': { secret: 'breeze-rs256-secret-0123456789abcdef', alg: 'RS256', kty: 'RSA', auth: 'basic' },
  'breeze-es256': { secret: 'breeze-es256-secret-0123456789abcdef', alg: 'ES256', kty: 'EC', auth: 'post' },
};
const verbose = process.argv.includes('-v');
const log = (...a) => { if (verbose) console.error(...a); };
let checks = 0;
const ok = (cond, msg) => { assert.ok(cond, msg); checks += 1; };

// ------------------------------------------------------------ relying party

// The redirect_uri target: answers 200 and remembers the query it got.
const rpHits = [];
const rp = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  rpHits.push(u);
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('relying party reached\n');
});
await new Promise((r) => rp.listen(0, '127.0.0.1', r));
const redirectUri = `http://127.0.0.1:${rp.address().port}/api/v1/auth/sso/callback`;
const otherRedirectUri = `http://127.0.0.1:${rp.address().port}/other/callback`;

// ------------------------------------------------------------ provider

const t0 = performance.now();
const child = spawn(process.execPath, [path.join(here, 'provider.mjs'), '--port', '0',
  '--redirect-uri', redirectUri, '--redirect-uri', otherRedirectUri], {
  stdio: ['pipe', 'pipe', 'pipe'],
});
let childStderr = '';
child.stderr.on('data', (d) => { childStderr += d; if (verbose) process.stderr.write(`[provider] ${d}`); });
const stdoutLines = [];
const issuer = await new Promise((resolve, reject) => {
  const rl = readline.createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    stdoutLines.push(line);
    const m = /^READY (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
    if (m && stdoutLines.length === 1) resolve(m[1]);
    else reject(new Error(`unexpected stdout line: ${line}`));
  });
  child.on('exit', (code) => reject(new Error(`provider exited early (${code}): ${childStderr}`)));
  setTimeout(() => reject(new Error('provider not READY in 15 s')), 15000).unref();
});
const startupMs = performance.now() - t0;
log(`provider READY at ${issuer} after ${startupMs.toFixed(0)} ms`);

let failed = false;
function finish(err) {
  if (err) {
    failed = true;
    console.error(`selftest FAILED: ${err.stack ?? err}`);
    if (!verbose) console.error(`--- provider stderr ---\n${childStderr}`);
  }
  child.stdin.end(); // the provider exits when its stdin closes
  rp.close();
}

// ------------------------------------------------------------ helpers

async function control(method, p, body) {
  const res = await fetch(`${issuer}${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  return { status: res.status, json };
}
async function controlOk(method, p, body) {
  const r = await control(method, p, body);
  assert.equal(r.status, 200, `${method} ${p}: ${JSON.stringify(r.json)}`);
  return r.json;
}

// A tiny cookie jar: name + path keyed, sent when the request path is under
// the cookie's path. Enough for one host on loopback.
class Jar {
  cookies = new Map();

  store(res, url) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let cpath = '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'path') cpath = v;
        if (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name}|${cpath}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path: cpath });
      this.log.push(`${expired || value === '' ? '-' : '+'}${name}(${cpath}) on ${url.pathname}`);
    }
  }

  header(url) {
    return [...this.cookies.values()]
      .filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  log = [];
}

// Follow redirects by hand from `start` until the relying party is reached
// (or a non-redirect answer comes). Returns the hops and the final response.
async function browse(jar, start, { stopAtPath } = {}) {
  const hops = [];
  let url = new URL(start);
  for (let i = 0; i < 20; i += 1) {
    if (url.origin !== issuer) {
      // the relying party: let the test see where we ended up
      const res = await fetch(url, { redirect: 'manual' });
      hops.push({ url: url.href, status: res.status });
      return { hops, final: url, res };
    }
    if (stopAtPath && stopAtPath.test(url.pathname)) return { hops, final: url, res: null };
    const cookie = jar.header(url);
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    jar.store(res, url);
    hops.push({ url: url.pathname, status: res.status });
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      url = new URL(loc, url);
      continue;
    }
    return { hops, final: url, res };
  }
  throw new Error('too many redirects');
}

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authUrl(clientId, { challenge, method = 'S256', state, nonce, redirect = redirectUri, scope = 'openid email profile' }) {
  const u = new URL(`${issuer}/auth`);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', clientId);
  u.searchParams.set('redirect_uri', redirect);
  u.searchParams.set('scope', scope);
  u.searchParams.set('state', state);
  u.searchParams.set('nonce', nonce);
  if (challenge !== undefined) {
    u.searchParams.set('code_challenge', challenge);
    u.searchParams.set('code_challenge_method', method);
  }
  return u.href;
}

// Authorization request -> interaction -> redirect_uri. Returns code etc.
async function authorize(clientId, { jar = new Jar(), login = { accountId: 'alice' } } = {}) {
  if (login) await controlOk('POST', '/__test/next-login', login);
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(12).toString('base64url');
  const nonce = crypto.randomBytes(12).toString('base64url');
  const { hops, final, res } = await browse(jar, authUrl(clientId, { challenge, state, nonce }));
  return {
    hops, final, res, verifier, state, nonce, jar,
  };
}

async function tokenRequest(clientId, code, verifier, { auth = CLIENTS[clientId].auth, redirect = redirectUri } = {}) {
  const form = new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier,
  });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth === 'basic') {
    const enc = (s) => encodeURIComponent(s);
    headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(CLIENTS[clientId].secret)}`).toString('base64')}`;
  } else {
    form.set('client_id', clientId);
    form.set('client_secret', CLIENTS[clientId].secret);
  }
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers, body: form });
  return { status: res.status, json: await res.json() };
}

// Full login; returns the raw ID token and the request's nonce.
async function login(clientId, loginBody = { accountId: 'alice' }) {
  const a = await authorize(clientId, { login: loginBody });
  ok(a.final.origin !== issuer, `login ended at the RP, not ${a.final.href}: ${JSON.stringify(a.hops)}`);
  const code = a.final.searchParams.get('code');
  ok(code, `no code in ${a.final.href}`);
  ok(a.final.searchParams.get('state') === a.state, 'state echoed');
  const t = await tokenRequest(clientId, code, a.verifier);
  assert.equal(t.status, 200, `token endpoint: ${JSON.stringify(t.json)}`);
  ok(typeof t.json.id_token === 'string', 'id_token in the token response');
  return {
    idToken: t.json.id_token, tokenResponse: t.json, nonce: a.nonce, authz: a, code,
  };
}

const jwks = () => jose.createRemoteJWKSet(new URL(`${issuer}/jwks`), { cacheMaxAge: 0, cooldownDuration: 0 });
const verify = (idToken, clientId, opts = {}) => jose.jwtVerify(idToken, jwks(), {
  issuer, audience: clientId, algorithms: [CLIENTS[clientId].alg], ...opts,
});
async function verifyFails(idToken, clientId, codeWanted, opts) {
  try {
    await verify(idToken, clientId, opts);
  } catch (err) {
    ok(err.code === codeWanted, `expected ${codeWanted}, got ${err.code}: ${err.message}`);
    return err;
  }
  throw new Error(`jwtVerify accepted a token that should fail with ${codeWanted}`);
}
async function jwksKids() {
  const r = await fetch(`${issuer}/jwks`);
  const body = await r.json();
  ok(body.keys.every((k) => !k.d && !k.p && !k.q), 'JWKS publishes public keys only');
  return body.keys.map((k) => k.kid);
}

// ------------------------------------------------------------ the test

async function main() {
  // discovery
  const disc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  ok(disc.issuer === issuer, `discovery issuer ${disc.issuer}`);
  ok(JSON.stringify(disc.code_challenge_methods_supported) === '["S256"]', `pkce methods ${disc.code_challenge_methods_supported}`);
  ok(disc.jwks_uri === `${issuer}/jwks`, `jwks_uri ${disc.jwks_uri}`);
  ok(disc.token_endpoint === `${issuer}/token`, `token_endpoint ${disc.token_endpoint}`);
  log('discovery', JSON.stringify({
    iss_param: disc.authorization_response_iss_parameter_supported,
    auth_methods: disc.token_endpoint_auth_methods_supported,
    algs: disc.id_token_signing_alg_values_supported,
    claims: disc.claims_supported,
  }));

  const st0 = await controlOk('GET', '/__test/state');
  ok(st0.issuer === issuer, 'state issuer');
  ok(st0.signingKids.RS256 === 'rsa-1' && st0.signingKids.ES256 === 'ec-1', `signing kids ${JSON.stringify(st0.signingKids)}`);
  ok(JSON.stringify(await jwksKids()) === JSON.stringify(['rsa-1', 'ec-1']), 'initial JWKS');

  // control validation
  ok((await control('POST', '/__test/next-login', { accountId: 'nobody' })).status === 400, 'next-login for unknown account is 400');
  ok((await control('POST', '/__test/tamper', { mode: 'bogus' })).status === 400, 'unknown tamper mode is 400');
  ok((await control('POST', '/__test/tamper', { mode: 'retired_key' })).status === 409, 'retired_key before any retire is 409');

  await controlOk('POST', '/__test/accounts', { id: 'alice', email: 'alice@acme.test', email_verified: true });
  await controlOk('POST', '/__test/accounts', { id: 'bob', email: 'bob@acme.test', email_verified: false, name: 'Bob B' });

  // no login queued
  {
    const a = await authorize('breeze-rs256', { login: null });
    ok(a.res.status === 400, `no queued login -> 400, got ${a.res.status}`);
    ok((await a.res.text()).trim() === 'no login queued', 'no login queued text');
  }

  // the happy path for both clients, timed, and the redirect sequence
  let loginMs;
  for (const clientId of Object.keys(CLIENTS)) {
    const t = performance.now();
    const r = await login(clientId, { accountId: 'alice', amr: ['pwd', 'otp'] });
    const ms = performance.now() - t;
    loginMs ??= ms;
    log(`${clientId} login ${ms.toFixed(0)} ms; hops ${JSON.stringify(r.authz.hops)}`);
    log(`cookies: ${r.authz.jar.log.join(', ')}`);
    log(`authorization response: ${r.authz.final.search}`);
    ok(r.authz.final.searchParams.get('iss') === issuer, 'iss in the authorization response (RFC 9207)');
    const { payload, protectedHeader } = await verify(r.idToken, clientId);
    log(`${clientId} id_token header ${JSON.stringify(protectedHeader)} payload ${JSON.stringify(payload)}`);
    ok(protectedHeader.alg === CLIENTS[clientId].alg, `alg ${protectedHeader.alg}`);
    ok(protectedHeader.kid === (clientId === 'breeze-rs256' ? 'rsa-1' : 'ec-1'), `kid ${protectedHeader.kid}`);
    ok(payload.sub === 'alice', 'sub');
    ok(payload.nonce === r.nonce, 'nonce echoed');
    ok(payload.email === 'alice@acme.test', `email in the ID token: ${JSON.stringify(payload)}`);
    ok(payload.email_verified === true, 'email_verified in the ID token');
    ok(payload.name === 'alice', 'name (profile scope) in the ID token');
    ok(JSON.stringify(payload.amr) === '["pwd","otp"]', `amr ${JSON.stringify(payload.amr)}`);
    ok(typeof payload.auth_time === 'number', 'auth_time');

    // a code is single use
    const again = await tokenRequest(clientId, r.code, r.authz.verifier);
    ok(again.status === 400 && again.json.error === 'invalid_grant', `code reuse: ${JSON.stringify(again.json)}`);
  }

  // default amr, another account, the other redirect URI, the other auth method
  {
    const r = await login('breeze-rs256', { accountId: 'bob' });
    const { payload } = await verify(r.idToken, 'breeze-rs256');
    ok(payload.sub === 'bob' && payload.email_verified === false && payload.name === 'Bob B', `bob ${JSON.stringify(payload)}`);
    ok(JSON.stringify(payload.amr) === '["pwd"]', `default amr ${JSON.stringify(payload.amr)}`);

    await controlOk('POST', '/__test/next-login', { accountId: 'alice' });
    const { verifier, challenge } = pkce();
    const jar = new Jar();
    const b = await browse(jar, authUrl('breeze-rs256', { challenge, state: 's', nonce: 'n', redirect: otherRedirectUri }));
    ok(b.final.pathname === '/other/callback', 'second registered redirect_uri');
    const t = await tokenRequest('breeze-rs256', b.final.searchParams.get('code'), verifier, { auth: 'post', redirect: otherRedirectUri });
    ok(t.status === 200, `client_secret_post accepted for a client registered with client_secret_basic: ${JSON.stringify(t.json)}`);
  }

  // the same browser (cookie jar) logging in again needs a queued login again
  {
    const jar = new Jar();
    await authorize('breeze-rs256', { jar, login: { accountId: 'alice' } });
    ok([...jar.cookies.keys()].some((k) => k.startsWith('_session|')), 'OP session cookie kept');
    const a = await authorize('breeze-rs256', { jar, login: null });
    ok(a.res.status === 400, `second login in the same browser must consume a queued login, got ${a.res.status} ${a.final.href}`);
  }

  // the user refuses at the OP
  {
    const a = await authorize('breeze-rs256', { login: { error: 'access_denied', error_description: 'the user said no' } });
    ok(a.final.origin !== issuer && a.final.searchParams.get('error') === 'access_denied', `access_denied: ${a.final.href}`);
    ok(a.final.searchParams.get('error_description') === 'the user said no' && a.final.searchParams.get('state') === a.state, 'error_description and state');
    ok(!a.final.searchParams.has('code'), 'no code with an error');
    ok((await controlOk('GET', '/__test/state')).nextLogin === null, 'error login consumed');
  }

  // PKCE enforcement and a wrong secret
  {
    await controlOk('POST', '/__test/next-login', { accountId: 'alice' });
    const jar = new Jar();
    const noPkce = await browse(jar, authUrl('breeze-rs256', { state: 's1', nonce: 'n' }));
    ok(noPkce.final.origin !== issuer && noPkce.final.searchParams.get('error') === 'invalid_request', `no PKCE: ${noPkce.final.href}`);
    log(`no code_challenge -> ${noPkce.final.search}`);
    const { challenge } = pkce();
    const plain = await browse(jar, authUrl('breeze-rs256', { challenge, method: 'plain', state: 's2', nonce: 'n' }));
    ok(plain.final.origin !== issuer && plain.final.searchParams.get('error') === 'invalid_request', `plain PKCE: ${plain.final.href}`);
    log(`code_challenge_method=plain -> ${plain.final.search}`);

    const a = await authorize('breeze-rs256');
    const wrongVerifier = await tokenRequest('breeze-rs256', a.final.searchParams.get('code'), pkce().verifier);
    ok(wrongVerifier.status === 400 && wrongVerifier.json.error === 'invalid_grant', `wrong verifier: ${JSON.stringify(wrongVerifier.json)}`);

    const b = await authorize('breeze-es256');
    const wrongSecret = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: b.final.searchParams.get('code'), redirect_uri: redirectUri,
        code_verifier: b.verifier, client_id: 'breeze-es256', client_secret: 'nope',
      }),
    });
    ok(wrongSecret.status === 401, `wrong secret -> ${wrongSecret.status}`);
  }

  // tamper modes, for both clients
  const tampered = async (clientId, mode, loginBody) => {
    await controlOk('POST', '/__test/tamper', { mode });
    const r = await login(clientId, loginBody);
    const st = await controlOk('GET', '/__test/state');
    ok(st.tamper === 'none', `tamper ${mode} is one-shot`);
    return r;
  };
  for (const clientId of Object.keys(CLIENTS)) {
    const { alg } = CLIENTS[clientId];
    const realKid = clientId === 'breeze-rs256' ? 'rsa-1' : 'ec-1';
    const now = Math.floor(Date.now() / 1000);

    let r = await tampered(clientId, 'none');
    await verify(r.idToken, clientId);

    r = await tampered(clientId, 'wrong_nonce');
    ok((await verify(r.idToken, clientId)).payload.nonce === 'tampered', 'wrong_nonce');

    r = await tampered(clientId, 'expired');
    await verifyFails(r.idToken, clientId, 'ERR_JWT_EXPIRED');
    {
      const p = jose.decodeJwt(r.idToken);
      ok(p.exp < now && p.iat < p.exp && p.exp <= now - 1700, `expired exp ${p.exp} iat ${p.iat}`);
      // the signature itself is genuine
      await verify(r.idToken, clientId, { currentDate: new Date((p.exp - 10) * 1000) });
    }

    r = await tampered(clientId, 'wrong_audience');
    await verifyFails(r.idToken, clientId, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    ok((await verify(r.idToken, clientId, { audience: 'another-client' })).payload.aud === 'another-client', 'wrong_audience');

    r = await tampered(clientId, 'wrong_issuer');
    await verifyFails(r.idToken, clientId, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    ok((await verify(r.idToken, clientId, { issuer: 'http://127.0.0.1:1' })).payload.iss === 'http://127.0.0.1:1', 'wrong_issuer');

    r = await tampered(clientId, 'unknown_kid');
    await verifyFails(r.idToken, clientId, 'ERR_JWKS_NO_MATCHING_KEY');
    ok(jose.decodeProtectedHeader(r.idToken).kid === 'rogue-1' && jose.decodeProtectedHeader(r.idToken).alg === alg, 'unknown_kid header');

    r = await tampered(clientId, 'bad_signature');
    await verifyFails(r.idToken, clientId, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    ok(jose.decodeProtectedHeader(r.idToken).kid === realKid, 'bad_signature keeps the real kid');

    r = await tampered(clientId, 'alg_none');
    ok(JSON.stringify(jose.decodeProtectedHeader(r.idToken)) === '{"alg":"none"}' && r.idToken.endsWith('.'), 'alg_none shape');
    await verifyFails(r.idToken, clientId, 'ERR_JOSE_ALG_NOT_ALLOWED');
    await verifyFails(r.idToken, clientId, 'ERR_JOSE_NOT_SUPPORTED', { algorithms: undefined });
    ok(jose.decodeJwt(r.idToken).nonce === r.nonce, 'alg_none keeps the claims');

    r = await tampered(clientId, 'hs256_with_secret');
    ok(jose.decodeProtectedHeader(r.idToken).alg === 'HS256', 'hs256 header');
    await verifyFails(r.idToken, clientId, 'ERR_JOSE_ALG_NOT_ALLOWED');
    await verifyFails(r.idToken, clientId, 'ERR_JOSE_NOT_SUPPORTED', { algorithms: undefined }); // no HMAC key in a JWKS
    await jose.jwtVerify(r.idToken, new TextEncoder().encode(CLIENTS[clientId].secret), { issuer, audience: clientId });
    checks += 1; // genuinely HMAC'd with the client secret

    r = await tampered(clientId, 'no_email_verified');
    ok((await verify(r.idToken, clientId)).payload.email_verified === false, 'no_email_verified');

    // and after all that, the next login is clean again
    r = await login(clientId);
    ok((await verify(r.idToken, clientId)).payload.nonce === r.nonce, 'clean after tampering');
  }

  // rotation, with an interaction that spans it
  const pre = await login('breeze-rs256');
  const codeBefore = await authorize('breeze-es256'); // a code issued before the rotation, redeemed after it
  const oldJwks = (await (await fetch(`${issuer}/jwks`)).json()).keys;
  await controlOk('POST', '/__test/next-login', { accountId: 'alice' });
  const spanJar = new Jar();
  const spanPkce = pkce();
  const span = await browse(spanJar, authUrl('breeze-rs256', { challenge: spanPkce.challenge, state: 'span', nonce: 'span-nonce' }), { stopAtPath: /^\/interaction\// });
  ok(span.final.pathname.startsWith('/interaction/'), 'stopped before the interaction');

  const tr = performance.now();
  const rot = await controlOk('POST', '/__test/rotate');
  const rotateMs = performance.now() - tr;
  ok(rot.signingKids.RS256 === 'rsa-2' && rot.signingKids.ES256 === 'ec-2', `rotated signing kids ${JSON.stringify(rot.signingKids)}`);
  ok(JSON.stringify(await jwksKids()) === JSON.stringify(['rsa-2', 'rsa-1', 'ec-2', 'ec-1']), 'JWKS lists new and old');

  // the interaction begun before the rotation finishes after it
  const spanEnd = await browse(spanJar, span.final.href);
  ok(spanEnd.final.origin !== issuer, `interaction survived the rotation: ${JSON.stringify(spanEnd.hops)}`);
  const spanTok = await tokenRequest('breeze-rs256', spanEnd.final.searchParams.get('code'), spanPkce.verifier);
  ok(spanTok.status === 200, `code across rotation ${JSON.stringify(spanTok.json)}`);
  ok((await verify(spanTok.json.id_token, 'breeze-rs256')).protectedHeader.kid === 'rsa-2', 'signed with rsa-2 after rotation');

  {
    const t = await tokenRequest('breeze-es256', codeBefore.final.searchParams.get('code'), codeBefore.verifier);
    ok(t.status === 200, `code issued before the rotation: ${JSON.stringify(t.json)}`);
    ok((await verify(t.json.id_token, 'breeze-es256')).protectedHeader.kid === 'ec-2', 'and its ID token is signed with the new key');
  }
  for (const clientId of Object.keys(CLIENTS)) {
    const r = await login(clientId);
    const { protectedHeader } = await verify(r.idToken, clientId);
    ok(protectedHeader.kid === (clientId === 'breeze-rs256' ? 'rsa-2' : 'ec-2'), `new kid ${protectedHeader.kid}`);
  }
  await verify(pre.idToken, 'breeze-rs256'); // an rsa-1 token still verifies while rsa-1 is published
  checks += 1;

  // retire
  const ret = await controlOk('POST', '/__test/retire');
  ok(JSON.stringify(ret.retired.sort()) === '["ec-1","rsa-1"]', `retired ${JSON.stringify(ret.retired)}`);
  ok(JSON.stringify(await jwksKids()) === JSON.stringify(['rsa-2', 'ec-2']), 'JWKS lists only the new keys');
  await verifyFails(pre.idToken, 'breeze-rs256', 'ERR_JWKS_NO_MATCHING_KEY');

  for (const clientId of Object.keys(CLIENTS)) {
    const r = await tampered(clientId, 'retired_key');
    const h = jose.decodeProtectedHeader(r.idToken);
    const oldKid = clientId === 'breeze-rs256' ? 'rsa-1' : 'ec-1';
    ok(h.kid === oldKid, `retired_key kid ${h.kid}`);
    ok(!(await jwksKids()).includes(h.kid), 'retired kid not in the JWKS');
    await verifyFails(r.idToken, clientId, 'ERR_JWKS_NO_MATCHING_KEY');
    // genuinely signed by the retired key
    const oldPub = await jose.importJWK(oldJwks.find((k) => k.kid === oldKid), CLIENTS[clientId].alg);
    await jose.jwtVerify(r.idToken, oldPub, { issuer, audience: clientId });
    checks += 1;
  }

  // a second rotation: rsa-3 signs, the JWKS has rsa-3 and rsa-2
  await controlOk('POST', '/__test/rotate');
  ok(JSON.stringify(await jwksKids()) === JSON.stringify(['rsa-3', 'rsa-2', 'ec-3', 'ec-2']), 'second rotation');
  ok((await verify((await login('breeze-rs256')).idToken, 'breeze-rs256')).protectedHeader.kid === 'rsa-3', 'rsa-3 signs');

  ok(stdoutLines.length === 1, `stdout had exactly one line: ${JSON.stringify(stdoutLines)}`);

  console.log(`startup ${startupMs.toFixed(0)} ms (spawn to READY), first login ${loginMs.toFixed(0)} ms `
    + `(authorize + interaction + token), rotate ${rotateMs.toFixed(0)} ms, ${checks} checks`);
}

try {
  await main();
  finish();
  // the provider must go away when its stdin closes
  const code = await new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.on('exit', (c) => resolve(c));
    setTimeout(() => resolve('still running'), 5000).unref();
  });
  if (code !== 0) throw new Error(`provider did not exit cleanly on stdin close: ${code}`);
  console.log('selftest ok');
} catch (err) {
  if (!failed) finish(err);
  child.kill('SIGTERM');
  process.exitCode = 1;
}
