// Shared inputs for the interop scripts: the same keys and claims the Rust generator uses.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const vectorsDir = path.resolve(here, '..');
export const inputs = JSON.parse(readFileSync(path.join(here, 'inputs.json'), 'utf8'));
