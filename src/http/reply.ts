import type { ServerResponse } from 'node:http';
import { type ErrorCode, httpStatusOf, jsonRpcError } from '../errors/catalog.ts';
import { finishOutsideRequestContext } from '../telemetry/outside-request-context.ts';

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
