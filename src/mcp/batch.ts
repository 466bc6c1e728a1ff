import type { Refusal } from './exchange.ts';
import { type Classified, classify } from './messages.ts';

type InitializeRequest = Extract<Classified, { kind: 'request' }>;

/** The messages of one POST body. */
export interface Posted {
  /** Whether the body was a JSON-RPC batch (an array), which is answered with an array. */
  readonly batch: boolean;
  readonly messages: readonly Classified[];
  /** The initialize request, which must come alone. */
  readonly initialize: InitializeRequest | undefined;
}

/** Splits a parsed POST body into classified messages, or refuses it. */
export function readPosted(body: unknown): Posted | Refusal {
  const batch = Array.isArray(body);
  const raw: unknown[] = batch ? (body as unknown[]) : [body];
  if (raw.length === 0) return { code: 'INVALID_REQUEST', detail: 'empty batch' };
  const messages: Classified[] = raw.map(classify);
  // A lone invalid message is refused here; in a batch each invalid entry gets its own error in the
  // reply array (JSON-RPC 2.0, section 6), which the transport adds.
  const [single] = messages;
  if (!batch && single?.kind === 'invalid')
    return { code: 'INVALID_REQUEST', id: single.id, detail: single.reason };
  const initialize = messages.find(
    (m): m is InitializeRequest => m.kind === 'request' && m.message.method === 'initialize',
  );
  if (initialize && messages.length > 1) return { code: 'INITIALIZE_NOT_ALONE' };
  return { batch, messages, initialize };
}
