import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Principal } from '../security/principal.ts';
import type { Authenticator } from './auth.ts';
import { replyError } from './reply.ts';

/** The scope a principal needs for the admin views (the live view, /logs) when auth is on. */
export const adminScope = 'admin';

/** The cookie the page's own requests carry the bearer token in (a browser cannot add the header). */
export const tokenCookie = 'lookout_live_token';

/**
 * Who may see an admin view. `open`: anyone who reaches it without auth; `admin`: auth is on, a
 * principal with the admin scope; `off`: not served at all.
 */
export type AdminAccess = 'open' | 'admin' | 'off';

/** The live view: open on a loopback listener without auth, off on any other listener without auth. */
export function liveAccess(listenerIsLoopback: boolean, authEnabled: boolean): AdminAccess {
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
  access: AdminAccess,
  authenticator: Authenticator,
  authorization: string | undefined,
): Promise<AccessVerdict> {
  if (access === 'open') return { ok: true };
  if (access === 'off') return { ok: false, status: 403, reason: 'not served on this listener' };
  const verdict = await authenticator.verify(authorization);
  if (!verdict.ok) return { ok: false, status: 401, reason: verdict.reason };
  if (!hasAdminScope(verdict.principal))
    return { ok: false, status: 403, reason: `needs the ${adminScope} scope` };
  return { ok: true };
}

/** Middleware that lets through only what `access` allows: 401 with a challenge, or 403. */
export function adminGuard(access: AdminAccess, authenticator: Authenticator): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const verdict = await checkAccess(access, authenticator, authorizationOf(req));
    if (verdict.ok) return next();
    if (verdict.status === 401) {
      replyError(res, 'UNAUTHORIZED', {
        detail: verdict.reason,
        headers: { 'www-authenticate': `Bearer scope="${adminScope}"` },
      });
    } else {
      replyError(res, 'SCOPE_REQUIRED', { detail: verdict.reason });
    }
  };
}
