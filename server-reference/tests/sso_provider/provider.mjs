// Test-only OpenID Connect provider for Breeze's SSO integration tests.
//
// A real OP that we did not write (the npm package oidc-provider, pinned in
// package.json), started on loopback by the tests and steered through the
// unauthenticated /__test/* control routes. See README.md for the contract.
//
//   node provider.mjs --port 0 --redirect-uri http://127.0.0.1:PORT/api/v1/auth/sso/callback
//
// stdout carries exactly one line, `READY http://127.0.0.1:<port>`; everything
// else (oidc-provider's notices included) goes to stderr.

import * as http from 'node:http';
import * as crypto from 'node:crypto';

// oidc-provider prints its NOTICEs with console.info (stdout). stdout belongs
// to the READY line alone, so route console.info/log to stderr before the
// package is loaded (hence the dynamic imports below).
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

const started = performance.now();
const jose = await import('jose');

// ---------------------------------------------------------------- arguments

function usage(msg) {
  process.stderr.write(`provider.mjs: ${msg}\n`
    + 'usage: node provider.mjs --port N --redirect-uri URI [--redirect-uri URI ...] [--ignore-stdin]\n');
  process.exit(2);
}

const args = { port: 0, redirectUris: [], ignoreStdin: false };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      i += 1;
      return argv[i];
    };
    if (a === '--port') {
      const p = Number(value());
      if (!Number.isInteger(p) || p < 0 || p > 65535) usage('--port must be 0..65535');
      args.port = p;
    } else if (a === '--redirect-uri') {
      const u = value();
      if (!URL.canParse(u)) usage(`not a URL: ${u}`);
      args.redirectUris.push(u);
    } else if (a === '--ignore-stdin') {
      args.ignoreStdin = true;
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  if (args.redirectUris.length === 0) usage('at least one --redirect-uri is required');
}

// ---------------------------------------------------------------- lifetime

function shutdown(code = 0) {
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
if (!args.ignoreStdin) {
  // The parent (a test) holds our stdin open; when it dies or closes the pipe
  // we go too, so no orphan is left behind.
  const gone = () => {
    process.stderr.write('provider.mjs: stdin closed, exiting\n');
    shutdown(0);
  };
  process.stdin.on('end', gone);
  process.stdin.on('close', gone);
  process.stdin.on('error', gone);
  process.stdin.resume();
}

// ---------------------------------------------------------------- constants

const HOST = '127.0.0.1';

const CLIENTS = [
  { client_id: 'breeze-rs256', client_secret: 'breeze-rs256-secret-0123456789abcdef', alg: 'RS256' },
  { client_id: 'breeze-es256', client_secret: 'breeze-es256-secret-0123456789abcdef', alg: 'ES256' },
];
const SECRET_BY_CLIENT = new Map(CLIENTS.map((c) => [c.client_id, c.client_secret]));

const TAMPER_MODES = new Set([
  'none', 'wrong_nonce', 'expired', 'wrong_audience', 'wrong_issuer', 'unknown_kid',
  'bad_signature', 'retired_key', 'alg_none', 'hs256_with_secret', 'no_email_verified',
]);

// ---------------------------------------------------------------- keys

const KTY_ALG = { RSA: 'RS256', EC: 'ES256' };
const KID_PREFIX = { RSA: 'rsa', EC: 'ec' };

async function generateKey(kty, kid) {
  const alg = KTY_ALG[kty];
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, modulusLength: 2048, crv: 'P-256' });
  const jwk = await jose.exportJWK(privateKey);
  return {
    kid, kty, alg, privateKey, jwk: { ...jwk, kid, alg, use: 'sig' },
  };
}

const keys = {
  // newest first: oidc-provider signs with the first key matching the alg
  // (its scoring sort is stable and every key carries alg + use).
  published: { RSA: [], EC: [] },
  retired: { RSA: [], EC: [] }, // most recently retired last
  generation: 0,
};

async function newGeneration() {
  keys.generation += 1;
  const n = keys.generation;
  const [rsa, ec] = await Promise.all([
    generateKey('RSA', `${KID_PREFIX.RSA}-${n}`),
    generateKey('EC', `${KID_PREFIX.EC}-${n}`),
  ]);
  keys.published.RSA.unshift(rsa);
  keys.published.EC.unshift(ec);
}

