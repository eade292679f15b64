// Login (SPEC 2, 15): e-mail and password, then a TOTP or recovery code when the account
// has MFA. Nothing typed here is stored; the challenge token lives in component state only.
// A single sign-on (SPEC 16) lands on `/?sso=<outcome>`: `ok` is a session the start-up
// refresh already restored; `mfa` asks for the Breeze code here (the challenge is the
// server's HttpOnly cookie); anything else is the refusal's code, shown as text.
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { login, verifyMfa, verifySsoMfa } from '../session';

/**
 * The `?sso=` outcome the server redirected to (`ok`, `mfa`, or `error` with `&reason=<code>`),
 * read once and removed from the address; a refusal is its reason code.
 */
function ssoOutcome(): string | null {
  const url = new URL(location.href);
  const outcome = url.searchParams.get('sso');
  if (outcome === null) return null;
  const reason = url.searchParams.get('reason');
  url.searchParams.delete('sso');
  url.searchParams.delete('reason');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  const code = outcome === 'error' ? reason : outcome;
  return code !== null && /^[a-z_]{1,64}$/.test(code) ? code : 'sso_failed';
}
import { ErrorBox, Field, useAction } from '../ui';

export function LoginPage({ notice }: { notice?: string | undefined }): JSX.Element {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sso] = useState(ssoOutcome);
  // the SSO MFA step has no challenge token in the page: a marker stands for it
  const [mfaToken, setMfaToken] = useState<string | null>(sso === 'mfa' ? 'sso' : null);
  const [code, setCode] = useState('');
  const { busy, error, setError, run } = useAction();

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const ok = await run(async () => {
      if (mfaToken === null) {
        const r = await login(email.trim(), password);
        setPassword('');
        if (r.kind === 'mfa') setMfaToken(r.mfaToken);
      } else {
        const c = code.replace(/\s+/g, '');
        if (sso === 'mfa' && mfaToken === 'sso') await verifySsoMfa(c);
        else await verifyMfa(mfaToken, c);
      }
    });
    if (!ok && mfaToken !== null) setCode('');
  };

  return (
    <main class="login">
      <h1>Breeze console</h1>
      {notice ? <p class="notice" role="status">{notice}</p> : null}
      {sso !== null && sso !== 'ok' && sso !== 'mfa' ? (
        <p class="notice" role="alert">Single sign-on was refused: {sso}</p>
      ) : null}
      <form onSubmit={(e) => void submit(e)} aria-label={mfaToken === null ? 'Log in' : 'Second factor'}>
        {mfaToken === null ? (
          <>
            <Field label="E-mail">
              <input type="email" name="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
            </Field>
            <Field label="Password">
              <input type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            </Field>
          </>
        ) : (
          <Field label="Authentication code" hint="6-digit code from your authenticator app, or a recovery code">
            <input name="code" autocomplete="one-time-code" inputMode="numeric" required autoFocus value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </Field>
        )}
        <ErrorBox error={error} />
        <div class="actions">
          {mfaToken !== null ? (
            <button type="button" onClick={() => { setMfaToken(null); setCode(''); setError(null); }}>
              Start over
            </button>
          ) : null}
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Checking…' : mfaToken === null ? 'Log in' : 'Verify'}
          </button>
        </div>
      </form>
    </main>
  );
}
