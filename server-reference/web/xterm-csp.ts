// Build-time patch of @xterm/xterm 6.0.0 for the console's strict CSP (no 'unsafe-inline' in
// style-src). xterm's DOM renderer injects three <style> elements (theme, cell dimensions,
// scrollbar) and writes truecolor cell colours with setAttribute('style'); the browser refuses
// both under `style-src 'self'` (and reports a violation). This plugin rewrites exactly those
// call sites in lib/xterm.mjs to the CSSOM shims of src/terminal/csp-shim.ts: style text goes
// into a constructable stylesheet adopted by the document, cell colours into
// element.style.setProperty. The match counts are checked: an xterm upgrade that moves a call
// site fails the build instead of silently bringing a CSP violation back.
import type { Plugin } from 'vite';

const SHIM = '/src/terminal/csp-shim.ts';

const STYLE_ELEMENT = /([\w$.]+)\.createElement\("style"\)/g;
const ADD_STYLE =
  /_addStyle\(([\w$]+),([\w$]+)\)\{\1\.setAttribute\("style",`\$\{\1\.getAttribute\("style"\)\|\|""\}\$\{\2\};`\)\}/g;

function replaceCounted(code: string, re: RegExp, want: number, by: (m: string, ...g: string[]) => string): string {
  let n = 0;
  const out = code.replace(re, (m: string, ...g: string[]) => {
    n += 1;
    return by(m, ...g);
  });
  if (n !== want) {
    throw new Error(`xterm-csp: expected ${want} match(es) of ${re.source} in @xterm/xterm, found ${n}`);
  }
  return out;
}

export function xtermCsp(root: string): Plugin {
  return {
    name: 'breeze-xterm-csp',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]@xterm[\\/]xterm[\\/]lib[\\/]xterm\.mjs$/.test(id.split('?')[0] ?? '')) return null;
      let out = replaceCounted(code, STYLE_ELEMENT, 3, (_m, doc) => `__breezeCspStyle(${doc})`);
      out = replaceCounted(out, ADD_STYLE, 1, (_m, el, decl) => `_addStyle(${el},${decl}){__breezeCspAddStyle(${el},${decl})}`);
      if (/setAttribute\("style"|createElement\("style"\)|\.innerHTML\s*=/.test(out)) {
        throw new Error('xterm-csp: an inline-style or innerHTML call site is left in @xterm/xterm');
      }
      const shim = `${root}${SHIM}`;
      return {
        code: `import { cspStyleElement as __breezeCspStyle, cspAddStyle as __breezeCspAddStyle } from ${JSON.stringify(shim)};\n${out}`,
        map: null,
      };
    },
  };
}
