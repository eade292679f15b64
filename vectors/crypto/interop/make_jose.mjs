// Mints JWTs with node `jose` (an independent implementation) for Breeze to verify.
// Run: node make_jose.mjs   -> writes ../jwt_jose.json
import { SignJWT } from 'jose';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inputs, vectorsDir } from './common.mjs';

const j = inputs.jwt;
const enc = new TextEncoder();

async function mint({ kid, secret, type, extra, ttl }) {
  const header = kid ? { alg: 'HS256', typ: 'JWT', kid } : { alg: 'HS256', typ: 'JWT' };
  return new SignJWT({ ...j.claims, type, ...extra })
    .setProtectedHeader(header)
    .setIssuedAt(j.now)
    .setExpirationTime(j.now + ttl)
    .setIssuer('breeze')
    .setAudience('breeze-api')
    .sign(enc.encode(secret));
}

const tokens = [];
for (const [kid, secret] of Object.entries(j.keys)) {
  tokens.push({ name: `access kid ${kid}`, kid, type: 'access',
    token: await mint({ kid, secret, type: 'access', extra: { sid: j.sid }, ttl: 900 }) });
  tokens.push({ name: `refresh kid ${kid}`, kid, type: 'refresh',
    token: await mint({ kid, secret, type: 'refresh', extra: { fam: j.fam, jti: j.jti }, ttl: 604800 }) });
}
tokens.push({ name: 'access legacy (no kid)', kid: null, type: 'access',
  token: await mint({ kid: null, secret: j.legacySecret, type: 'access', extra: { sid: j.sid }, ttl: 900 }) });

const out = {
  source: 'node jose 6.2.17 SignJWT (HS256), made by vectors/crypto/interop/make_jose.mjs from inputs.json',
  now: j.now,
  tokens,
};
writeFileSync(path.join(vectorsDir, 'jwt_jose.json'), JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${tokens.length} jose tokens`);
