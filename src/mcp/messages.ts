import type {
  JSONRPCNotification,
  JSONRPCRequest,
  JSONRPCResponse,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { isObject } from '../json/object.ts';

/** The shape checks the SDK's Protocol applies when it dispatches, done once, without schema parsing. */
export type Classified =
  | { kind: 'request'; message: JSONRPCRequest }
  | { kind: 'notification'; message: JSONRPCNotification }
  | { kind: 'response'; message: JSONRPCResponse }
  | { kind: 'invalid'; id: RequestId | null; reason: string };

function isRequestId(value: unknown): value is RequestId {
  return typeof value === 'string' || Number.isSafeInteger(value);
}

export function classify(value: unknown): Classified {
  if (!isObject(value)) return { kind: 'invalid', id: null, reason: 'a message must be a JSON object' };
  const id = isRequestId(value.id) ? value.id : null;
  if (value.jsonrpc !== '2.0') return { kind: 'invalid', id, reason: 'jsonrpc must be "2.0"' };
  if ('method' in value) {
    if (typeof value.method !== 'string') return { kind: 'invalid', id, reason: 'method must be a string' };
    if (value.params !== undefined && !isObject(value.params)) {
      return { kind: 'invalid', id, reason: 'params must be an object' };
    }
    if (value.params !== undefined && value.params._meta !== undefined && !isObject(value.params._meta)) {
      return { kind: 'invalid', id, reason: 'params._meta must be an object' };
    }
    if (!('id' in value)) return { kind: 'notification', message: value as never };
    if (id === null) return { kind: 'invalid', id: null, reason: 'id must be a string or an integer' };
    return { kind: 'request', message: value as never };
  }
  if (id !== null && isObject(value.result)) return { kind: 'response', message: value as never };
  if (
    isObject(value.error) &&
    Number.isSafeInteger(value.error.code) &&
    typeof value.error.message === 'string'
  ) {
    return { kind: 'response', message: value as never };
  }
  return { kind: 'invalid', id, reason: 'not a request, notification or response' };
}

/** A key that tells `1` from `"1"`, for maps keyed by client request ids. */
export function requestIdKey(id: RequestId): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}
