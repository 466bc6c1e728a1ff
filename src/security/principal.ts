import { createHash } from 'node:crypto';

/** Who sent a request, once authenticated: the token's subject and the scopes it grants. */
export interface Principal {
  readonly subject: string;
  readonly scopes: readonly string[];
}

/** How a subject may appear in telemetry: never itself, only a short hash. */
export function subjectHash(subject: string): string {
  return createHash('sha256').update(subject).digest('hex').slice(0, 16);
}
