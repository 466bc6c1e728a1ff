import { ClientRequest, type ClientRequestArgs, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { SdkErrorCode, SdkHttpError } from '@modelcontextprotocol/client';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { context, propagation } from '@opentelemetry/api';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import {
  type HttpClientRequest,
  type HttpClientTelemetry,
  type HttpTarget,
  httpTarget,
} from '../telemetry/http-client.ts';
import { modernRequestHeaders } from './era-headers.ts';
import { isErrorResponse, isRequest, isResponse, jsonRpcMessage } from './jsonrpc-envelope.ts';
import type { OversizedMessage } from './oversized.ts';

/** Reconnecting an event stream: the SDK client's defaults (1 s, ×1.5, at most 30 s, 2 attempts). */
const reconnect = { initialMs: 1000, growth: 1.5, maxMs: 30_000, maxAttempts: 2 };
/** How long closing waits for the upstream to acknowledge the end of the session. */
const sessionEndMs = 2000;
/** How much of an error response's body goes into the error message. */
const errorBodyChars = 500;
/** Statuses an upstream answers a request of a session it no longer has with: 404 (spec) or 400 (SDK examples). */
const unknownSessionStatuses = new Set([400, 404]);
/** What every POST says it sends and takes (spec: the client accepts both JSON and an event stream). */
const postHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
/** A request that asks nothing of the upstream: whether it still knows the session. */
const sessionCheck = JSON.stringify({ jsonrpc: '2.0', id: 'lookout-session-check', method: 'ping' });

function mediaType(res: IncomingMessage): string {
  return (res.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
    });
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

/** A body of at most `limit` bytes, or undefined (and the response dropped) when it is longer. */
function readLimited(res: IncomingMessage, limit: number): Promise<{ text: string } | { tooLarge: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        res.destroy();
        resolve({ tooLarge: size });
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', reject);
  });
}

/** How large a message the transport takes, and what stands in for a larger one. */
export interface MessageLimit {
  readonly maxMessageBytes: number;
  /** Returns the error response to deliver in place of the dropped message. */
  readonly onOversized: (message: OversizedMessage) => JSONRPCMessage | undefined;
}

const noLimit: MessageLimit = { maxMessageBytes: Number.POSITIVE_INFINITY, onOversized: () => undefined };

/**
 * The client side of Streamable HTTP over `node:http` with keep-alive connections: POST per message,
 * answered by JSON, an event stream or 202; the GET stream for the server's own messages once the
 * session is initialized; resumption with Last-Event-ID; an HTTP client span for each POST, which the
 * `traceparent` header names (the GET stream, open for the whole session, gets none). It replaces the
 * SDK's fetch-based transport, whose `fetch`, web streams and `TextDecoderStream` cost more per proxied
 * call than the rest of the hop. What it leaves out is what Lookout does not use: OAuth flows and
 * redirects (an upstream is a configured URL with static headers; a redirect is reported as the error
 * it is here).
 */
