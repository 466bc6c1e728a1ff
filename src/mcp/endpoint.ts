import type { ServerResponse } from 'node:http';
import type { McpServerTelemetry } from '../telemetry/mcp-server.ts';
import { readPosted } from './batch.ts';
import type { Dispatcher } from './dispatch.ts';
import { eraOf, modernVersion } from './era.ts';
import type { EndpointRequest, Refusal } from './exchange.ts';
import { ModernEndpoint, type ModernOptions } from './modern-endpoint.ts';
import { unsupportedVersion } from './negotiation.ts';
import { SessionEndpoint } from './session-endpoint.ts';
import type { SessionTokens } from './session-token.ts';
import type { SessionRegistry } from './sessions.ts';
import { StatelessEndpoint } from './stateless-endpoint.ts';

export interface EndpointOptions {
  readonly stateless: boolean;
  readonly keepAliveSeconds: number;
  /** Builds the one dispatcher, which serves every session of both eras. */
  readonly createDispatcher: () => Dispatcher;
  readonly telemetry: McpServerTelemetry;
  /** When set, session ids carry the session's state and any replica with the keys can serve them. */
  readonly tokens?: SessionTokens | undefined;
  /** How 2026-07-28 results are finished (server identity, cache hints). */
  readonly modern: Omit<ModernOptions, 'keepAliveSeconds'>;
  /** A session's client said its roots changed (`notifications/roots/list_changed`). */
  readonly onRootsChanged?: ((sessionId: string) => void) | undefined;
}

/** 2026-07-28 has no session to delete and no GET stream: subscriptions/listen is a POST. */
const modernHasNoStream: Refusal = {
  code: 'METHOD_NOT_ALLOWED',
  detail: 'MCP 2026-07-28 has no GET stream or session: use POST (subscriptions/listen for notifications)',
  headers: { allow: 'POST' },
};

/**
 * The Streamable HTTP endpoint: maps POST/GET/DELETE exchanges onto sessions and their transports
 * (or, stateless, onto one shared transport). Every refusal is a catalog error, which the HTTP layer
 * sends; nothing here knows about tools.
 */
export class McpEndpoint {
  readonly #dispatcher: Dispatcher;
  readonly #mode: SessionEndpoint | StatelessEndpoint;
  readonly #modern: ModernEndpoint;

  private constructor(
    dispatcher: Dispatcher,
    mode: SessionEndpoint | StatelessEndpoint,
    modern: ModernEndpoint,
  ) {
    this.#dispatcher = dispatcher;
    this.#mode = mode;
    this.#modern = modern;
  }

  static async create(options: EndpointOptions, sessions: SessionRegistry): Promise<McpEndpoint> {
    // One dispatcher for every session: sessions differ only in their transports.
    const dispatcher = options.createDispatcher();
    const transports = {
      dispatcher,
      keepAliveSeconds: options.keepAliveSeconds,
      telemetry: options.telemetry,
      onRootsChanged: options.onRootsChanged,
    };
    const mode = options.stateless
      ? new StatelessEndpoint(transports, sessions)
      : new SessionEndpoint(transports, sessions, options.tokens);
    const modern = new ModernEndpoint(transports, {
      ...options.modern,
      keepAliveSeconds: options.keepAliveSeconds,
    });
    return new McpEndpoint(dispatcher, mode, modern);
  }

  /** A POST's parsed body: its requests are answered on `res`, unless the POST is refused. */
  post(body: unknown, res: ServerResponse, request: EndpointRequest): Refusal | undefined {
    if (eraOf(body, request.protocolVersion) === 'modern') return this.#modern.receive(body, res, request);
    const versionRefusal = unsupportedVersion(request.protocolVersion);
    if (versionRefusal) return versionRefusal;
    const posted = readPosted(body);
    if ('code' in posted) return posted;
    if (posted.initialize) return this.#mode.initialize(posted.initialize, res, request);
    return this.#mode.receive(posted, res, request);
  }

  /** A GET: opens the session's standalone stream on `res`, unless refused. */
  openStream(
    res: ServerResponse,
    request: EndpointRequest,
    acceptsEventStream: boolean,
  ): Refusal | undefined {
    if (request.protocolVersion === modernVersion) return modernHasNoStream;
    return this.#mode.openStream(res, request, acceptsEventStream);
  }

  /** A DELETE: ends the session. */
  delete(request: EndpointRequest): Promise<Refusal | undefined> {
    if (request.protocolVersion === modernVersion) return Promise.resolve(modernHasNoStream);
    return this.#mode.delete(request);
  }

  /** Sends a notification to every session's standalone stream (or, stateless, to nobody: there is none). */
  broadcast(method: string): void {
    this.#mode.broadcast(method);
    this.#modern.broadcast(method);
  }

  /** Sends `notifications/resources/updated` to the sessions subscribed to this resource. */
  resourceUpdated(uri: string): void {
    this.#mode.resourceUpdated(uri);
    this.#modern.resourceUpdated(uri);
  }

  /** Ends the 2026-07-28 listen streams, which never end on their own. */
  endListens(): void {
    this.#modern.endListens();
  }

  async close(): Promise<void> {
    await this.#modern.close();
    await this.#mode.close();
    this.#dispatcher.close();
  }
}
