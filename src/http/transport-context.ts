import type { IncomingMessage, RequestListener } from 'node:http';
import { type Context, context } from '@opentelemetry/api';

const transportContexts = new WeakMap<IncomingMessage, Context>();

/**
 * Wraps the request listener to remember each request's context as it arrives: with telemetry on,
 * that is the HTTP server span's (telemetry/http-server.ts), before any framework span is made active.
 * MCP spans are parented on it, or link to it when the client sent its own trace context.
 */
export function capturingTransportContext(listener: RequestListener): RequestListener {
  return (req, res) => {
    transportContexts.set(req, context.active());
    listener(req, res);
  };
}

export function transportContextOf(req: IncomingMessage): Context {
  return transportContexts.get(req) ?? context.active();
}
