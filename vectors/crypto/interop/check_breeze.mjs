// Checks values made by Breeze (../breeze_generated.json) with independent implementations:
// JWTs with node `jose`, envelopes with Node's `crypto`. Exits non-zero on any disagreement.
import { jwtVerify, decodeProtectedHeader } from 'jose';
import { createDecipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inputs, vectorsDir } from './common.mjs';

const gen = JSON.parse(readFileSync(path.join(vectorsDir, 'breeze_generated.json'), 'utf8'));
const enc = new TextEncoder();

test('jose verifies every JWT Breeze signed', async () => {
  assert.ok(gen.jwt.length >= 3);
  for (const t of gen.jwt) {
    const { kid } = decodeProtectedHeader(t.token);
    const secret = kid ? inputs.jwt.keys[kid] : inputs.jwt.legacySecret;
    assert.equal(kid ?? null, t.kid, t.name);
    const { payload, protectedHeader } = await jwtVerify(t.token, enc.encode(secret), {
      algorithms: ['HS256'], issuer: 'breeze', audience: 'breeze-api',
      currentDate: new Date(t.now * 1000),
    });
    assert.equal(protectedHeader.alg, 'HS256');
    assert.deepEqual(payload, t.claims, t.name);
  }
});

test('jose rejects a Breeze JWT under the wrong key', async () => {
  const t = gen.jwt[0];
  await assert.rejects(jwtVerify(t.token, enc.encode('x'.repeat(48)), { algorithms: ['HS256'] }));
});

const derive = (k) => createHash('sha256').update(k, 'utf8').digest();
function open(value) {
  const e = inputs.envelope;
  let key, aad = null, body;
  if (value.startsWith('enc:v3:')) { const [, , kid, b] = value.split(':'); key = e.keys[kid]; aad = `${e.table}.${e.column}`; body = b; }
  else if (value.startsWith('enc:v2:')) { const [, , kid, b] = value.split(':'); key = e.keys[kid]; body = b; }
  else if (value.startsWith('enc:v1:')) { key = e.legacyKey; body = value.slice(7); }
  else if (value.startsWith('mfa:v1:')) { key = e.mfaKey; body = value.slice(7); }
  else throw new Error('not an envelope');
  const [iv, tag, ct] = body.split('.').map((p) => Buffer.from(p, 'base64url'));
  const d = createDecipheriv('aes-256-gcm', derive(key), iv);
  if (aad !== null) d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]).toString('utf8');
}

test('Node crypto decrypts every envelope Breeze wrote', () => {
  assert.ok(gen.envelopes.length >= 4);
  for (const v of gen.envelopes) assert.equal(open(v.value), v.plaintext, v.version);
});

test('Node crypto refuses a Breeze v3 envelope with other associated data', () => {
  const v = gen.envelopes.find((x) => x.version === 'enc:v3');
  const [, , kid, body] = v.value.split(':');
  const [iv, tag, ct] = body.split('.').map((p) => Buffer.from(p, 'base64url'));
  const d = createDecipheriv('aes-256-gcm', derive(inputs.envelope.keys[kid]), iv);
  d.setAAD(Buffer.from('other.column', 'utf8'));
  d.setAuthTag(tag);
  d.update(ct);
  assert.throws(() => d.final());
});
