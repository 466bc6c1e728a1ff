import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What a session carries in its id, so that any replica holding the key can serve it. */
export interface SessionClaims {
  readonly protocolVersion: string;
  readonly clientCapabilities: unknown;
  readonly clientInfo: unknown;
  readonly createdAt: number;
}

const prefix = 'v1.';
const additionalData = Buffer.from('lookout-session-v1');
const ivBytes = 12;
const tagBytes = 16;

/**
 * Session ids that are the session's state, encrypted and authenticated with AES-256-GCM under keys
 * the replicas share. The first key makes new ids; every key opens them, so keys can be rotated by
 * adding the new one first and removing the old one once its sessions have ended.
 */
export class SessionTokens {
  readonly #keys: readonly Buffer[];

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('session tokens need at least one key');
    this.#keys = keys;
  }

  issue(claims: SessionClaims): string {
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0] as Buffer, iv);
    cipher.setAAD(additionalData);
    const body = Buffer.concat([cipher.update(JSON.stringify(claims), 'utf8'), cipher.final()]);
    return `${prefix}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** The claims of an id made with one of the keys; undefined for anything else (tampered, foreign, garbage). */
  open(id: string): SessionClaims | undefined {
    if (!id.startsWith(prefix)) return undefined;
    const raw = Buffer.from(id.slice(prefix.length), 'base64url');
    if (raw.length <= ivBytes + tagBytes) return undefined;
    const iv = raw.subarray(0, ivBytes);
    const tag = raw.subarray(ivBytes, ivBytes + tagBytes);
    const body = raw.subarray(ivBytes + tagBytes);
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(additionalData);
        decipher.setAuthTag(tag);
        const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
        const claims = JSON.parse(plain) as SessionClaims;
        if (typeof claims.protocolVersion === 'string' && typeof claims.createdAt === 'number') return claims;
      } catch {
        // Not this key, or not authentic: try the next one.
      }
    }
    return undefined;
  }
}
