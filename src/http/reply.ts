import type { ServerResponse } from 'node:http';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { type ErrorCode, httpStatusOf, jsonRpcError } from '../errors/catalog.ts';

/**
 * Runs the code that finishes a response outside the request's trace context. A keep-alive connection
 * outlives its request, and Node arms the connection's idle timer as the response finishes, in the
 * context current at `res.end`: in the request's, that timer would hold the request's spans, and all
 * they reference, until the connection's next request or its close, and every young-generation GC
 * would copy them again.
 */
export function finishOutsideRequestContext(finish: () => void): void {
  context.with(ROOT_CONTEXT, finish);
}

/** Ends an HTTP exchange with a catalog error as a JSON-RPC envelope. */
export function replyError(
  res: ServerResponse,
  code: ErrorCode,
  options: { id?: string | number | null; detail?: string; headers?: Record<string, string | number> } = {},
): void {
  if (res.headersSent) {
    finishOutsideRequestContext(() => res.end());
    return;
  }
  const body = JSON.stringify(jsonRpcError(code, options.id ?? null, options.detail));
  finishOutsideRequestContext(() =>
    res
      .writeHead(httpStatusOf(code), {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...options.headers,
      })
      .end(body),
  );
}
