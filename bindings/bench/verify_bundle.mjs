// Times auditVerifyBundle (BREEZE_BACKEND=napi|wasm) on a bundle written by the breeze-ffi
// example audit_bundle_1m.
import { readFileSync } from 'node:fs';
import { breeze, backendName } from '../js-tests/backend.mjs';

const path = process.argv[2];
const bundle = readFileSync(path);
const keys = JSON.parse(readFileSync(`${path}.keys.json`, 'utf8'));
const start = process.hrtime.bigint();
const report = breeze.auditVerifyBundle(bundle, keys);
const secs = Number(process.hrtime.bigint() - start) / 1e9;
if (!report.ok) throw new Error(JSON.stringify(report));
console.log(`${backendName} auditVerifyBundle: ${report.entries} entries in ${secs.toFixed(2)} s (${Math.round(report.entries / secs)} entries/s)`);
