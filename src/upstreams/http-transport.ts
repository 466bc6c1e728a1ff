import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isInitializedNotification,
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { context, propagation } from '@opentelemetry/api';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** Reconnecting an event stream: the SDK client's defaults (1 s, ×1.5, at most 30 s, 2 attempts). */
const reconnect = { initialMs: 1000, growth: 1.5, maxMs: 30_000, maxAttempts: 2 };
/** How much of an error response's body goes into the error message. */
const errorBodyChars = 500;

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

/**
 * The client side of Streamable HTTP over `node:http` with keep-alive connections: POST per message,
 * answered by JSON, an event stream or 202; the GET stream for the server's own messages once the
 * session is initialized; resumption with Last-Event-ID. It replaces the SDK's fetch-based transport,
 * whose `fetch`, web streams and `TextDecoderStream` cost more per proxied call than the rest of the
 * hop. What it leaves out is what Lookout does not use: OAuth flows and redirects (an upstream is a
 * configured URL with static headers; a redirect is reported as the error it is here).
 */
export class UpstreamHttpTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onerror?: Transport['onerror'];
  onclose?: Transport['onclose'];

  readonly #url: URL;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;
  readonly #inFlight = new Set<ClientRequest>();
  #sessionId: string | undefined;
  #protocolVersion: string | undefined;
  #serverRetryMs: number | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(url: URL, headers: Readonly<Record<string, string>> = {}) {
    this.#url = url;
    this.#headers = headers;
    const https = url.protocol === 'https:';
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#request = https ? httpsRequest : httpRequest;
  }

  get sessionId(): string | undefined {
    return this.#sessionId;
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
    this.#agent.destroy();
    this.onclose?.();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    try {
      const res = await this.#exchange(
        'POST',
        {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...this.#traceHeaders(),
        },
        JSON.stringify(message),
      );
      const sessionId = res.headers['mcp-session-id'];
      if (typeof sessionId === 'string' && sessionId !== '') this.#sessionId = sessionId;
      if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) {
        throw await this.#failure(res, 'Error POSTing to endpoint');
      }
      if (res.statusCode === 202 || !isJSONRPCRequest(message)) {
        res.resume();
        if (res.statusCode === 202 && isInitializedNotification(message)) this.#openStream(undefined);
        return;
      }
      const type = mediaType(res);
      if (type === 'text/event-stream') {
        this.#readEvents(res, false);
      } else if (type === 'application/json') {
        const data: unknown = JSON.parse(await readText(res));
        for (const item of Array.isArray(data) ? data : [data])
          this.onmessage?.(JSONRPCMessageSchema.parse(item));
      } else {
        res.resume();
        throw new StreamableHTTPError(-1, `Unexpected content type: ${res.headers['content-type']}`);
      }
    } catch (error) {
      this.onerror?.(error as Error);
      throw error;
    }
  }

  /** The W3C trace context of the active span (the MCP client span of the call being sent). */
  #traceHeaders(): Record<string, string> {
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    return carrier;
  }

  #exchange(
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body?: string,
  ): Promise<IncomingMessage> {
    if (this.#closed) return Promise.reject(new Error('the upstream HTTP transport is closed'));
    const all: Record<string, string> = { ...this.#headers, ...headers };
    if (this.#sessionId !== undefined) all['mcp-session-id'] = this.#sessionId;
    if (this.#protocolVersion !== undefined) all['mcp-protocol-version'] = this.#protocolVersion;
    if (body !== undefined) all['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = this.#request(this.#url, { method, headers: all, agent: this.#agent });
      this.#inFlight.add(req);
      req.on('response', (res) => {
        res.on('close', () => this.#inFlight.delete(req));
        resolve(res);
      });
      req.on('error', (error) => {
        this.#inFlight.delete(req);
        reject(error);
      });
      req.end(body);
    });
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
        if (res.statusCode === 405) return res.resume();
        if (res.statusCode !== 200) throw await this.#failure(res, 'Failed to open SSE stream');
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

  /**
   * Delivers each event's message. A POST's stream that ends before it delivered the response is
   * resumed from the last event id the server gave; the GET stream (`reconnectable`) whenever it ends.
   */
  #readEvents(res: IncomingMessage, reconnectable: boolean): void {
    let lastEventId: string | undefined;
    let answered = false;
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (event.id) lastEventId = event.id;
        if (!event.data || (event.event !== undefined && event.event !== 'message')) return;
        try {
          const message = JSONRPCMessageSchema.parse(JSON.parse(event.data));
          if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) answered = true;
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
      if (error) this.onerror?.(new Error(`SSE stream disconnected: ${error.message}`));
      const resumable = reconnectable || lastEventId !== undefined;
      if (resumable && !answered) this.#scheduleReconnect(lastEventId, reconnectable, 0);
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => parser.feed(chunk));
    res.on('end', () => ending());
    res.on('error', ending);
  }
}
