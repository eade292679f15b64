// Mints OpenID Connect ID tokens with node `jose` (an independent implementation) for
// Breeze's ID-token verification (breeze-crypto `oidc`, SPEC 16) to replay.
// Run: node make_oidc_jose.mjs   -> writes ../oidc_jose.json
// Each case: the JWKS the verifier trusts, the token, the policy, the nonce, "now", and the
// expected outcome ("ok" or the stable error code).
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { vectorsDir } from './common.mjs';

const issuer = 'https://idp.example/tenant-a';
const clientId = 'breeze-client';
const nonce = 'n-0S6_WzA2Mj';
const now = 1796428800; // 2026-12-04T00:00:00Z

async function key(alg, kid, opts = {}) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...opts });
  const jwk = await exportJWK(publicKey);
  return { alg, kid, privateKey, jwk: { ...jwk, kid, use: 'sig', alg } };
}

const keys = {
  rs256: await key('RS256', 'rsa-1'),
  ps256: await key('PS256', 'rsa-pss-1'),
  es256: await key('ES256', 'ec-1'),
  es384: await key('ES384', 'ec384-1'),
  eddsa: await key('EdDSA', 'ed-1', { crv: 'Ed25519' }),
  rogue: await key('RS256', 'rsa-1'),
  rogueOther: await key('RS256', 'rogue-9'),
};
const jwks = { keys: [keys.rs256, keys.ps256, keys.es256, keys.es384, keys.eddsa].map((k) => k.jwk) };

const base = {
  sub: 'user-123', email: 'Alice@Acme.Example', email_verified: true, amr: ['pwd', 'otp'],
  nonce, name: 'Alice',
};

async function mint(k, { claims = {}, header = {}, iss = issuer, aud = clientId, iat = now - 10, exp = now + 300 } = {}) {
  let jwt = new SignJWT({ ...base, ...claims })
    .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT', ...header })
    .setIssuedAt(iat)
    .setExpirationTime(exp);
  if (iss !== null) jwt = jwt.setIssuer(iss);
  if (aud !== null) jwt = jwt.setAudience(aud);
  return jwt.sign(k.privateKey);
}

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const cases = [];
const add = (name, token, expect, extra = {}) => cases.push({ name, token, expect, ...extra });

for (const k of [keys.rs256, keys.ps256, keys.es256, keys.es384, keys.eddsa]) {
  add(`${k.alg} signed by the provider verifies`, await mint(k), 'ok');
}
add('no kid: the one key declared for RS256 is used',
  await mint(keys.rs256, { header: { kid: undefined } }), 'ok');
add('wrong nonce', await mint(keys.es256, { claims: { nonce: 'other' } }), 'id_token_nonce_mismatch');
add('no nonce', await mint(keys.es256, { claims: { nonce: undefined } }), 'id_token_nonce_mismatch');
add('expired (beyond the 60 s leeway)', await mint(keys.rs256, { iat: now - 3600, exp: now - 61 }), 'id_token_expired');
add('expired within the leeway', await mint(keys.rs256, { iat: now - 3600, exp: now - 30 }), 'ok');
add('issued in the future', await mint(keys.rs256, { iat: now + 600, exp: now + 900 }), 'id_token_not_yet_valid');
add('wrong audience', await mint(keys.rs256, { aud: 'another-client' }), 'id_token_wrong_audience');
add('several audiences without azp', await mint(keys.rs256, { aud: [clientId, 'other'] }), 'id_token_wrong_audience');
add('several audiences with azp', await mint(keys.rs256, { aud: [clientId, 'other'], claims: { azp: clientId } }), 'ok');
add('wrong issuer', await mint(keys.rs256, { iss: 'https://idp.example/tenant-b' }), 'id_token_wrong_issuer');
add('issuer with a trailing slash', await mint(keys.rs256, { iss: issuer + '/' }), 'id_token_wrong_issuer');
add('kid not in the key set', await mint(keys.rogueOther), 'id_token_unknown_key');
add('a rogue key using the provider key id', await mint(keys.rogue), 'id_token_bad_signature');
add('no subject', await mint(keys.es256, { claims: { sub: '' } }), 'id_token_missing_subject');
add('email not verified', await mint(keys.es256, { claims: { email_verified: false } }), 'ok', { verifiedEmail: null });
add('only pwd: not multi-factor', await mint(keys.es256, { claims: { amr: ['pwd'] } }), 'ok', { multiFactor: false });

// forged by hand: alg none, HS256 with the client secret, a crit header, ES256 header on an RSA kid
const claims = { ...base, iss: issuer, aud: clientId, iat: now - 10, exp: now + 300 };
add('alg none', `${b64({ alg: 'none' })}.${b64(claims)}.`, 'id_token_alg_not_allowed');
{
  const secret = new TextEncoder().encode('breeze-client-secret-0123456789abcdef');
  const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(secret);
  add('HS256 signed with the client secret (algorithm confusion)', hs, 'id_token_alg_not_allowed');
}
add('crit header', await mint(keys.rs256, { header: { crit: ['exp'], exp: 1 } }).catch(() => null), 'id_token_malformed');
add('ES256 header naming the RSA key', await mint({ ...keys.es256, kid: 'rsa-1' }), 'id_token_unknown_key');
add('not three parts', 'abc.def', 'id_token_malformed');
add('payload not JSON', `${b64({ alg: 'RS256', kid: 'rsa-1' })}.${Buffer.from('nope').toString('base64url')}.AAAA`, 'id_token_bad_signature');

writeFileSync(path.join(vectorsDir, 'oidc_jose.json'), JSON.stringify({
  generator: 'vectors/crypto/interop/make_oidc_jose.mjs (node jose 6.2.17)',
  issuer, clientId, nonce, now, jwks,
  cases: cases.filter((c) => c.token !== null),
}, null, 2) + '\n');
console.log(`wrote ${cases.length} cases`);
