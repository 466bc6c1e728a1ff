import type {
  JSONRPCErrorResponse,
  JSONRPCMessage,
  JSONRPCRequest,
  JSONRPCResponse,
} from '@modelcontextprotocol/sdk/types.js';
import { isObject } from '../json/object.ts';

function isId(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'number';
}

/**
 * A message from an upstream, checked by its JSON-RPC envelope only: what it carries is checked where
 * it is read (a request's or notification's handler schema, a response's result schema), and a result
 * that is only relayed is not checked at all. `JSONRPCMessageSchema.parse` copied every message,
 * result included, through a schema union on every proxied call. Throws on anything else.
 */
export function jsonRpcMessage(value: unknown): JSONRPCMessage {
  if (isObject(value) && value.jsonrpc === '2.0') {
    if (typeof value.method === 'string') {
      if (value.params === undefined || isObject(value.params)) return value as JSONRPCMessage;
    } else if (isId(value.id) && isObject(value.result)) {
      return value as JSONRPCMessage;
    } else if (
      (value.id === undefined || isId(value.id)) &&
      isObject(value.error) &&
      typeof value.error.code === 'number' &&
      typeof value.error.message === 'string'
    ) {
      return value as JSONRPCMessage;
    }
  }
  throw new Error('not a JSON-RPC 2.0 message');
}

/*
 * What kind a message already known to be JSON-RPC is, by its shape alone: the SDK's `isJSONRPC*`
 * guards run a schema per message, on every message of every proxied call.
 */
export function isRequest(message: JSONRPCMessage): message is JSONRPCRequest {
  return 'method' in message && 'id' in message;
}

export function isResponse(message: JSONRPCMessage): message is JSONRPCResponse {
  return !('method' in message);
}

export function isErrorResponse(message: JSONRPCMessage): message is JSONRPCErrorResponse {
  return !('method' in message) && 'error' in message;
}
