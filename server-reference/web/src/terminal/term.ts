// One xterm.js terminal with the console's settings: DOM renderer (the only one bundled),
// no link handling, no clipboard escape sequences, title changes ignored. Sizing measures
// the font in the container (no fit addon).
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';

export function makeTerminal(disableStdin: boolean): Terminal {
  return new Terminal({
    cursorBlink: !disableStdin,
    disableStdin,
    scrollback: 5000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    allowProposedApi: false,
    theme: { background: '#10151f', foreground: '#e6e9ef' },
  });
}

/** Columns and rows that fit `box` with the terminal's cell size. */
export function fitSize(term: Terminal, box: HTMLElement): { cols: number; rows: number } {
  const screen = box.querySelector<HTMLElement>('.xterm-screen');
  const cw = screen && term.cols ? screen.clientWidth / term.cols : 8.4;
  const ch = screen && term.rows ? screen.clientHeight / term.rows : 17;
  const cols = Math.max(20, Math.min(300, Math.floor((box.clientWidth - 16) / (cw || 8.4))));
  const rows = Math.max(5, Math.min(100, Math.floor((box.clientHeight - 8) / (ch || 17))));
  return { cols, rows };
}

export function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}
