// Shared UI pieces: loading and error states, confirm dialogs, copy button, pager. Every
// string is rendered as a text child (Preact escapes it); nothing here builds HTML.
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './errors';
import type { Page } from './types';

export function describe(e: unknown): string {
  if (e instanceof ApiError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}

export function ErrorBox({ error }: { error: unknown }): JSX.Element | null {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  );
}

export function Loading({ what }: { what?: string }): JSX.Element {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading{what ? ` ${what}` : ''}…
    </p>
  );
}

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change; stale answers of earlier runs are dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  useEffect(() => {
    const mine = ++run.current;
    setLoading(true);
    setError(null);
    load().then(
      (d) => {
        if (run.current !== mine) return;
        setData(d);
        setLoading(false);
      },
      (e: unknown) => {
        if (run.current !== mine) return;
        setError(e);
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Cursor pagination: the page of `cursor`, and a stack of earlier cursors for "Previous". */
export function usePager(resetKey: string): {
  cursor: string | undefined;
  next: (c: string) => void;
  prev: () => void;
  hasPrev: boolean;
  page: number;
} {
  const [stack, setStack] = useState<(string | undefined)[]>([undefined]);
  useEffect(() => setStack([undefined]), [resetKey]);
  return {
    cursor: stack[stack.length - 1],
    next: (c) => setStack((s) => [...s, c]),
    prev: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    hasPrev: stack.length > 1,
    page: stack.length,
  };
}

export function Pager<T>({ page, pager }: { page: Page<T> | undefined; pager: ReturnType<typeof usePager> }): JSX.Element {
  const nextCursor = page?.nextCursor;
  return (
    <nav class="pager" aria-label="Pagination">
      <button type="button" onClick={pager.prev} disabled={!pager.hasPrev}>
        ← Previous
      </button>
      <span>Page {pager.page}</span>
      <button type="button" onClick={() => nextCursor && pager.next(nextCursor)} disabled={!nextCursor}>
        Next →
      </button>
    </nav>
  );
}

/**
 * The state of an action a control starts: `busy` while it runs, the `error` of its last run.
 * `run(step)` clears the error, awaits `step` and keeps what it threw (it never throws);
 * it answers whether the step succeeded.
 */
export function useAction(): {
  busy: boolean;
  error: unknown;
  setError: (e: unknown) => void;
  run: (step: () => Promise<void>) => Promise<boolean>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (step: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await step();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** A button that asks for confirmation in a modal <dialog> before running `onConfirm`. */
export function ConfirmButton(props: {
  label: string;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => Promise<void>;
}): JSX.Element {
  const dialog = useRef<HTMLDialogElement>(null);
  const { busy, error, setError, run } = useAction();
  const confirm = async (): Promise<void> => {
    await run(async () => {
      await props.onConfirm();
      dialog.current?.close();
    });
  };
  return (
    <>
      <button
        type="button"
        class={props.danger ? 'danger' : ''}
        disabled={props.disabled}
        onClick={() => {
          setError(null);
          dialog.current?.showModal();
        }}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={props.title}>
        <h2>{props.title}</h2>
        <div>{props.children}</div>
        <ErrorBox error={error} />
        <div class="actions">
          <button type="button" onClick={() => dialog.current?.close()} disabled={busy}>
            Cancel
          </button>
          <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={() => void confirm()} disabled={busy}>
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** A secret shown once: the value as selectable text and a copy button. */
export function SecretOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }): JSX.Element {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section class="secret" aria-label={label}>
      <h3>{label}</h3>
      <p>This value is shown once. Store it now: the server keeps only its hash.</p>
      <code class="secret-value" data-testid="secret-value">
        {value}
      </code>
      <div class="actions">
        <button type="button" class="primary" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" onClick={onDone}>
          I have stored it
        </button>
        <span role="status">
          {copied === 'yes' ? 'Copied.' : copied === 'failed' ? 'Copy failed: select the text and copy it.' : ''}
        </span>
      </div>
    </section>
  );
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }): JSX.Element {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
      {hint ? <small>{hint}</small> : null}
    </label>
  );
}

export function StatusBadge({ status }: { status: string }): JSX.Element {
  const known = ['online', 'offline', 'quarantined', 'decommissioned', 'pending', 'sent', 'completed', 'failed', 'timeout', 'active', 'revoked', 'success', 'failure', 'denied', 'approved', 'executed', 'expired'];
  return <span class={`badge badge-${known.includes(status) ? status : 'other'}`}>{status}</span>;
}