function allPublished() {
  return [...keys.published.RSA, ...keys.published.EC];
}

function findKeyByKid(kid) {
  for (const kty of ['RSA', 'EC']) {
    const k = keys.published[kty].find((x) => x.kid === kid) ?? keys.retired[kty].find((x) => x.kid === kid);
    if (k) return k;
  }
  return undefined;
}

const rogue = {};
async function rogueKey(kty) {
  rogue[kty] ??= await generateKey(kty, 'rogue-1');
  return rogue[kty];
}

// Key generation (RSA-2048 takes 0.1 to 0.7 s) runs on libuv's thread pool
// while oidc-provider loads.
const firstKeys = newGeneration();

const { default: Provider, interactionPolicy } = await import('oidc-provider');
// Deep import (no "exports" map in oidc-provider 9.13.3, which is pinned): one
// in-memory store shared by every Provider instance we build, so that key
// rotation (which rebuilds the Provider) keeps sessions, interactions, grants
// and codes. Passing our own factory also silences the "in-memory adapter"
// warning, which only fires for the package's default.
const { createMemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');

// ---------------------------------------------------------------- test state

const accounts = new Map(); // id -> { id, email, email_verified, name }
let nextLogin = null; // { accountId, amr }
let tamperMode = 'none';

// ---------------------------------------------------------------- provider

let issuer; // set once the port is known
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
const adapter = createMemoryAdapter(0);

function buildPolicy() {
  const { Check, base } = interactionPolicy;
  const policy = base();
  // Every authorization request asks for a login interaction, even when the
  // browser already holds an OP session: one authorization request consumes
  // exactly one queued login, which keeps the tests deterministic.
  policy.get('login').checks.add(new Check(
    'breeze_test_always_login',
    'the test provider logs in on every authorization request',
    (ctx) => (ctx.oidc.result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT),
  ));
  return policy;
}

function buildProvider() {
  const provider = new Provider(issuer, {
    adapter,
    clients: CLIENTS.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      application_type: 'web', // http:// redirect URIs are allowed for web clients using the code flow
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: args.redirectUris,
      token_endpoint_auth_method: 'client_secret_basic', // 9.13.3 accepts client_secret_post as well
      id_token_signed_response_alg: c.alg,
    })),
    jwks: { keys: allPublished().map((k) => k.jwk) },
    cookies: { keys: cookieKeys },
    async findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: account.email,
            email_verified: account.email_verified,
            name: account.name,
          };
        },
      };
    },
    scopes: ['openid', 'email', 'profile'],
    // oidc-provider releases a claim into the ID token only when a granted
    // scope maps to it (or the claims parameter asks for it). A claim keyed
    // to null here (the defaults acr, auth_time, sid, iss) is merely
    // "supported", released on request. amr is not even supported by
    // default, and neither amr nor auth_time reaches the ID token of a plain
    // code flow, although the session has them. So the openid scope maps to
    // them: every ID token carries amr (when the login set one) and auth_time.
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // false: claims of the granted scopes go into the ID token too, not only
    // to the userinfo endpoint.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      revocation: { enabled: false },
      introspection: { enabled: false },
      userinfo: { enabled: true },
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
    },
    interactions: {
      policy: buildPolicy(),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    pkce: { required: () => true }, // and 9.x supports S256 only
    responseTypes: ['code'],
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 120,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
    },
    async renderError(ctx, out) {
      ctx.type = 'text/plain';
      ctx.body = `${out.error}: ${out.error_description ?? ''}\n`;
    },
  });

  provider.use(tamperMiddleware);
  provider.on('server_error', (_ctx, err) => process.stderr.write(`provider server_error: ${err.stack ?? err}\n`));
  return { provider, handler: provider.callback() };
}

let current; // { provider, handler }

// ---------------------------------------------------------------- tampering

const b64json = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