export class UpstreamHttpTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onerror?: Transport['onerror'];
  onclose?: Transport['onclose'];

  readonly #headers: Readonly<Record<string, string>>;
  readonly #agent: HttpAgent;
  /** Where every request goes, and on which agent: worked out from the URL once. */
  readonly #destination: ClientRequestArgs;
  readonly #telemetry: { readonly spans: HttpClientTelemetry; readonly target: HttpTarget } | undefined;
  readonly #inFlight = new Set<ClientRequest>();
  /** Each request's POST, while its answer may still come. */
  readonly #requests = new Map<RequestId, ClientRequest>();
  readonly #limit: MessageLimit;
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  #serverRetryMs: number | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  /** The upstream no longer has the session (or nothing listens there): nothing to DELETE. */
  #sessionGone = false;

  constructor(
    url: URL,
    headers: Readonly<Record<string, string>> = {},
    telemetry?: HttpClientTelemetry,
    limit: MessageLimit = noLimit,
  ) {
    this.#limit = limit;
    this.#headers = headers;
    const https = url.protocol === 'https:';
    // The agent, whichever the protocol, makes the connection (TLS for https): `ClientRequest` serves both.
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#destination = { ...urlToHttpOptions(url), agent: this.#agent };
    this.#telemetry = telemetry && { spans: telemetry, target: httpTarget(url) };
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** Lookout closed it: what fails from then on is the close, not the upstream. */
  get closing(): boolean {
    return this.#closed;
  }

  get protocolVersion(): string | undefined {
    return this.#protocolVersion;
  }

  setProtocolVersion(version: string): void {
    this.#protocolVersion = version;
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('the upstream HTTP transport is already started');
    this.#started = true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    for (const req of this.#inFlight) req.destroy();
    await this.#endSession();
    this.#agent.destroy();
    this.onclose?.();
  }

  /**
   * Tells the upstream the session is over (spec: a client that no longer needs its session SHOULD
   * DELETE it), so that a server keeping its sessions in memory does not keep one per Lookout session
   * that ever reached it. Best effort and bounded: any answer, an error or the deadline ends it.
   */
  #endSession(): Promise<void> {
    if (this.#sessionId === undefined || this.#sessionGone) return Promise.resolve();
    const headers = this.#withSession({});
    return new Promise((resolve) => {
      const req = new ClientRequest({ ...this.#destination, method: 'DELETE', headers }, (res) => {
        res.resume();
        res.once('end', resolve);
        res.once('error', () => resolve());
      });
      req.setTimeout(sessionEndMs, () => req.destroy());
      req.once('error', () => resolve());
      req.once('close', resolve);
      req.end();
    });
  }

  /**
   * `options.headers`: a request's own headers (a tools/call's `Mcp-Param-*`), under the standard ones.
   * `options.onRequestStreamEnd`: told when the request's event stream ends without its answer.
   */
  async send(
    message: JSONRPCMessage,
    // The 2.x client passes a request's own headers, and wants to hear when a listen stream ends; the
    // 1.x type Transport is declared with lacks both.
    options?: TransportSendOptions & {
      readonly headers?: Readonly<Record<string, string>>;
      readonly onRequestStreamEnd?: () => void;
    },
  ): Promise<void> {
    try {
      const sentWithSession = this.#sessionId !== undefined;
      const request = isRequest(message);
      const requestId = request ? message.id : undefined;
      const modern = modernRequestHeaders(message);
      const own = options?.headers;
      const headers = modern || own ? { ...postHeaders, ...own, ...modern } : postHeaders;
      const res = await this.#exchange('POST', headers, JSON.stringify(message), requestId);
      const sessionId = res.headers['mcp-session-id'];
      if (typeof sessionId === 'string' && sessionId !== '') this.#sessionId = sessionId;
      if (modern && (res.statusCode ?? 0) >= 300) {
        await this.#refusal(res, message);
        return;
      }
      if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) {
        const error = await this.#failure(res, 'Error POSTing to endpoint');
        if (sentWithSession && unknownSessionStatuses.has(res.statusCode ?? 0))
          await this.#checkSession(res.statusCode);
        throw error;
      }
      if (res.statusCode === 202 || !request) {
        res.resume();
        const method = 'method' in message ? message.method : undefined;
        if (method === 'notifications/cancelled')
          this.#abandon((message as { params?: { requestId?: unknown } }).params?.requestId);
        if (res.statusCode === 202 && method === 'notifications/initialized') this.#openStream(undefined);
        return;
      }
      const type = mediaType(res);
      if (type === 'text/event-stream') {
        this.#readEvents(res, false, message.id, options?.onRequestStreamEnd);
      } else if (type === 'application/json') {
        const body = await readLimited(res, this.#limit.maxMessageBytes);
        if ('tooLarge' in body) {
          this.#oversized(body.tooLarge, message.id);
          return;
        }
        const data: unknown = JSON.parse(body.text);
        for (const item of Array.isArray(data) ? data : [data]) this.onmessage?.(jsonRpcMessage(item));
      } else {
        res.resume();
        throw new StreamableHTTPError(-1, `Unexpected content type: ${res.headers['content-type']}`);
      }
    } catch (error) {
      this.onerror?.(error as Error);
      throw error;
    }
  }

  /**
   * A POST's span, whose W3C trace context its headers carry (a child of the active span: the MCP
   * client span of the call being sent); without telemetry, the active span's context itself.
   */
  #traced(headers: Record<string, string>): HttpClientRequest | undefined {
    if (this.#telemetry === undefined) {
      propagation.inject(context.active(), headers);
      return undefined;
    }
    return this.#telemetry.spans.request('POST', this.#telemetry.target, headers);
  }

  #exchange(
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body?: string,
    requestId?: RequestId,
  ): Promise<IncomingMessage> {
    if (this.#closed) return Promise.reject(new Error('the upstream HTTP transport is closed'));
    const all = this.#withSession(headers);
    if (body !== undefined) all['content-length'] = String(Buffer.byteLength(body));
    return this.#dispatch(method, all, body, false, requestId);
  }

  /** A request's headers: the configured ones, its own, then the session's id and protocol version. */
  #withSession(headers: Record<string, string>): Record<string, string> {
    const all: Record<string, string> = { ...this.#headers, ...headers };
    if (this.#sessionId !== undefined) all['mcp-session-id'] = this.#sessionId;
    // A 2026-07-28 request names its own version; a 2025 one carries the version `initialize` settled.
    if (this.#protocolVersion !== undefined && all['mcp-protocol-version'] === undefined)
      all['mcp-protocol-version'] = this.#protocolVersion;
    return all;
  }

  /**
   * A request the client cancelled (or gave up on at its timeout) gets no answer it would use: its
   * response is closed, so that an upstream that never finishes it (a stalled event stream or body)
   * does not keep a connection per abandoned call.
   */
  #abandon(requestId: unknown): void {
    const req = this.#requests.get(requestId as RequestId);
    if (req === undefined) return;
    this.#requests.delete(requestId as RequestId);
    req.destroy();
  }

  /**
   * One request. A keep-alive connection the upstream closed while idle fails the request sent on it
   * with ECONNRESET before any answer; that request goes once more on a new connection (Node's
   * documented remedy for this race).
   */
  #dispatch(
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    isRetry: boolean,
    requestId?: RequestId,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      // On a retry, its own span's trace context replaces the first attempt's in the headers.
      const span = method === 'POST' ? this.#traced(headers) : undefined;
      const req = new ClientRequest({ ...this.#destination, method, headers });
      this.#inFlight.add(req);
      if (requestId !== undefined) this.#requests.set(requestId, req);
      const done = () => {
        this.#inFlight.delete(req);
        if (requestId !== undefined && this.#requests.get(requestId) === req)
          this.#requests.delete(requestId);
      };
      req.on('response', (res) => {
        span?.responded(res.statusCode ?? 0);
        res.on('close', () => {
          done();
          span?.end();
        });
        resolve(res);
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        span?.end(error);
        done();
        if (!isRetry && req.reusedSocket && error.code === 'ECONNRESET' && !this.#closed) {
          resolve(this.#dispatch(method, headers, body, true, requestId));
          return;
        }
        // Nothing listens there any more: the upstream went away, and its sessions with it.
        if (error.code === 'ECONNREFUSED' && this.#sessionId !== undefined) this.#sessionLost();
        reject(error);
      });
      req.end(body);
    });
  }

  /**
   * After a 404 the session is gone (spec); after a 400 it may be (the SDK's examples answer an unknown
   * session so), or the one request was refused: a ping with the session tells which.
   */
  async #checkSession(status: number | undefined): Promise<void> {
    if (status !== 404) {
      const res = await this.#exchange('POST', postHeaders, sessionCheck).catch(() => undefined);
      res?.resume();
      if (res === undefined || !unknownSessionStatuses.has(res.statusCode ?? 0)) return;
    }
    this.#sessionLost();
  }

  /**
   * The upstream no longer has this session: the transport closes, so its client's owner connects
   * again with a new session (spec: a client that gets 404 for its session starts a new one).
   */
  #sessionLost(): void {
    this.#sessionGone = true;
    if (!this.#closed) void this.close();
  }

  /**
   * A 2026-07-28 request refused: a 400 whose body is the JSON-RPC error for it goes to the client,
   * which fails the request with the server's own code. Anything else is thrown as the 2.x SDK's own
   * transport throws it, so that its version negotiation reads the status and body as it would.
   */
  async #refusal(res: IncomingMessage, message: JSONRPCMessage): Promise<void> {
    const text = await readText(res).catch(() => '');
    if (res.statusCode === 400 && 'id' in message) {
      try {
        const answer = jsonRpcMessage(JSON.parse(text));
        if (isErrorResponse(answer) && answer.id === message.id) {
          this.onmessage?.(answer);
          return;
        }
      } catch {}
    }
    throw new SdkHttpError(
      SdkErrorCode.ClientHttpNotImplemented,
      `Error POSTing to endpoint: ${text.slice(0, errorBodyChars)}`,
      { status: res.statusCode ?? -1, statusText: res.statusMessage ?? '', text },
    );
  }

  async #failure(res: IncomingMessage, what: string): Promise<StreamableHTTPError> {
    const text = await readText(res).catch(() => '');
    const detail = text.slice(0, errorBodyChars) || res.statusMessage || '';
    return new StreamableHTTPError(res.statusCode ?? -1, `${what}: ${detail}`);
  }

  /**
   * Opens a GET stream: the session's own (spec: optional for servers; 405 means there is none), or
   * the resumption of a POST's stream from `lastEventId`. `attempt` counts reconnections; a first open
   * that fails is not retried.
   */
  #openStream(lastEventId: string | undefined, reconnectable = true, attempt?: number): void {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    this.#exchange('GET', headers)
      .then(async (res) => {
        // A server without the stream answers 405 (spec); one that routes no GET at all (an Express app
        // with only a POST route, as the SDK's examples are) answers the first one 404: no stream either.
        if (res.statusCode === 405 || (res.statusCode === 404 && attempt === undefined)) return res.resume();
        if (res.statusCode !== 200) {
          const error = await this.#failure(res, 'Failed to open SSE stream');
          // Re-opening a stream the server did serve: with no body to refuse, 400 or 404 means the session is gone.
          if (attempt !== undefined && unknownSessionStatuses.has(res.statusCode ?? 0)) this.#sessionLost();
          throw error;
        }
        this.#readEvents(res, reconnectable);
      })
      .catch((error: Error) => {
        if (this.#closed) return;
        this.onerror?.(error);
        if (attempt !== undefined) this.#scheduleReconnect(lastEventId, reconnectable, attempt + 1);
      });
  }

  #scheduleReconnect(lastEventId: string | undefined, reconnectable: boolean, attempt: number): void {
    if (this.#closed) return;
    if (attempt >= reconnect.maxAttempts) {
      this.onerror?.(new Error(`Maximum reconnection attempts (${reconnect.maxAttempts}) exceeded.`));
      return;
    }
    const delay =
      this.#serverRetryMs ?? Math.min(reconnect.initialMs * reconnect.growth ** attempt, reconnect.maxMs);
    this.#reconnectTimer = setTimeout(() => this.#openStream(lastEventId, reconnectable, attempt), delay);
  }

  /** An answer over the size limit was dropped: the request it answers fails in its place. */
  #oversized(bytes: number, id: RequestId | undefined): void {
    const standIn = this.#limit.onOversized({ bytes, limit: this.#limit.maxMessageBytes, id });
    if (standIn) this.onmessage?.(standIn);
  }

  /**
   * Delivers each event's message. A POST's stream that ends before it delivered the response is
   * resumed from the last event id the server gave; the GET stream (`reconnectable`) whenever it ends.
   * An event over the size limit ends the stream: on a POST's stream, the request fails in its place.
   */
  #readEvents(
    res: IncomingMessage,
    reconnectable: boolean,
    requestId?: RequestId,
    /** A POST's stream that ended unanswered and cannot be resumed (a `subscriptions/listen` one). */
    onUnansweredEnd?: () => void,
  ): void {
    let lastEventId: string | undefined;
    let answered = false;
    let eventBytes = 0;
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        eventBytes = 0;
        if (event.id) lastEventId = event.id;
        if (!event.data || (event.event !== undefined && event.event !== 'message')) return;
        try {
          const message = jsonRpcMessage(JSON.parse(event.data));
          if (isResponse(message)) answered = true;
          this.onmessage?.(message);
        } catch (error) {
          this.onerror?.(error as Error);
        }
      },
      onRetry: (ms) => {
        this.#serverRetryMs = ms;
      },
    });
    let ended = false;
    const ending = (error?: Error) => {
      if (ended || this.#closed) return;
      ended = true;
      // Closed by #abandon: nothing more is wanted from it.
      if (requestId !== undefined && !this.#requests.has(requestId)) return;
      if (error) this.onerror?.(new Error(`SSE stream disconnected: ${error.message}`));
      const resumable = reconnectable || lastEventId !== undefined;
      if (resumable && !answered) this.#scheduleReconnect(lastEventId, reconnectable, 0);
      else if (!answered) onUnansweredEnd?.();
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      eventBytes += Buffer.byteLength(chunk);
      if (eventBytes > this.#limit.maxMessageBytes) {
        ended = true;
        res.destroy();
        this.#oversized(eventBytes, requestId);
        // The session's own stream is opened again, without resuming: that would replay the same event.
        if (reconnectable) this.#scheduleReconnect(undefined, true, 0);
        return;
      }
      parser.feed(chunk);
    });
    res.on('end', () => ending());
    res.on('error', ending);
  }
}
