import type { IncomingMessage, RequestListener } from 'node:http';
import { type Context, context } from '@opentelemetry/api';

/**
 * Kept on the request itself: a WeakMap keyed by requests gets an entry per request in a long-lived
 * table, which the garbage collector has to sweep and V8 regrows in the old generation.
 */
const transportContextKey = Symbol('lookout.transportContext');
type WithTransportContext = IncomingMessage & { [transportContextKey]?: Context };

/**
 * Wraps the request listener to remember each request's context as it arrives: with telemetry on,
 * that is the HTTP server span's (telemetry/http-server.ts), before any framework span is made active.
 * MCP spans are parented on it, or link to it when the client sent its own trace context.
 */
export function capturingTransportContext(listener: RequestListener): RequestListener {
  return (req, res) => {
    (req as WithTransportContext)[transportContextKey] = context.active();
    listener(req, res);
  };
}

export function transportContextOf(req: IncomingMessage): Context {
  return (req as WithTransportContext)[transportContextKey] ?? context.active();
}
