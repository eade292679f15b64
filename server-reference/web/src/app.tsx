// The application shell: session gate (login, forced MFA enrollment), navigation and routes.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get } from './api';
import { can, MeContext } from './me';
import { AuditPage } from './pages/audit';
import { DevicePage } from './pages/device';
import { DevicesPage } from './pages/devices';
import { KeysPage } from './pages/keys';
import { LoginPage } from './pages/login';
import { MfaEnrollPage } from './pages/mfa-enroll';
import { SessionsPage } from './pages/sessions';
import { lazyPage } from './lazy';
import { href, useRoute, type Route } from './router';
import { logout, onSession, sessionState } from './session';
import type { Me } from './types';
import { ErrorBox, Loading, useAsync } from './ui';

const TerminalPage = lazyPage(() => import('./pages/terminal').then((m) => m.TerminalPage));
const RecordingPage = lazyPage(() => import('./pages/recording').then((m) => m.RecordingPage));
const ApprovalsPage = lazyPage(() => import('./pages/approvals').then((m) => m.ApprovalsPage));
const WebhooksPage = lazyPage(() => import('./pages/webhooks').then((m) => m.WebhooksPage));

interface NavItem {
  path: string;
  label: string;
  perm: string;
}

const NAV: NavItem[] = [
  { path: 'devices', label: 'Devices', perm: 'devices:read' },
  { path: 'audit', label: 'Audit', perm: 'audit:read' },
  { path: 'keys', label: 'Keys', perm: 'organizations:read' },
  { path: 'approvals', label: 'Approvals', perm: 'approvals:decide' },
  { path: 'webhooks', label: 'Webhooks', perm: 'webhooks:read' },
  { path: 'sessions', label: 'Sessions', perm: '' },
];

function Page({ route, me }: { route: Route; me: Me }): JSX.Element {
  const [first, second] = route.parts;
  switch (first) {
    case undefined:
    case 'devices':
      return second ? <DevicePage id={second} /> : <DevicesPage route={route} />;
    case 'audit':
      return <AuditPage route={route} />;
    case 'keys':
      return <KeysPage route={route} />;
    case 'sessions':
      return <SessionsPage />;
    case 'terminal':
      return <TerminalPage id={second ?? ''} />;
    case 'recordings':
      return <RecordingPage id={second ?? ''} />;
    case 'approvals':
      return <ApprovalsPage me={me} />;
    case 'webhooks':
      return <WebhooksPage route={route} />;
    default:
      return <p class="error" role="alert">Unknown page.</p>;
  }
}

function Shell({ email, userId }: { email: string; userId: string }): JSX.Element {
  const route = useRoute();
  const me = useAsync(() => get<Me>('/api/v1/users/me'), [userId]);
  if (me.loading && !me.data) return <Loading what="your profile" />;
  if (!me.data) return <main><ErrorBox error={me.error} /><button type="button" onClick={() => void logout()}>Log out</button></main>;
  if (me.data.mfa.required && !me.data.mfa.enabled) return <MfaEnrollPage email={email} />;
  const current = route.parts[0] ?? 'devices';
  const section = current === 'terminal' ? 'devices' : current === 'recordings' ? 'audit' : current;
  const meData = me.data;
  return (
    <MeContext.Provider value={meData}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <span class="brand">Breeze</span>
        <nav aria-label="Main">
          {NAV.filter((n) => !n.perm || can(meData, n.perm)).map((n) => (
            <a key={n.path} href={href(n.path)} aria-current={section === n.path ? 'page' : undefined}>{n.label}</a>
          ))}
        </nav>
        <span class="who" title={meData.scope}>{meData.email}</span>
        <button type="button" onClick={() => void logout()}>Log out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} me={meData} />
      </main>
    </MeContext.Provider>
  );
}

export function App(): JSX.Element {
  const [s, setS] = useState(sessionState());
  useEffect(() => {
    const off = onSession(() => setS(sessionState()));
    setS(sessionState()); // a change before this effect ran (restore() may settle first)
    return off;
  }, []);
  if (s.kind === 'loading') return <Loading what="the console" />;
  if (s.kind === 'anonymous') return <LoginPage notice={s.notice} />;
  return <Shell key={s.user.id} email={s.user.email} userId={s.user.id} />;
}
