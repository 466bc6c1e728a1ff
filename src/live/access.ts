import type { IncomingMessage } from 'node:http';
import type { Authenticator } from '../http/auth.ts';
import type { Principal } from '../security/principal.ts';

/** The scope a principal needs to see the live view when auth is on. */
export const adminScope = 'admin';

/** The cookie the page's own requests carry the bearer token in (a browser cannot add the header). */
export const tokenCookie = 'lookout_live_token';

/**
 * Who may see the live view. `open`: anyone who reaches a loopback listener without auth; `admin`:
 * auth is on, a principal with the admin scope; `off`: a non-loopback listener without auth, where it
 * is not served at all.
 */
export type LiveAccess = 'open' | 'admin' | 'off';

export function liveAccess(listenerIsLoopback: boolean, authEnabled: boolean): LiveAccess {
  if (authEnabled) return 'admin';
  return listenerIsLoopback ? 'open' : 'off';
}

export type AccessVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

export function tokenFromCookie(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === tokenCookie) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** The bearer token of a request: its Authorization header, else the page's cookie. */
export function authorizationOf(req: IncomingMessage): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization;
  const token = tokenFromCookie(req.headers.cookie);
  return token === undefined ? undefined : `Bearer ${token}`;
}

export function hasAdminScope(principal: Principal | undefined): boolean {
  return principal?.scopes.includes(adminScope) === true;
}

/** Checks one request against the access mode: a verdict, which the routes map to 401 or 403. */
export async function checkAccess(
  access: LiveAccess,
  authenticator: Authenticator,
  authorization: string | undefined,
): Promise<AccessVerdict> {
  if (access === 'open') return { ok: true };
  if (access === 'off') return { ok: false, status: 403, reason: 'the live view is off on this listener' };
  const verdict = await authenticator.verify(authorization);
  if (!verdict.ok) return { ok: false, status: 401, reason: verdict.reason };
  if (!hasAdminScope(verdict.principal))
    return { ok: false, status: 403, reason: `the live view needs the ${adminScope} scope` };
  return { ok: true };
}
