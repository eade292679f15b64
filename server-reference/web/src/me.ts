// The signed-in user's profile (permissions, MFA state, home organization), loaded once per
// session from GET /api/v1/users/me and shared by the pages.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './types';

export const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside the signed-in shell');
  return me;
}

/** Whether the user holds `perm` (exact, `resource:*`, `*:action` or `*`). */
export function can(me: Me, perm: string): boolean {
  const [res, act] = perm.split(':');
  return me.permissions.some((p) => p === perm || p === '*' || p === `${res}:*` || p === `*:${act}`);
}
