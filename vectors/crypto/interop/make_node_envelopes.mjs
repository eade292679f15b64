// Encrypts values with Node's `crypto` module following SPEC 4 (an independent
// implementation of the envelope format) for Breeze to decrypt.
// Run: node make_node_envelopes.mjs   -> writes ../envelope_node.json
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { inputs, vectorsDir } from './common.mjs';

const e = inputs.envelope;
const derive = (k) => createHash('sha256').update(k, 'utf8').digest();
const b64 = (buf) => buf.toString('base64url');

function seal(keyString, plaintext, aad) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', derive(keyString), iv);
  if (aad !== null) c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return `${b64(iv)}.${b64(c.getAuthTag())}.${b64(ct)}`;
}

const [kid, key] = Object.entries(e.keys)[0];
const aad = `${e.table}.${e.column}`;
const values = [];
for (const pt of e.plaintexts) {
  values.push({ version: 'enc:v3', plaintext: pt, value: `enc:v3:${kid}:${seal(key, pt, aad)}` });
  values.push({ version: 'enc:v2', plaintext: pt, value: `enc:v2:${kid}:${seal(key, pt, null)}` });
  values.push({ version: 'enc:v1', plaintext: pt, value: `enc:v1:${seal(e.legacyKey, pt, null)}` });
  values.push({ version: 'mfa:v1', plaintext: pt, value: `mfa:v1:${seal(e.mfaKey, pt, null)}` });
}
const out = {
  source: `Node ${process.version} crypto (aes-256-gcm, key = sha256(utf8(key string))), made by vectors/crypto/interop/make_node_envelopes.mjs from inputs.json`,
  values,
};
writeFileSync(path.join(vectorsDir, 'envelope_node.json'), JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${values.length} node envelopes`);
