import type { ServerResponse } from 'node:http';
import {
  ErrorCode,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type LoggingLevel,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { context } from '@opentelemetry/api';
import { jsonRpcError } from '../errors/catalog.ts';
import type { Principal } from '../security/principal.ts';
import type { McpServerTelemetry, RequestRecord } from '../telemetry/mcp-server.ts';
import { finishOutsideRequestContext } from '../telemetry/outside-request-context.ts';
import type { AuthInfo, Dispatcher, DispatchTransport, JsonRpcErrorObject } from './dispatch.ts';
import type { Era } from './era.ts';
import type { ExchangeInfo } from './exchange.ts';
import type { Classified } from './messages.ts';
import { requestIdKey } from './messages.ts';

/** The headers of an SSE response. */
export const sseHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** One JSON-RPC message as an SSE event. */
export function sseEvent(message: JSONRPCMessage): string {
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

/** A client's request the dispatcher is handling, and the exchange its reply goes to. */
interface RunningRequest {
  readonly clientId: RequestId;
  readonly method: string;
  readonly exchange: Exchange;
  readonly record: RequestRecord;
  /** Aborts the handler: the client cancelled, went away, or the session ended. */
  readonly controller: AbortController;
}

/** The principal as handlers see it (`context.authInfo`). */
function authInfoOf(principal: Principal): AuthInfo {
  return { clientId: principal.subject, scopes: principal.scopes };
}

/** How a 2026-07-28 transport finishes its replies: what every result carries, and the HTTP status of errors. */
export interface ModernReplies {
  readonly shapeResult: (method: string, result: Record<string, unknown>) => Record<string, unknown>;
  readonly errorStatus: (code: number) => number;
}

export interface TransportOptions {
  readonly dispatcher: Dispatcher;
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
 * Lookout's Streamable HTTP transport for one session (or, in stateless mode, for every request; or
 * every 2026-07-28 request). It works on plain Node responses, without a Web-Streams bridge, and hands
 * requests to the process's one dispatcher. It also holds what the handlers keep per session.
 *
 * The dispatcher knows requests by numbers this transport gives them, so that requests of different
 * HTTP exchanges (in stateless mode: of different clients) never collide; replies get the client's id
 * back on the way out.
 */
export class HttpServerTransport implements DispatchTransport {
  readonly sessionId: string | undefined;
  readonly era: Era;
  readonly clientCapabilities: Readonly<Record<string, unknown>> | undefined;
  subscriptions: Set<string> | undefined;
  logLevel: LoggingLevel | undefined;

  readonly #dispatcher: Dispatcher;
  readonly #keepAliveMs: number;
  readonly #telemetry: McpServerTelemetry;
  readonly #modern: ModernReplies | undefined;
  readonly #onRootsChanged: ((sessionId: string) => void) | undefined;
  // Made when needed and dropped when empty, so that an idle session holds none of them.
  #inflight: Map<number, RunningRequest> | undefined;
  /** Client id → own id, so a client's `notifications/cancelled` reaches the right handler (sessions only). */
  #byClientId: Map<string, number> | undefined;
  /** Ids of the server's requests to this client still waiting for an answer (as numbers, as the dispatcher counts them). */
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
    this.#dispatcher = options.dispatcher;
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
   * Hands the messages of one POST to the dispatcher. Requests are answered on `res`; a POST of
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
    const ownIds: number[] = [];
    res.once('close', () => {
      // The client went away: abort whatever of this exchange is still running.
      for (const id of ownIds) if (this.#inflight?.has(id)) this.#cancel(id, 'client disconnected');
    });
    for (const m of messages) {
      const ownId = this.#dispatch(m, exchange, info);
      if (ownId !== undefined) ownIds.push(ownId);
    }
  }

  #dispatch(m: Classified, exchange: Exchange | undefined, info: ExchangeInfo): number | undefined {
    if (m.kind === 'invalid') {
      exchange?.settle(jsonRpcError('INVALID_REQUEST', m.id, m.reason) as JSONRPCMessage);
      return undefined;
    }
    if (m.kind === 'request') {
      if (!exchange) return undefined;
      return this.#run(m.message, exchange, info);
    }
    if (m.kind === 'response') {
      // The server numbers its requests to clients across all sessions: a session may only answer its own.
      if (this.#awaiting?.delete(Number(m.message.id))) this.#dispatcher.response(m.message);
      return undefined;
    }
    const method = m.message.method;
    if (method === 'notifications/roots/list_changed') {
      if (this.sessionId !== undefined) this.#onRootsChanged?.(this.sessionId);
    } else if (method === 'notifications/cancelled') {
      const clientId = (m.message.params as { requestId?: RequestId } | undefined)?.requestId;
      const ownId = clientId === undefined ? undefined : this.#byClientId?.get(requestIdKey(clientId));
      if (ownId !== undefined) this.#cancel(ownId, (m.message.params as { reason?: string }).reason);
    }
    // Nothing else a client notifies (initialized, progress on the server's requests) needs an action.
    return undefined;
  }

  #run(message: JSONRPCRequest, exchange: Exchange, info: ExchangeInfo): number {
    const ownId = ++this.#requestCount;
    const record = this.#telemetry.start(
      message,
      { sessionId: this.sessionId, protocolVersion: info.protocolVersion },
      info.httpVersion,
      info.transportContext,
      info.principal,
    );
    const controller = new AbortController();
    this.#inflight ??= new Map();
    this.#inflight.set(ownId, { clientId: message.id, method: message.method, exchange, record, controller });
    if (this.sessionId !== undefined) {
      this.#byClientId ??= new Map();
      this.#byClientId.set(requestIdKey(message.id), ownId);
    }
    // The handler runs inside the request's span, so its logs and outgoing calls belong to it.
    const authInfo = info.principal ? authInfoOf(info.principal) : undefined;
    context.with(
      record.context,
      this.#dispatcher.request,
      this.#dispatcher,
      this,
      message,
      ownId,
      controller.signal,
      authInfo,
    );
    return ownId;
  }

  /** Aborts a running handler; the dispatcher then replies nothing for it, so its exchange is settled here. */
  #cancel(ownId: number, reason: string | undefined): void {
    const entry = this.#forget(ownId);
    if (!entry) return;
    entry.controller.abort(reason);
    this.#telemetry.end(entry.record, undefined);
    entry.exchange.settle(undefined);
  }

  #forget(ownId: number): RunningRequest | undefined {
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

  reply(ownId: number, result: unknown, error: JsonRpcErrorObject | undefined): void {
    const entry = this.#forget(ownId);
    if (!entry) return;
    const reply = (
      error !== undefined
        ? { jsonrpc: '2.0', id: entry.clientId, error }
        : {
            jsonrpc: '2.0',
            id: entry.clientId,
            result: this.#modern
              ? this.#modern.shapeResult(entry.method, result as Record<string, unknown>)
              : result,
          }
    ) as JSONRPCMessage;
    this.#telemetry.end(entry.record, reply);
    entry.exchange.settle(reply);
  }

  /** A notification or server→client request: with the request it serves while that one runs, else on the standalone stream. */
  send(message: JSONRPCMessage, relatedRequestId?: number): void {
    if ('method' in message) {
      if ('id' in message) {
        this.#awaiting ??= new Set();
        this.#awaiting.add(Number(message.id));
      } else if (message.method === 'notifications/cancelled') {
        // The server gave up on one of its requests (timed out or aborted): no answer is awaited any more.
        this.#awaiting?.delete(Number((message.params as { requestId?: RequestId }).requestId));
      }
    }
    const exchange =
      relatedRequestId === undefined ? undefined : this.#inflight?.get(relatedRequestId)?.exchange;
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
   * Ends the session: running requests are answered with SESSION_CLOSED and their handlers aborted,
   * and the server's requests to this client fail.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [ownId, entry] of [...(this.#inflight ?? [])]) {
      this.#forget(ownId);
      const reply = jsonRpcError('SESSION_CLOSED', entry.clientId) as JSONRPCMessage;
      this.#telemetry.end(entry.record, reply);
      entry.exchange.settle(reply);
      entry.controller.abort();
    }
    for (const id of this.#awaiting ?? []) {
      this.#dispatcher.response({
        id,
        error: { code: ErrorCode.ConnectionClosed, message: 'Connection closed' },
      });
    }
    this.#awaiting = undefined;
    clearInterval(this.#keepAlive);
    this.#standalone?.end();
    this.#standalone = undefined;
  }
}
