import type { Context } from '@opentelemetry/api';
import type { ErrorCode } from '../errors/catalog.ts';
import type { Principal } from '../security/principal.ts';

/** What the HTTP layer tells the endpoint about one request on it. */
export interface EndpointRequest {
  /** The Mcp-Session-Id header. */
  readonly sessionId: string | undefined;
  /** The MCP-Protocol-Version header. */
  readonly protocolVersion: string | undefined;
  /** The Mcp-Method and Mcp-Name headers (2026-07-28). */
  readonly mcpMethod?: string | undefined;
  readonly mcpName?: string | undefined;
  /** An `Mcp-Param-{name}` header (2026-07-28), by the name a tool's `x-mcp-header` gives it. */
  readonly mcpParam?: ((name: string) => string | undefined) | undefined;
  readonly httpVersion: string;
  /** The HTTP exchange's trace context (its server span, when HTTP is instrumented). */
  readonly transportContext: Context;
  /** Who sent it, when the request was authenticated. */
  readonly principal: Principal | undefined;
  /**
   * The exchange became a stream that lasts until its client or the server ends it (a 2026-07-28
   * `subscriptions/listen`): it is no longer a request being served, and gives back its admission slot.
   */
  readonly onLongLived?: (() => void) | undefined;
}

/** Why the endpoint turned a request away: a catalog error, and what its HTTP reply adds. */
export interface Refusal {
  readonly code: ErrorCode;
  readonly id?: string | number | null;
  readonly detail?: string;
  readonly data?: unknown;
  readonly headers?: Record<string, string | number>;
}

/** What a transport needs to know about one POST. */
export interface ExchangeInfo {
  readonly batch: boolean;
  /** Headers every reply to this POST carries (the new session's id, on initialize). */
  readonly replyHeaders: Record<string, string>;
  readonly httpVersion: string;
  /** The version the session negotiated (or, stateless, the request's MCP-Protocol-Version). */
  readonly protocolVersion: string;
  readonly transportContext: Context;
  readonly principal?: Principal | undefined;
}

export function exchangeInfo(
  request: EndpointRequest,
  batch: boolean,
  protocolVersion: string,
  replyHeaders: Record<string, string> = {},
): ExchangeInfo {
  return {
    batch,
    replyHeaders,
    httpVersion: request.httpVersion,
    transportContext: request.transportContext,
    principal: request.principal,
    protocolVersion,
  };
}