async function tamperIdToken(idToken, mode, clientId) {
  const header = jose.decodeProtectedHeader(idToken);
  const payload = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = findKeyByKid(header.kid);
  if (!key) throw new Error(`tamper: no key for kid ${header.kid}`);
  let signingKey = key.privateKey;
  const outHeader = { ...header };

  switch (mode) {
    case 'wrong_nonce': payload.nonce = 'tampered'; break;
    case 'expired': payload.iat = now - 3600; payload.exp = now - 1800; break;
    case 'wrong_audience': payload.aud = 'another-client'; break;
    case 'wrong_issuer': payload.iss = 'http://127.0.0.1:1'; break;
    case 'no_email_verified': payload.email_verified = false; break;
    case 'unknown_kid': {
      const r = await rogueKey(key.kty);
      signingKey = r.privateKey;
      outHeader.kid = r.kid;
      break;
    }
    case 'bad_signature': {
      const r = await rogueKey(key.kty);
      signingKey = r.privateKey; // header kid stays the real current key's
      break;
    }
    case 'retired_key': {
      const list = keys.retired[key.kty];
      if (!list.length) throw new Error('tamper retired_key: no retired key');
      key = list[list.length - 1];
      signingKey = key.privateKey;
      outHeader.kid = key.kid;
      break;
    }
    case 'alg_none':
      return `${b64json({ alg: 'none' })}.${b64json(payload)}.`;
    case 'hs256_with_secret': {
      const secret = SECRET_BY_CLIENT.get(clientId);
      return new jose.SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', ...(header.typ ? { typ: header.typ } : {}) })
        .sign(new TextEncoder().encode(secret));
    }
    default:
      throw new Error(`tamper: unknown mode ${mode}`);
  }
  return new jose.SignJWT(payload).setProtectedHeader(outHeader).sign(signingKey);
}

async function tamperMiddleware(ctx, next) {
  await next();
  if (ctx.method !== 'POST' || ctx.path !== '/token') return;
  if (tamperMode === 'none') return;
  const body = ctx.body;
  if (!body || typeof body !== 'object' || typeof body.id_token !== 'string') return;
  const mode = tamperMode;
  tamperMode = 'none'; // one-shot: consumed by the first token response carrying an id_token
  body.id_token = await tamperIdToken(body.id_token, mode, ctx.oidc?.client?.clientId);
  process.stderr.write(`tamper: id_token rewritten (${mode})\n`);
}

// ---------------------------------------------------------------- interactions

function sendText(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

function sendJson(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(obj));
}

async function handleInteraction(req, res) {
  const { provider } = current;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    return sendText(res, 400, `interaction not found: ${err.message}`);
  }
  const { prompt, params } = details;

  let result;
  if (prompt.name === 'login') {
    if (!nextLogin) return sendText(res, 400, 'no login queued');
    if (nextLogin.error) {
      // the "user" refuses: the OP redirects to the RP with ?error=...&state=...
      const { error, error_description: description } = nextLogin;
      nextLogin = null;
      return provider.interactionFinished(req, res, {
        error, ...(description ? { error_description: description } : {}),
      }, { mergeWithLastSubmission: false });
    }
    const { accountId, amr } = nextLogin;
    if (!accounts.has(accountId)) return sendText(res, 400, `unknown account ${accountId}`);
    nextLogin = null;
    // Consent in the same step: grant every requested scope.
    const grant = new provider.Grant({ accountId, clientId: params.client_id });
    grant.addOIDCScope(String(params.scope ?? 'openid'));
    const grantId = await grant.save();
    result = { login: { accountId, amr }, consent: { grantId } };
  } else if (prompt.name === 'consent') {
    // Reached only if a login interaction did not also grant (kept for
    // robustness): grant exactly what the OP says is missing, as in
    // oidc-provider's example.
    const d = prompt.details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    result = { consent: { grantId } };
  } else {
    return sendText(res, 400, `unsupported prompt ${prompt.name}`);
  }
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------- control API

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  return JSON.parse(text);
}

function stateBody() {
  return {
    issuer,
    jwksKids: allPublished().map((k) => k.kid),
    signingKids: { RS256: keys.published.RSA[0].kid, ES256: keys.published.EC[0].kid },
    retiredKids: [...keys.retired.RSA, ...keys.retired.EC].map((k) => k.kid),
    tamper: tamperMode,
    nextLogin,
    accounts: [...accounts.keys()],
  };
}

