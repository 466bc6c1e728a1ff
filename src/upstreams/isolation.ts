import type { UpstreamConfig } from '../config/schema.ts';
import type { HandlerContext } from '../tools/api.ts';

export type Isolation = 'session' | 'subject' | 'shared';

/** Unless configured: HTTP upstreams give each session its own upstream session; stdio, each subject its process. */
export function isolationOf(config: UpstreamConfig): Isolation {
  return config.isolation ?? (config.transport === 'http' ? 'session' : 'subject');
}

/** Whose connection a caller's calls use, as `isolation` says; without a session or subject, `anonymous`. */
export function connectionKey(isolation: Isolation, caller: HandlerContext): string {
  // A 2026-07-28 client has no session, and declares its capabilities per request.
  if (caller.era === 'modern') return `modern:${caller.subject ?? 'anonymous'}`;
  const session =
    caller.sessionId === undefined ? undefined : `session:${caller.sessionId}|${caller.subject ?? ''}`;
  const subject = caller.subject === undefined ? undefined : `subject:${caller.subject}`;
  const key = isolation === 'session' ? (session ?? subject) : (subject ?? session);
  return key ?? 'anonymous';
}

/** Whether a connection key belongs to a downstream session (closed when that session ends). */
export function isSessionKey(key: string, sessionId: string): boolean {
  return key.startsWith(`session:${sessionId}|`);
}

/** Whose subscription it is on a connection: the session's, else the subject's. */
export function subscriberKey(caller: HandlerContext): string {
  return caller.sessionId ?? caller.subject ?? 'anonymous';
}
