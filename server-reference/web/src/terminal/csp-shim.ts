// CSSOM replacements for xterm.js's inline styles, wired in at build time by xterm-csp.ts.
// Under `style-src 'self'` a <style> element with text and a `style` attribute set with
// setAttribute are refused; a constructable stylesheet and element.style.setProperty are
// CSSOM and allowed. Nothing here accepts markup: the style text is xterm's own.

/** Stands in for `document.createElement('style')`: an inert element whose textContent feeds
 * a constructable stylesheet adopted by the document (and dropped again on remove()). */
export function cspStyleElement(doc: Document): HTMLElement {
  const el = doc.createElement('breeze-xterm-style');
  el.hidden = true;
  const sheet = new CSSStyleSheet();
  let text = '';
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  Object.defineProperty(el, 'textContent', {
    get: () => text,
    set: (v: unknown) => {
      text = v == null ? '' : String(v);
      sheet.replaceSync(text);
    },
  });
  const remove = el.remove.bind(el);
  el.remove = () => {
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
    remove();
  };
  return el;
}

/** Stands in for xterm's `_addStyle(el, "prop:value")` (truecolor and contrast colours). */
export function cspAddStyle(el: HTMLElement, decl: string): void {
  const i = decl.indexOf(':');
  if (i <= 0) return;
  el.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
}
