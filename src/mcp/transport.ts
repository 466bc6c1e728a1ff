import type { ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  type JSONRPCMessage,
  type LoggingLevel,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { context } from '@opentelemetry/api';
import { jsonRpcError } from '../errors/catalog.ts';
import type { Principal } from '../security/principal.ts';
import type { McpServerTelemetry, RequestRecord } from '../telemetry/mcp-server.ts';
import { finishOutsideRequestContext } from '../telemetry/outside-request-context.ts';
import type { Era } from './era.ts';
import type { ExchangeInfo } from './exchange.ts';
import type { Classified } from './messages.ts';
import { requestIdKey } from './messages.ts';
import { type ProtocolRouter, type RoutedTransport, routedRequestId } from './protocol-router.ts';

const sseHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

function sseEvent(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * The replies to one HTTP POST. Answered as plain JSON when the replies are all there is; switched to
 * an SSE stream as soon as a handler sends something (progress, a log line, a request) before its reply.
 */
class Exchange {
  readonly #res: ServerResponse;
  readonly #replyHeaders: Record<string, string>;
  readonly #batch: boolean;
  readonly #replies: JSONRPCMessage[] = [];
  readonly #errorStatus: ((code: number) => number) | undefined;
  #pending: number;
  #streaming = false;

  constructor(
    res: ServerResponse,
    pending: number,
    batch: boolean,
    replyHeaders: Record<string, string>,
    errorStatus?: (code: number) => number,
  ) {
    this.#res = res;
    this.#pending = pending;
    this.#batch = batch;
    this.#replyHeaders = replyHeaders;
    this.#errorStatus = errorStatus;
  }

  get open(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  /** A message sent before the replies: turns the exchange into an SSE stream. */
  stream(message: JSONRPCMessage): void {
    if (!this.open) return;
    if (!this.#streaming) {
      this.#streaming = true;
      this.#res.writeHead(200, { ...sseHeaders, ...this.#replyHeaders });
    }
    this.#res.write(sseEvent(message));
  }

  /** A reply to one of the exchange's requests, or `undefined` when that request ends unanswered. */
  settle(reply: JSONRPCMessage | undefined): void {
    if (reply !== undefined) {
      if (this.#streaming) {
        if (this.open) this.#res.write(sseEvent(reply));
      } else {
        this.#replies.push(reply);
      }
    }
    if (--this.#pending > 0 || !this.open) return;
    finishOutsideRequestContext(() => this.#finish());
  }

  #finish(): void {
    if (this.#streaming) {
      this.#res.end();
    } else if (this.#replies.length === 0) {
      this.#res.writeHead(202, this.#replyHeaders).end();
    } else {
      const single = this.#batch ? undefined : this.#replies[0];
      const body = JSON.stringify(single ?? this.#replies);
      const errorCode = single && 'error' in single ? single.error.code : undefined;
      const status = errorCode === undefined ? 200 : (this.#errorStatus?.(errorCode) ?? 200);
      this.#res
        .writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...this.#replyHeaders,
        })
        .end(body);
    }
  }
}

/** A client's request the protocol server is handling, and the exchange its reply goes to. */
interface RunningRequest {
  readonly clientId: RequestId;
  readonly method: string;
  readonly exchange: Exchange;
  readonly record: RequestRecord;
}

/** The principal as the SDK hands it to handlers (`extra.authInfo`); the token itself is not kept. */
function authInfoOf(principal: Principal): AuthInfo {
  return { token: '', clientId: principal.subject, scopes: [...principal.scopes] };
}

/** How a 2026-07-28 transport finishes its replies: what every result carries, and the HTTP status of errors. */
export interface ModernReplies {
  readonly shapeResult: (method: string, result: Record<string, unknown>) => Record<string, unknown>;
  readonly errorStatus: (code: number) => number;
}

export interface TransportOptions {
  readonly router: ProtocolRouter;
  /** Set for the transport that serves 2026-07-28 requests. */
  readonly modern?: ModernReplies;
  /** Unset for the stateless endpoint's one shared transport. */
  readonly sessionId?: string;
  /** A session's client said its roots changed. */
  readonly onRootsChanged?: ((sessionId: string) => void) | undefined;
  /** What the session's client declared at `initialize`. */
  readonly clientCapabilities?: Readonly<Record<string, unknown>>;
  readonly keepAliveSeconds: number;
  readonly telemetry: McpServerTelemetry;
}

/**
 * Lookout's Streamable HTTP transport for one session (or, in stateless mode, for every request). It
 * works on plain Node responses, without a Web-Streams bridge, and reaches the process's one SDK
 * protocol server through the router. It also holds what the protocol handlers keep per session.
 *
 * Incoming request ids are replaced by routed ones, so that requests of different sessions and HTTP
 * exchanges (in stateless mode: of different clients) never collide inside the protocol server;
 * replies get the client's id back on the way out.
 */
export class HttpServerTransport implements RoutedTransport {
  readonly sessionId: string | undefined;
  readonly era: Era;
  readonly clientCapabilities: Readonly<Record<string, unknown>> | undefined;
  subscriptions: Set<string> | undefined;
  logLevel: LoggingLevel | undefined;

  readonly #router: ProtocolRouter;
  readonly #tag: number;
  readonly #keepAliveMs: number;
  readonly #telemetry: McpServerTelemetry;
  readonly #modern: ModernReplies | undefined;
  readonly #onRootsChanged: ((sessionId: string) => void) | undefined;
  // Made when needed and dropped when empty, so that an idle session holds none of them.
  #inflight: Map<string, RunningRequest> | undefined;
  /** Client id → routed id, so a client's `notifications/cancelled` reaches the right handler (sessions only). */
  #byClientId: Map<string, string> | undefined;
  /** Ids of the server's requests to this client still waiting for an answer (as numbers, as the SDK reads them). */
  #awaiting: Set<number> | undefined;
  #requestCount = 0;
  #standalone: ServerResponse | undefined;
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: TransportOptions) {
    this.sessionId = options.sessionId;
    this.#modern = options.modern;
    this.era = options.modern ? 'modern' : 'legacy';
    this.clientCapabilities = options.clientCapabilities;
    this.#router = options.router;
    this.#tag = options.router.attach(this);
    this.#telemetry = options.telemetry;
    this.#onRootsChanged = options.onRootsChanged;
    this.#keepAliveMs = options.keepAliveSeconds * 1000;
  }

  get inflightCount(): number {
    return this.#inflight?.size ?? 0;
  }

  get hasStandaloneStream(): boolean {
    return this.#standalone !== undefined;
  }

  /**
   * Hands the messages of one POST to the protocol server. Requests are answered on `res`; a POST of
   * only notifications and responses is answered 202 at once.
   */
  receive(messages: readonly Classified[], res: ServerResponse, info: ExchangeInfo): void {
    // Every request gets a reply, and so does every invalid entry of a batch.
    let requests = 0;
    for (const m of messages) if (m.kind === 'request' || m.kind === 'invalid') requests++;
    if (requests === 0) {
      finishOutsideRequestContext(() => res.writeHead(202, info.replyHeaders).end());
      for (const m of messages) this.#dispatch(m, undefined, info);
      return;
    }
    const exchange = new Exchange(res, requests, info.batch, info.replyHeaders, this.#modern?.errorStatus);
    const ownIds: string[] = [];
    res.once('close', () => {
      // The client went away: abort whatever of this exchange is still running.
      for (const id of ownIds) if (this.#inflight?.has(id)) this.#cancel(id, 'client disconnected');
    });
    for (const m of messages) {
      const ownId = this.#dispatch(m, exchange, info);
      if (ownId !== undefined) ownIds.push(ownId);
    }
  }

  #dispatch(m: Classified, exchange: Exchange | undefined, info: ExchangeInfo): string | undefined {
    if (m.kind === 'invalid') {
      exchange?.settle(jsonRpcError('INVALID_REQUEST', m.id, m.reason) as JSONRPCMessage);
      return undefined;
    }
    if (m.kind === 'request') {
      if (!exchange) return undefined;
      const ownId = routedRequestId(this.#tag, ++this.#requestCount);
      const record = this.#telemetry.start(
        m.message,
        { sessionId: this.sessionId, protocolVersion: info.protocolVersion },
        info.httpVersion,
        info.transportContext,
        info.principal,
      );
      this.#inflight ??= new Map();
      this.#inflight.set(ownId, { clientId: m.message.id, method: m.message.method, exchange, record });
      if (this.sessionId !== undefined) {
        this.#byClientId ??= new Map();
        this.#byClientId.set(requestIdKey(m.message.id), ownId);
      }
      // The handler runs inside the request's span, so its logs and outgoing calls belong to it.
      const extra = info.principal ? { authInfo: authInfoOf(info.principal) } : undefined;
      context.with(record.context, () => this.#router.deliver('request', { ...m.message, id: ownId }, extra));
      return ownId;
    }
    if (m.kind === 'notification' && m.message.method === 'notifications/roots/list_changed') {
      if (this.sessionId !== undefined) this.#onRootsChanged?.(this.sessionId);
      return undefined;
    }
    if (m.kind === 'notification' && m.message.method === 'notifications/cancelled') {
      const clientId = (m.message.params as { requestId?: RequestId } | undefined)?.requestId;
      const ownId = clientId === undefined ? undefined : this.#byClientId?.get(requestIdKey(clientId));
      if (ownId !== undefined) this.#cancel(ownId, (m.message.params as { reason?: string }).reason);
      return undefined;
    }
    // The server numbers its requests to clients across all sessions: a session may only answer (or
    // report progress on) its own.
    if (m.kind === 'response') {
      if (!this.#awaiting?.delete(Number(m.message.id))) return undefined;
    } else if (m.message.method === 'notifications/progress') {
      const token = (m.message.params as { progressToken?: unknown } | undefined)?.progressToken;
      if (!this.#awaiting?.has(Number(token))) return undefined;
    }
    this.#router.deliver(m.kind, m.message);
    return undefined;
  }

  /** Aborts a running handler; the protocol server then sends nothing for it, so its exchange is settled here. */
  #cancel(ownId: string, reason: string | undefined): void {
    const entry = this.#forget(ownId);
    if (!entry) return;
    this.#abortHandler(ownId, reason);
    this.#telemetry.end(entry.record, undefined);
    entry.exchange.settle(undefined);
  }

  #abortHandler(ownId: string, reason: string | undefined): void {
    this.#router.deliver('notification', {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: ownId, ...(reason !== undefined && { reason }) },
    });
  }

  #forget(ownId: string): RunningRequest | undefined {
    const inflight = this.#inflight;
    const entry = inflight?.get(ownId);
    if (!inflight || !entry) return undefined;
    inflight.delete(ownId);
    this.#byClientId?.delete(requestIdKey(entry.clientId));
    if (inflight.size === 0) {
      // Nothing running: an idle session keeps no maps.
      this.#inflight = undefined;
      this.#byClientId = undefined;
    }
    return entry;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('id' in message && message.id !== undefined && !('method' in message)) {
      const entry = this.#forget(message.id as string);
      if (!entry) return;
      const reply = (
        this.#modern && 'result' in message
          ? { ...message, id: entry.clientId, result: this.#modern.shapeResult(entry.method, message.result) }
          : { ...message, id: entry.clientId }
      ) as JSONRPCMessage;
      this.#telemetry.end(entry.record, reply);
      entry.exchange.settle(reply);
      return;
    }
    if ('method' in message) {
      if ('id' in message) {
        this.#awaiting ??= new Set();
        this.#awaiting.add(Number(message.id));
      } else if (message.method === 'notifications/cancelled') {
        // The server gave up on one of its requests (timed out or aborted): no answer is awaited any more.
        this.#awaiting?.delete(Number((message.params as { requestId?: RequestId }).requestId));
      }
    }
    const related = options?.relatedRequestId;
    const exchange = related === undefined ? undefined : this.#inflight?.get(related as string)?.exchange;
    if (exchange?.open) {
      exchange.stream(message);
    } else if (this.#standalone && !this.#standalone.writableEnded) {
      this.#standalone.write(sseEvent(message));
    }
  }

  /** Opens the standalone server→client stream (GET). One per session. */
  openStandaloneStream(res: ServerResponse, headers: Record<string, string>): boolean {
    if (this.#standalone) return false;
    this.#standalone = res;
    res.writeHead(200, { ...sseHeaders, ...headers });
    res.flushHeaders();
    if (this.#keepAliveMs > 0) {
      this.#keepAlive = setInterval(() => res.write(': keepalive\n\n'), this.#keepAliveMs);
      this.#keepAlive.unref();
    }
    res.once('close', () => {
      clearInterval(this.#keepAlive);
      if (this.#standalone === res) this.#standalone = undefined;
    });
    return true;
  }

  /**
   * Ends the session as closing its own protocol server would: running requests are answered with
   * SESSION_CLOSED and their handlers aborted, and the server's requests to this client fail.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [ownId, entry] of [...(this.#inflight ?? [])]) {
      this.#forget(ownId);
      const reply = jsonRpcError('SESSION_CLOSED', entry.clientId) as JSONRPCMessage;
      this.#telemetry.end(entry.record, reply);
      entry.exchange.settle(reply);
      this.#abortHandler(ownId, undefined);
    }
    for (const id of this.#awaiting ?? []) {
      this.#router.deliver('response', {
        jsonrpc: '2.0',
        id,
        error: { code: ErrorCode.ConnectionClosed, message: 'Connection closed' },
      });
    }
    this.#awaiting = undefined;
    this.#router.detach(this.#tag);
    clearInterval(this.#keepAlive);
    this.#standalone?.end();
    this.#standalone = undefined;
  }
}
