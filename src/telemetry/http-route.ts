import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';

/**
 * Names the route of the HTTP request being handled, for the HTTP server span's name and `http.route`
 * (span and `http.server.request.duration`). The HTTP server span (http-server.ts) reads it when the
 * response ends; Lookout sets it itself instead of running the Express instrumentation, whose
 * per-handler spans cost much of the throughput and told nothing the MCP span does not
 * (docs/performance.md has the measurement).
 */
export function nameHttpRoute(route: string): void {
  const rpc = getRPCMetadata(context.active());
  if (rpc?.type === RPCType.HTTP) rpc.route = route;
}
