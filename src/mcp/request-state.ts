import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';

/** What a requestState is bound to: the request it continues and who sent it. */
export interface StateBinding {
  readonly method: string;
  /** The tool or prompt name, or the resource URI. */
  readonly name: string;
  readonly args: unknown;
  /** The authenticated subject, or '' when the request was not authenticated. */
  readonly principal: string;
}

interface Sealed {
  readonly binding: string;
  readonly expiresAt: number;
  readonly answers: Record<string, unknown>;
  /** An upstream's own requestState, carried for the gateway's next call to it. */
  readonly relayed?: string;
}

/** What a requestState carries: the answers gathered, and an upstream's own state when one asked. */
export interface OpenedState {
  readonly answers: Record<string, unknown>;
  readonly relayed: string | undefined;
}

const prefix = 'rs1.';
const additionalData = Buffer.from('lookout-request-state-v1');
const ivBytes = 12;
const tagBytes = 16;

function digestOf(binding: StateBinding): string {
  return createHash('sha256')
    .update(stringify([binding.method, binding.name, binding.args ?? {}, binding.principal]) ?? '')
    .digest('base64url');
}

/**
 * The `requestState` of a 2026-07-28 InputRequiredResult: the answers gathered in earlier rounds,
 * encrypted and authenticated with AES-256-GCM (the client must neither read nor change them), bound
 * to the request's method, target, arguments and caller, and expiring. Replicas that share the keys
 * accept each other's states; the first key seals, every key opens.
 */
export class RequestStates {
  readonly #keys: readonly Buffer[];
  readonly #ttlMs: number;

  constructor(keys: readonly Buffer[], ttlSeconds: number) {
    if (keys.length === 0) throw new Error('request states need at least one key');
    this.#keys = keys;
    this.#ttlMs = ttlSeconds * 1000;
  }

  seal(binding: StateBinding, answers: Record<string, unknown>, relayed?: string): string {
    const sealed: Sealed = {
      binding: digestOf(binding),
      expiresAt: Date.now() + this.#ttlMs,
      answers,
      ...(relayed !== undefined && { relayed }),
    };
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0] as Buffer, iv);
    cipher.setAAD(additionalData);
    const body = Buffer.concat([cipher.update(JSON.stringify(sealed), 'utf8'), cipher.final()]);
    return `${prefix}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** The answers a state carries, or undefined when it is not one of ours, was changed, expired or belongs to another request. */
  open(state: string, binding: StateBinding): Record<string, unknown> | undefined {
    return this.openState(state, binding)?.answers;
  }

  /** `open`, with the upstream state sealed alongside the answers. */
  openState(state: string, binding: StateBinding): OpenedState | undefined {
    if (!state.startsWith(prefix)) return undefined;
    const raw = Buffer.from(state.slice(prefix.length), 'base64url');
    if (raw.length <= ivBytes + tagBytes) return undefined;
    for (const key of this.#keys) {
      const sealed = this.#decrypt(key, raw);
      if (!sealed) continue;
      if (sealed.expiresAt < Date.now() || sealed.binding !== digestOf(binding)) return undefined;
      return { answers: sealed.answers, relayed: sealed.relayed };
    }
    return undefined;
  }

  #decrypt(key: Buffer, raw: Buffer): Sealed | undefined {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, ivBytes));
      decipher.setAAD(additionalData);
      decipher.setAuthTag(raw.subarray(ivBytes, ivBytes + tagBytes));
      const text = Buffer.concat([decipher.update(raw.subarray(ivBytes + tagBytes)), decipher.final()]);
      return JSON.parse(text.toString('utf8')) as Sealed;
    } catch {
      return undefined;
    }
  }
}
