import type { ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { type Context, context } from '@opentelemetry/api';
import { jsonRpcError } from '../errors/catalog.ts';
import type { Principal } from '../http/auth.ts';
import type { McpServerTelemetry, RequestRecord } from '../telemetry/mcp-server.ts';
import type { Classified } from './messages.ts';
import { requestIdKey } from './messages.ts';

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
  readonly #headers: Record<string, string>;
  readonly #batch: boolean;
  readonly #replies: JSONRPCMessage[] = [];
  #pending: number;
  #streaming = false;

  constructor(res: ServerResponse, pending: number, batch: boolean, headers: Record<string, string>) {
    this.#res = res;
    this.#pending = pending;
    this.#batch = batch;
    this.#headers = headers;
  }

  get open(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  /** A message sent before the replies: turns the exchange into an SSE stream. */
  stream(message: JSONRPCMessage): void {
    if (!this.open) return;
    if (!this.#streaming) {
      this.#streaming = true;
      this.#res.writeHead(200, { ...sseHeaders, ...this.#headers });
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
    if (this.#streaming) {
      this.#res.end();
    } else if (this.#replies.length === 0) {
      this.#res.writeHead(202, this.#headers).end();
    } else {
      const body = JSON.stringify(this.#batch ? this.#replies : this.#replies[0]);
      this.#res
        .writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...this.#headers,
        })
        .end(body);
    }
  }
}

interface InFlight {
  readonly clientId: RequestId;
  readonly exchange: Exchange;
  readonly record: RequestRecord;
}

/**
 * The SDK Protocol's own dispatch entry points. Its public `onmessage` first tries each incoming message
 * against three zod schemas (two of which fail for every request, and a failed parse builds an error);
 * the transport has already classified the message, so it calls the matching entry point directly.
 */
interface ProtocolDispatch {
  _onrequest(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  _onnotification(message: JSONRPCMessage): void;
  _onresponse(message: JSONRPCMessage): void;
}

function hasDispatch(protocol: unknown): protocol is ProtocolDispatch {
  const p = protocol as Partial<ProtocolDispatch>;
  return (
    typeof p._onrequest === 'function' &&
    typeof p._onnotification === 'function' &&
    typeof p._onresponse === 'function'
  );
}

/** The principal as the SDK hands it to handlers (`extra.authInfo`); the token itself is not kept. */
function authInfoOf(principal: Principal): AuthInfo {
  return { token: '', clientId: principal.subject, scopes: [...principal.scopes] };
}

/** What the HTTP layer knows about one POST. */
export interface ExchangeInfo {
  readonly batch: boolean;
  readonly headers: Record<string, string>;
  readonly httpVersion: string;
  /** The version the session negotiated (or, stateless, the request's MCP-Protocol-Version). */
  readonly protocolVersion: string;
  /** The HTTP exchange's trace context (its server span, when HTTP is instrumented). */
  readonly transportContext: Context;
  /** Who sent it, when the request was authenticated. */
  readonly principal?: Principal | undefined;
}

/**
 * Lookout's Streamable HTTP transport for one SDK protocol server: a session's, or the shared one in
 * stateless mode. It works on plain Node responses, without a Web-Streams bridge.
 *
 * Incoming request ids are replaced by the transport's own, so that requests of different HTTP
 * exchanges (in stateless mode: of different clients) never collide inside the protocol server; replies
 * get the client's id back on the way out.
 */
export class HttpServerTransport implements Transport {
  sessionId?: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  readonly #inflight = new Map<number, InFlight>();
  /** Client id → own id, so a client's `notifications/cancelled` reaches the right handler (sessions only). */
  readonly #byClientId: Map<string, number> | undefined;
  readonly #keepAliveMs: number;
  #nextId = 0;
  #standalone: ServerResponse | undefined;
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;
  #dispatchTo: ProtocolDispatch | undefined;

  readonly #telemetry: McpServerTelemetry;

  constructor(options: { sessionId?: string; keepAliveSeconds: number; telemetry: McpServerTelemetry }) {
    this.#telemetry = options.telemetry;
    if (options.sessionId !== undefined) {
      this.sessionId = options.sessionId;
      this.#byClientId = new Map();
    }
    this.#keepAliveMs = options.keepAliveSeconds * 1000;
  }

  async start(): Promise<void> {}

  /** After `protocol.connect(this)`: deliver classified messages straight to the protocol's handlers. */
  dispatchDirectly(protocol: unknown): void {
    if (hasDispatch(protocol)) this.#dispatchTo = protocol;
  }

  #deliver(
    kind: 'request' | 'notification' | 'response',
    message: JSONRPCMessage,
    extra?: MessageExtraInfo,
  ): void {
    const target = this.#dispatchTo;
    if (!target) {
      this.onmessage?.(message, extra);
    } else if (kind === 'request') {
      target._onrequest(message, extra);
    } else if (kind === 'notification') {
      target._onnotification(message);
    } else {
      target._onresponse(message);
    }
  }

  get inflightCount(): number {
    return this.#inflight.size;
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
      res.writeHead(202, info.headers).end();
      for (const m of messages) this.#dispatch(m, undefined, info);
      return;
    }
    const exchange = new Exchange(res, requests, info.batch, info.headers);
    const ownIds: number[] = [];
    res.once('close', () => {
      // The client went away: abort whatever of this exchange is still running.
      for (const id of ownIds) if (this.#inflight.has(id)) this.#cancel(id, 'client disconnected');
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
      const ownId = ++this.#nextId;
      const record = this.#telemetry.start(
        m.message,
        { sessionId: this.sessionId, protocolVersion: info.protocolVersion },
        info.httpVersion,
        info.transportContext,
        info.principal,
      );
      this.#inflight.set(ownId, { clientId: m.message.id, exchange, record });
      this.#byClientId?.set(requestIdKey(m.message.id), ownId);
      // The handler runs inside the request's span, so its logs and outgoing calls belong to it.
      const extra = info.principal ? { authInfo: authInfoOf(info.principal) } : undefined;
      context.with(record.context, () => this.#deliver('request', { ...m.message, id: ownId }, extra));
      return ownId;
    }
    if (m.kind === 'notification' && m.message.method === 'notifications/cancelled') {
      const clientId = (m.message.params as { requestId?: RequestId } | undefined)?.requestId;
      const ownId = clientId === undefined ? undefined : this.#byClientId?.get(requestIdKey(clientId));
      if (ownId !== undefined) this.#cancel(ownId, (m.message.params as { reason?: string }).reason);
      return undefined;
    }
    this.#deliver(m.kind, m.message);
    return undefined;
  }

  /** Aborts a running handler; the protocol server then sends nothing for it, so its exchange is settled here. */
  #cancel(ownId: number, reason: string | undefined): void {
    const entry = this.#forget(ownId);
    if (!entry) return;
    this.#deliver('notification', {
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: ownId, ...(reason !== undefined && { reason }) },
    });
    this.#telemetry.end(entry.record, undefined);
    entry.exchange.settle(undefined);
  }

  #forget(ownId: number): InFlight | undefined {
    const entry = this.#inflight.get(ownId);
    if (!entry) return undefined;
    this.#inflight.delete(ownId);
    this.#byClientId?.delete(requestIdKey(entry.clientId));
    return entry;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('id' in message && message.id !== undefined && !('method' in message)) {
      const entry = this.#forget(message.id as number);
      if (!entry) return;
      const reply = { ...message, id: entry.clientId } as JSONRPCMessage;
      this.#telemetry.end(entry.record, reply);
      entry.exchange.settle(reply);
      return;
    }
    const related = options?.relatedRequestId;
    const exchange = related === undefined ? undefined : this.#inflight.get(related as number)?.exchange;
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [ownId, entry] of [...this.#inflight]) {
      this.#forget(ownId);
      const reply = jsonRpcError('SESSION_CLOSED', entry.clientId) as JSONRPCMessage;
      this.#telemetry.end(entry.record, reply);
      entry.exchange.settle(reply);
    }
    clearInterval(this.#keepAlive);
    this.#standalone?.end();
    this.#standalone = undefined;
    this.onclose?.();
  }
}
