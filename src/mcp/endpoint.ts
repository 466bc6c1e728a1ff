import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { type ErrorCode, LookoutError } from '../errors/catalog.ts';
import { principalOf } from '../http/auth.ts';
import { readBody } from '../http/body.ts';
import { replyError } from '../http/reply.ts';
import { transportContextOf } from '../http/transport-context.ts';
import type { McpServerTelemetry } from '../telemetry/mcp-server.ts';
import { finishOutsideRequestContext } from '../telemetry/outside-request-context.ts';
import { type Classified, classify } from './messages.ts';
import { ProtocolRouter } from './protocol-router.ts';
import type { SessionOf } from './server.ts';
import type { SessionClaims, SessionTokens } from './session-token.ts';
import type { Session, SessionRegistry } from './sessions.ts';
import { HttpServerTransport } from './transport.ts';

/** The version a client that sends no MCP-Protocol-Version header is assumed to speak (spec: 2025-03-26). */
const defaultHeaderVersion = '2025-03-26';
/** Batches were dropped from the protocol in 2025-06-18. */
const batchVersions = new Set(['2024-11-05', '2025-03-26']);

/** The version the SDK's server answers initialize with: the client's, when supported, else the latest. */
function negotiatedVersion(message: Classified): string {
  const requested =
    message.kind === 'request'
      ? (message.message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion
      : undefined;
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}

export interface EndpointOptions {
  readonly stateless: boolean;
  readonly maxBodyBytes: number;
  readonly keepAliveSeconds: number;
  /** Builds the one protocol server, which finds each request's session state with `sessionOf`. */
  readonly createServer: (sessionOf: SessionOf) => Server;
  readonly telemetry: McpServerTelemetry;
  /** When set, session ids carry the session's state and any replica with the keys can serve them. */
  readonly tokens?: SessionTokens | undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Does an Accept header admit this media type (wildcards included; `q=0` means "not this")? */
function accepts(accept: string | undefined, type: string): boolean {
  if (accept === undefined) return false;
  const major = `${type.slice(0, type.indexOf('/'))}/*`;
  for (const part of accept.split(',')) {
    const [rangeText, ...params] = part.split(';');
    const range = rangeText?.trim().toLowerCase();
    if (range !== type && range !== major && range !== '*/*') continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** Clients send the same Accept header with every request: the verdict on the last one is reused. */
let lastAccept: string | undefined;
let lastAcceptable = false;

/** Does the Accept header admit both answers Streamable HTTP may give (JSON and an event stream)? */
function acceptsJsonAndEvents(accept: string | undefined): boolean {
  if (accept !== lastAccept) {
    lastAccept = accept;
    lastAcceptable = accepts(accept, 'application/json') && accepts(accept, 'text/event-stream');
  }
  return lastAcceptable;
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === 'application/json') return true;
  if (value === undefined) return false;
  const type = value.split(';', 1)[0]?.trim().toLowerCase();
  return type === 'application/json';
}

/**
 * The Streamable HTTP endpoint: maps POST/GET/DELETE exchanges onto sessions and their transports.
 * Every rejection is a catalog error; nothing here knows about tools.
 */
export class McpEndpoint {
  readonly #options: EndpointOptions;
  readonly #sessions: SessionRegistry;
  readonly #router: ProtocolRouter;
  readonly #server: Server;
  readonly #shared: HttpServerTransport | undefined;

  private constructor(
    options: EndpointOptions,
    sessions: SessionRegistry,
    router: ProtocolRouter,
    server: Server,
  ) {
    this.#options = options;
    this.#sessions = sessions;
    this.#router = router;
    this.#server = server;
    this.#shared = options.stateless
      ? new HttpServerTransport({
          router,
          keepAliveSeconds: options.keepAliveSeconds,
          telemetry: options.telemetry,
        })
      : undefined;
  }

  static async create(options: EndpointOptions, sessions: SessionRegistry): Promise<McpEndpoint> {
    // One protocol server for every session: sessions differ only in their transports.
    const router = new ProtocolRouter();
    const server = options.createServer((requestId) => router.sessionOf(requestId));
    await server.connect(router);
    router.dispatchDirectly(server);
    return new McpEndpoint(options, sessions, router, server);
  }

  async post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!acceptsJsonAndEvents(header(req, 'accept'))) return replyError(res, 'NOT_ACCEPTABLE');
    if (!isJsonContentType(header(req, 'content-type'))) return replyError(res, 'UNSUPPORTED_MEDIA_TYPE');
    const encoding = header(req, 'content-encoding')?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
      return replyError(res, 'UNSUPPORTED_MEDIA_TYPE', {
        detail: `Content-Encoding ${encoding} is not supported`,
      });
    }
    const headerVersion = header(req, 'mcp-protocol-version');
    if (headerVersion !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(headerVersion)) {
      return replyError(res, 'UNSUPPORTED_PROTOCOL_VERSION', {
        detail: `${headerVersion}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
      });
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.#options.maxBodyBytes);
    } catch (error) {
      if (error instanceof LookoutError)
        return replyError(res, error.catalogCode, { headers: { connection: 'close' } });
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return replyError(res, 'PARSE_ERROR');
    }
    const batch = Array.isArray(parsed);
    const raw: unknown[] = batch ? (parsed as unknown[]) : [parsed];
    if (raw.length === 0) return replyError(res, 'INVALID_REQUEST', { detail: 'empty batch' });
    const messages: Classified[] = raw.map(classify);
    // A lone invalid message is refused here; in a batch each invalid entry gets its own error in the
    // reply array (JSON-RPC 2.0, section 6), which the transport adds.
    const [single] = messages;
    if (!batch && single?.kind === 'invalid')
      return replyError(res, 'INVALID_REQUEST', { id: single.id, detail: single.reason });
    const initialize = messages.find((m) => m.kind === 'request' && m.message.method === 'initialize');
    if (initialize) {
      if (messages.length > 1) return replyError(res, 'INITIALIZE_NOT_ALONE');
      return this.#initialize(req, res, initialize);
    }
    if (this.#shared) {
      if (batch && !batchVersions.has(headerVersion ?? defaultHeaderVersion)) {
        return replyError(res, 'BATCH_NOT_SUPPORTED', { detail: headerVersion ?? defaultHeaderVersion });
      }
      return this.#shared.receive(messages, res, {
        batch,
        headers: {},
        httpVersion: req.httpVersion,
        transportContext: transportContextOf(req),
        principal: principalOf(req),
        protocolVersion: headerVersion ?? defaultHeaderVersion,
      });
    }
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId === undefined) return replyError(res, 'SESSION_ID_REQUIRED');
    const session = this.#session(sessionId);
    if (!session) return replyError(res, 'SESSION_NOT_FOUND');
    if (batch && !batchVersions.has(session.protocolVersion)) {
      return replyError(res, 'BATCH_NOT_SUPPORTED', { detail: session.protocolVersion });
    }
    session.transport.receive(messages, res, {
      batch,
      headers: {},
      httpVersion: req.httpVersion,
      transportContext: transportContextOf(req),
      principal: principalOf(req),
      protocolVersion: session.protocolVersion,
    });
  }

  async #initialize(req: IncomingMessage, res: ServerResponse, message: Classified): Promise<void> {
    if (message.kind !== 'request') return;
    if (this.#shared) {
      return this.#shared.receive([message], res, {
        batch: false,
        headers: {},
        httpVersion: req.httpVersion,
        transportContext: transportContextOf(req),
        principal: principalOf(req),
        protocolVersion: negotiatedVersion(message),
      });
    }
    if (header(req, 'mcp-session-id') !== undefined) return replyError(res, 'ALREADY_INITIALIZED');
    if (this.#sessions.isFull) {
      return replyError(res, 'SESSION_LIMIT', {
        detail: `${this.#sessions.max} sessions`,
        headers: { 'retry-after': 5 },
      });
    }
    const protocolVersion = negotiatedVersion(message);
    const params = message.message.params as { capabilities?: unknown; clientInfo?: unknown } | undefined;
    const claims: SessionClaims = {
      protocolVersion,
      clientCapabilities: params?.capabilities ?? {},
      clientInfo: params?.clientInfo ?? {},
      createdAt: Date.now(),
    };
    const id = this.#options.tokens?.issue(claims) ?? this.#sessions.newId();
    const { transport } = this.#openSession(id, claims, false);
    transport.receive([message], res, {
      batch: false,
      headers: { 'mcp-session-id': id },
      httpVersion: req.httpVersion,
      transportContext: transportContextOf(req),
      principal: principalOf(req),
      protocolVersion,
    });
  }

  /** A session's transport, registered; `restored` when the session was begun on another replica. */
  #openSession(id: string, claims: SessionClaims, restored: boolean): Session {
    const transport = new HttpServerTransport({
      router: this.#router,
      sessionId: id,
      keepAliveSeconds: this.#options.keepAliveSeconds,
      telemetry: this.#options.telemetry,
    });
    const now = Date.now();
    const session: Session = {
      id,
      transport,
      protocolVersion: claims.protocolVersion,
      createdAt: restored ? claims.createdAt : now,
      lastSeen: now,
    };
    this.#sessions.add(session);
    return session;
  }

  /** This replica's session for an id, or, when the id carries its state, the session restored here. */
  #session(id: string): Session | undefined {
    const local = this.#sessions.touch(id);
    if (local || !this.#options.tokens) return local;
    const claims = this.#options.tokens.open(id);
    if (!claims || this.#sessions.isFull) return undefined;
    return this.#openSession(id, claims, true);
  }

  async get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refusal = await this.#standaloneStreamRefusal(req, res);
    if (refusal) replyError(res, refusal.code, refusal);
  }

  async #standaloneStreamRefusal(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<({ code: ErrorCode } & Parameters<typeof replyError>[2]) | undefined> {
    if (this.#shared) {
      return {
        code: 'METHOD_NOT_ALLOWED',
        detail: 'stateless mode has no standalone stream',
        headers: { allow: 'POST' },
      };
    }
    if (!accepts(header(req, 'accept'), 'text/event-stream')) return { code: 'NOT_ACCEPTABLE_SSE' };
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId === undefined) return { code: 'SESSION_ID_REQUIRED' };
    const session = this.#session(sessionId);
    if (!session) return { code: 'SESSION_NOT_FOUND' };
    if (!session.transport.openStandaloneStream(res, { 'mcp-session-id': sessionId })) {
      return { code: 'STREAM_ALREADY_OPEN' };
    }
    return undefined;
  }

  async delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#shared)
      return replyError(res, 'METHOD_NOT_ALLOWED', {
        detail: 'stateless mode has no sessions',
        headers: { allow: 'POST' },
      });
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId === undefined) return replyError(res, 'SESSION_ID_REQUIRED');
    // A portable session may be held by other replicas too; each lets its copy go when it idles out.
    const deleted = await this.#sessions.delete(sessionId);
    if (!deleted && !this.#options.tokens?.open(sessionId)) return replyError(res, 'SESSION_NOT_FOUND');
    finishOutsideRequestContext(() => res.writeHead(200).end());
  }

  /** Sends a notification to every session's standalone stream (or, stateless, to nobody: there is none). */
  broadcast(method: string): void {
    for (const session of this.#sessions.all()) {
      void session.transport.send({ jsonrpc: '2.0', method });
    }
  }

  /** Sends `notifications/resources/updated` to the sessions subscribed to this resource. */
  resourceUpdated(uri: string): void {
    for (const session of this.#sessions.all()) {
      if (!session.transport.subscriptions?.has(uri)) continue;
      void session.transport.send({
        jsonrpc: '2.0',
        method: 'notifications/resources/updated',
        params: { uri },
      });
    }
  }

  async close(): Promise<void> {
    await this.#shared?.close();
    await this.#sessions.closeAll();
    await this.#server.close();
  }
}
