import type { ServerResponse } from 'node:http';
import type { Posted } from './batch.ts';
import { type EndpointRequest, exchangeInfo, type Refusal } from './exchange.ts';
import { batchNotSupported, negotiatedVersion } from './negotiation.ts';
import type { SessionClaims, SessionTokens } from './session-token.ts';
import type { Session, SessionRegistry } from './sessions.ts';
import { HttpServerTransport, type TransportOptions } from './transport.ts';

/**
 * The endpoint with sessions: initialize opens one, every later request names it in Mcp-Session-Id,
 * GET opens its standalone stream and DELETE ends it. With session tokens, a session begun on another
 * replica is restored here from its id.
 */
export class SessionEndpoint {
  readonly #transports: TransportOptions;
  readonly #sessions: SessionRegistry;
  readonly #tokens: SessionTokens | undefined;

  constructor(transports: TransportOptions, sessions: SessionRegistry, tokens: SessionTokens | undefined) {
    this.#transports = transports;
    this.#sessions = sessions;
    this.#tokens = tokens;
  }

  initialize(
    message: NonNullable<Posted['initialize']>,
    res: ServerResponse,
    request: EndpointRequest,
  ): Refusal | undefined {
    if (request.sessionId !== undefined) return { code: 'ALREADY_INITIALIZED' };
    if (this.#sessions.isFull) {
      return {
        code: 'SESSION_LIMIT',
        detail: `${this.#sessions.max} sessions`,
        headers: { 'retry-after': 5 },
      };
    }
    const protocolVersion = negotiatedVersion(message);
    const params = message.message.params as { capabilities?: unknown; clientInfo?: unknown } | undefined;
    const claims: SessionClaims = {
      protocolVersion,
      clientCapabilities: params?.capabilities ?? {},
      clientInfo: params?.clientInfo ?? {},
      createdAt: Date.now(),
    };
    const id = this.#tokens?.issue(claims) ?? this.#sessions.newId();
    const { transport } = this.#openSession(id, claims, false);
    transport.receive(
      [message],
      res,
      exchangeInfo(request, false, protocolVersion, { 'mcp-session-id': id }),
    );
    return undefined;
  }

  receive(posted: Posted, res: ServerResponse, request: EndpointRequest): Refusal | undefined {
    if (request.sessionId === undefined) return { code: 'SESSION_ID_REQUIRED' };
    const session = this.#session(request.sessionId);
    if (!session) return { code: 'SESSION_NOT_FOUND' };
    const refusal = batchNotSupported(posted.batch, session.protocolVersion);
    if (refusal) return refusal;
    session.transport.receive(
      posted.messages,
      res,
      exchangeInfo(request, posted.batch, session.protocolVersion),
    );
    return undefined;
  }

  /** A session's transport, registered; `restored` when the session was begun on another replica. */
  #openSession(id: string, claims: SessionClaims, restored: boolean): Session {
    const transport = new HttpServerTransport({
      ...this.#transports,
      sessionId: id,
      clientCapabilities: claims.clientCapabilities as Readonly<Record<string, unknown>>,
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
    if (local || !this.#tokens) return local;
    const claims = this.#tokens.open(id);
    if (!claims || this.#sessions.isFull) return undefined;
    return this.#openSession(id, claims, true);
  }

  openStream(
    res: ServerResponse,
    request: EndpointRequest,
    acceptsEventStream: boolean,
  ): Refusal | undefined {
    if (!acceptsEventStream) return { code: 'NOT_ACCEPTABLE_SSE' };
    const { sessionId } = request;
    if (sessionId === undefined) return { code: 'SESSION_ID_REQUIRED' };
    const session = this.#session(sessionId);
    if (!session) return { code: 'SESSION_NOT_FOUND' };
    if (!session.transport.openStandaloneStream(res, { 'mcp-session-id': sessionId })) {
      return { code: 'STREAM_ALREADY_OPEN' };
    }
    return undefined;
  }

  async delete(request: EndpointRequest): Promise<Refusal | undefined> {
    const { sessionId } = request;
    if (sessionId === undefined) return { code: 'SESSION_ID_REQUIRED' };
    // A portable session may be held by other replicas too; each lets its copy go when it idles out.
    const deleted = await this.#sessions.delete(sessionId);
    if (!deleted && !this.#tokens?.open(sessionId)) return { code: 'SESSION_NOT_FOUND' };
    return undefined;
  }

  /** Sends a notification to every session's standalone stream. */
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

  close(): Promise<void> {
    return this.#sessions.closeAll();
  }
}
