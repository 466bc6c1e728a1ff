import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { BrokenCircuitError, BulkheadRejectedError } from 'cockatiel';
import { JsonRpcCode, LookoutError } from '../errors/catalog.ts';
import { values } from '../telemetry/conventions.ts';

/** A failure of the upstream itself (down, timed out, connection lost) — what the breaker counts. */
export function isUpstreamFailure(error: unknown): boolean {
  if (error instanceof LookoutError)
    return error.catalogCode === 'UPSTREAM_TIMEOUT' || error.catalogCode === 'UPSTREAM_UNAVAILABLE';
  if (error instanceof SdkError)
    return error.code === SdkErrorCode.RequestTimeout || error.code === SdkErrorCode.ConnectionClosed;
  // The upstream answered, with an error of its own.
  if (error instanceof ProtocolError) return false;
  return !(error instanceof Error && error.name === 'AbortError');
}

/**
 * A call in flight on an isolated connection that ended (its child exited, its HTTP session is gone, or
 * it was closed as hung). The next call opens a new connection; a safe call is retried on one.
 */
export class ConnectionEndedError extends LookoutError {
  constructor(upstream: string) {
    super(
      'UPSTREAM_UNAVAILABLE',
      `${upstream}: the connection ended during the call; the next call opens a new one`,
      {
        upstream,
      },
    );
  }
}

/** Whether `error` ended a call because its connection closed under it. */
export function isConnectionClosed(error: unknown): boolean {
  return error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed;
}

/**
 * Sends a request that the caller may cancel. The SDK rejects a request whose signal aborts with a
 * `RequestTimeout` error, which would count a client's cancellation (or disconnection) against the
 * upstream: its breaker opened after a few cancelled calls, and safe calls were retried. A
 * cancellation ends as an `AbortError` instead, which is no failure of the upstream. Lookout's own
 * tool deadline aborts with its catalog error as the reason, and stays a timeout.
 */
export async function cancellable<T>(signal: AbortSignal, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (signal.aborted && !(signal.reason instanceof LookoutError))
      throw new DOMException('cancelled by the caller', 'AbortError');
    throw error;
  }
}

/** Upstream failures become catalog errors that name the upstream; its own JSON-RPC errors pass through. */
export function mapUpstreamError(upstream: string, requestSeconds: number, error: unknown): Error {
  const data = { upstream };
  if (error instanceof LookoutError) return error;
  if (error instanceof BrokenCircuitError)
    return new LookoutError(
      'UPSTREAM_UNAVAILABLE',
      `${upstream}: circuit open after repeated failures`,
      data,
    );
  if (error instanceof BulkheadRejectedError)
    return new LookoutError('UPSTREAM_BUSY', `${upstream}: too many calls in flight`, data);
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout)
    return new LookoutError(
      'UPSTREAM_TIMEOUT',
      `${upstream} did not answer within ${requestSeconds} s`,
      data,
    );
  if (error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed)
    return new LookoutError('UPSTREAM_UNAVAILABLE', `${upstream}: connection closed`, data);
  if (error instanceof ProtocolError) {
    const message = error.message.replace(/^MCP error -?\d+: /, '');
    switch (error.code) {
      // Made by Lookout's transports in place of an answer over the limit: the message says it all.
      case JsonRpcCode.UpstreamResultTooLarge:
        return new LookoutError(
          'UPSTREAM_RESULT_TOO_LARGE',
          message.replace(/^Upstream result too large: /, ''),
          data,
        );
      default:
        return new McpError(error.code, `${upstream}: ${message}`, error.data);
    }
  }
  return new LookoutError('UPSTREAM_UNAVAILABLE', `${upstream}: ${(error as Error).message}`, data);
}

/** The `error.type` of a failed upstream call's span and metrics. */
export function errorTypeOf(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (error instanceof LookoutError && error.catalogCode === 'UPSTREAM_TIMEOUT') return 'timeout';
  return typeof code === 'number' ? String(code) : values.other;
}
