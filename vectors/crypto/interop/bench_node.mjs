// Times the same operations as `cargo bench -p breeze-crypto --bench crypto` in Node (node
// jose and Node's crypto), for the ratio recorded in docs/BENCHMARKS.md.
// Run: node bench_node.mjs
import { SignJWT, jwtVerify } from 'jose';
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const results = {};
const json = process.argv.includes('--json');
function report(name, ns) {
  results[name] = ns;
  if (!json) console.log(`${name.padEnd(28)} ${ns.toFixed(0).padStart(8)} ns/op`);
}
function time(name, iters, fn) {
  for (let i = 0; i < Math.min(iters, 2000); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / iters;
  report(name, ns);
  return ns;
}
async function timeAsync(name, iters, fn) {
  for (let i = 0; i < 2000; i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await fn();
  const ns = Number(process.hrtime.bigint() - t0) / iters;
  report(name, ns);
  return ns;
}

const token = 'brz_' + randomBytes(32).toString('hex');
const stored = createHash('sha256').update(token).digest();
time('agent_token_verify', 500000, () => {
  if (!/^brz_[0-9a-f]{64}$/.test(token)) throw new Error('shape');
  timingSafeEqual(createHash('sha256').update(token).digest(), stored);
});

const secret = new TextEncoder().encode('8b1f0c5e7a2d4f6b9c3e1a0d5f7b2c4e6a8d0f1b3c5e7a9d');
const now = Math.floor(Date.now() / 1000);
const claims = { sub: crypto.randomUUID(), email: 'ana@example.com', roleId: crypto.randomUUID(),
  orgId: crypto.randomUUID(), partnerId: null, scope: 'organization', type: 'access', mfa: true,
  aep: 3, mep: 2, sid: crypto.randomUUID() };
const sign = () => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'k1' })
  .setIssuedAt(now).setExpirationTime(now + 900).setIssuer('breeze').setAudience('breeze-api').sign(secret);
const jwt = await sign();
await timeAsync('jwt_sign_access', 100000, sign);
await timeAsync('jwt_verify_access', 100000, () =>
  jwtVerify(jwt, secret, { algorithms: ['HS256'], issuer: 'breeze', audience: 'breeze-api' }));

const key = createHash('sha256').update('4f2a9c1be07d3865a1f0c2e94b7d5a3861e0f9c2b4a7d3e5f1c8b2a6e9d4f0c7').digest();
const value = 'x'.repeat(64);
const aad = Buffer.from('webhooks.secret');
function enc() {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv); c.setAAD(aad);
  const ct = Buffer.concat([c.update(value, 'utf8'), c.final()]);
  return `enc:v3:k1:${iv.toString('base64url')}.${c.getAuthTag().toString('base64url')}.${ct.toString('base64url')}`;
}
const sealed = enc();
time('secret_64b_encrypt', 300000, enc);
time('secret_64b_decrypt', 300000, () => {
  const [, , , body] = sealed.split(':');
  const [iv, tag, ct] = body.split('.').map((p) => Buffer.from(p, 'base64url'));
  const d = createDecipheriv('aes-256-gcm', key, iv); d.setAAD(aad); d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]).toString('utf8');
});

if (json) console.log(JSON.stringify(results));