async function handleControl(req, res, path) {
  const route = `${req.method} ${path}`;
  let body = {};
  if (req.method === 'POST') {
    try {
      body = await readJson(req);
    } catch (err) {
      return sendJson(res, 400, { error: `invalid JSON: ${err.message}` });
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return sendJson(res, 400, { error: 'body must be a JSON object' });
    }
  }

  switch (route) {
    case 'GET /__test/state':
      return sendJson(res, 200, stateBody());

    case 'POST /__test/accounts': {
      const { id, email, email_verified: emailVerified, name } = body;
      if (typeof id !== 'string' || !id) return sendJson(res, 400, { error: 'id must be a non-empty string' });
      if (typeof email !== 'string') return sendJson(res, 400, { error: 'email must be a string' });
      if (typeof emailVerified !== 'boolean') return sendJson(res, 400, { error: 'email_verified must be a boolean' });
      if (name !== undefined && typeof name !== 'string') return sendJson(res, 400, { error: 'name must be a string' });
      const account = { id, email, email_verified: emailVerified, name: name ?? id };
      accounts.set(id, account);
      return sendJson(res, 200, { account });
    }

    case 'POST /__test/next-login': {
      if (body.error !== undefined) {
        const { error, error_description: description } = body;
        if (typeof error !== 'string' || !/^[a-z_]+$/.test(error)) return sendJson(res, 400, { error: 'error must be an OAuth error code like access_denied' });
        if (description !== undefined && typeof description !== 'string') return sendJson(res, 400, { error: 'error_description must be a string' });
        nextLogin = { error, ...(description ? { error_description: description } : {}) };
        return sendJson(res, 200, { nextLogin });
      }
      const { accountId, amr = ['pwd'] } = body;
      if (typeof accountId !== 'string' || !accountId) return sendJson(res, 400, { error: 'accountId must be a non-empty string' });
      if (!Array.isArray(amr) || !amr.every((x) => typeof x === 'string')) return sendJson(res, 400, { error: 'amr must be an array of strings' });
      if (!accounts.has(accountId)) return sendJson(res, 400, { error: `unknown account ${accountId}` });
      nextLogin = { accountId, amr };
      return sendJson(res, 200, { nextLogin });
    }

    case 'POST /__test/tamper': {
      const { mode } = body;
      if (!TAMPER_MODES.has(mode)) return sendJson(res, 400, { error: `unknown mode ${mode}`, modes: [...TAMPER_MODES] });
      if (mode === 'retired_key' && !keys.retired.RSA.length) return sendJson(res, 409, { error: 'no retired key (POST /__test/rotate then /__test/retire first)' });
      tamperMode = mode;
      return sendJson(res, 200, { mode });
    }

    case 'POST /__test/rotate': {
      await newGeneration();
      current = buildProvider();
      return sendJson(res, 200, stateBody());
    }

    case 'POST /__test/retire': {
      const retiredNow = [];
      for (const kty of ['RSA', 'EC']) {
        const [keep, ...old] = keys.published[kty];
        keys.published[kty] = [keep];
        // oldest first, so the most recently retired key ends up last
        for (const k of old.reverse()) {
          keys.retired[kty].push(k);
          retiredNow.push(k.kid);
        }
      }
      if (retiredNow.length) current = buildProvider();
      return sendJson(res, 200, { retired: retiredNow, ...stateBody() });
    }

    default:
      return sendJson(res, 404, { error: `no control route ${route}` });
  }
}

// ---------------------------------------------------------------- server

async function handle(req, res) {
  const path = req.url.split('?')[0];
  try {
    if (path.startsWith('/__test/')) return await handleControl(req, res, path);
    if (/^\/interaction\/[^/]+$/.test(path) && req.method === 'GET') return await handleInteraction(req, res);
    return current.handler(req, res);
  } catch (err) {
    process.stderr.write(`request ${req.method} ${req.url} failed: ${err.stack ?? err}\n`);
    if (!res.headersSent) return sendText(res, 500, `internal error: ${err.message}`);
    res.end();
  }
}

await firstKeys;

const server = http.createServer((req, res) => { handle(req, res); });
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(args.port, HOST, resolve);
});
const { port } = server.address();
issuer = `http://${HOST}:${port}`;
current = buildProvider();

process.stderr.write(`oidc test provider ready in ${Math.round(performance.now() - started)} ms at ${issuer}\n`);
process.stdout.write(`READY ${issuer}\n`);
