// The user's login sessions (SPEC 16): one per refresh family, with its address and user
// agent (rendered as text), revoke one or every other one.
import type { JSX } from 'preact';
import { del, get, post, seg } from '../api';
import { ago, when } from '../format';
import { logout } from '../session';
import type { LoginSession } from '../types';
import { ConfirmButton, ErrorBox, Loading, useAsync } from '../ui';

export function SessionsPage(): JSX.Element {
  const list = useAsync(() => get<{ items: LoginSession[]; truncated: boolean }>('/api/v1/auth/sessions'), []);
  const others = list.data?.items.filter((s) => !s.current).length ?? 0;
  return (
    <section>
      <header class="page-head">
        <h1>Sessions</h1>
        <ConfirmButton label="Revoke all other sessions" title="Revoke all other sessions" confirmLabel="Revoke" danger disabled={others === 0}
          onConfirm={async () => { await post('/api/v1/auth/sessions/revoke-others'); list.reload(); }}>
          <p>Every other browser and device signed in as you is logged out now.</p>
        </ConfirmButton>
      </header>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="sessions" /> : null}
      {list.data ? (
        <table>
          <thead>
            <tr><th>Signed in</th><th>Last used</th><th>Address</th><th>Browser</th><th><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {list.data.items.map((s) => (
              <tr key={s.id}>
                <td>{when(s.createdAt)}{s.current ? <span class="badge badge-active">this session</span> : null}</td>
                <td>{ago(s.lastUsedAt)}</td>
                <td>{s.ip ?? '—'}</td>
                <td class="ua">{s.userAgent ?? '—'}</td>
                <td>
                  {s.current ? (
                    <button type="button" onClick={() => void logout()}>Log out</button>
                  ) : (
                    <ConfirmButton label="Revoke" title="Revoke this session" confirmLabel="Revoke" danger
                      onConfirm={async () => { await del(`/api/v1/auth/sessions/${seg(s.id)}`); list.reload(); }}>
                      <p>The session signed in at {when(s.createdAt)} from {s.ip ?? 'an unknown address'} ends now.</p>
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {list.data?.truncated ? <p class="muted">Only the 100 newest sessions are listed.</p> : null}
    </section>
  );
}
