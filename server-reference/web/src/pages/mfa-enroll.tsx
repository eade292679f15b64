// Forced MFA enrollment (SPEC 2): the user's role requires MFA and none is enrolled, so every
// other route answers 428 until this is done. Password step-up, then the TOTP secret shown
// as text (and its otpauth URI), a first code to confirm, the recovery codes shown once, and
// a fresh login with the second factor (enabling MFA ends the current session).
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { post } from '../api';
import { endLocally, logout } from '../session';
import type { MfaConfirm, MfaSetup } from '../types';
import { ErrorBox, Field, SecretOnce, useAction } from '../ui';

export function MfaEnrollPage({ email }: { email: string }): JSX.Element {
  const [password, setPassword] = useState('');
  const [setup, setSetup] = useState<MfaSetup | null>(null);
  const [code, setCode] = useState('');
  const [done, setDone] = useState<MfaConfirm | null>(null);
  const { busy, error, run: act } = useAction();

  const run = async (e: Event, step: () => Promise<void>): Promise<void> => {
    e.preventDefault();
    await act(step);
  };

  if (done) {
    return (
      <main class="login wide">
        <h1>Two-factor authentication is on</h1>
        {done.recoveryCodes.length ? (
          <SecretOnce label="Recovery codes" value={done.recoveryCodes.join('\n')} onDone={() => endLocally('MFA enabled. Log in again with your authenticator code.')} />
        ) : null}
        <p>Your session ended when MFA was enabled: log in again with a code.</p>
        <button type="button" class="primary" onClick={() => endLocally('MFA enabled. Log in again with your authenticator code.')}>
          Log in again
        </button>
      </main>
    );
  }

  return (
    <main class="login wide">
      <h1>Set up two-factor authentication</h1>
      <p>Your role requires a second factor for <strong>{email}</strong> before you can use the console.</p>
      {setup === null ? (
        <form aria-label="Confirm your password" onSubmit={(e) => void run(e, async () => {
          const s = await post<MfaSetup>('/api/v1/auth/mfa/setup', { password });
          setPassword('');
          setSetup(s);
        })}>
          <Field label="Password">
            <input type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </Field>
          <ErrorBox error={error} />
          <div class="actions">
            <button type="button" onClick={() => void logout()}>Log out</button>
            <button type="submit" class="primary" disabled={busy}>Continue</button>
          </div>
        </form>
      ) : (
        <form aria-label="Confirm the authenticator" onSubmit={(e) => void run(e, async () => {
          setDone(await post<MfaConfirm>('/api/v1/auth/mfa/confirm', { code: code.replace(/\s+/g, '') }));
        })}>
          <p>Add this account to your authenticator app with the secret key (or the URI), then enter the code it shows.</p>
          <dl class="facts">
            <dt>Secret key</dt>
            <dd><code data-testid="totp-secret">{setup.secret}</code></dd>
            <dt>otpauth URI</dt>
            <dd><code class="wrap" data-testid="totp-uri">{setup.otpauthUri}</code></dd>
          </dl>
          <Field label="Authentication code">
            <input name="code" autocomplete="one-time-code" inputMode="numeric" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </Field>
          <ErrorBox error={error} />
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>Enable MFA</button>
          </div>
        </form>
      )}
    </main>
  );
}
