import {
  type Client,
  type PriorDiscovery,
  ProtocolError,
  SdkError,
  SdkErrorCode,
} from '@modelcontextprotocol/client';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { UpstreamConfig } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import type { McpClientTelemetry } from '../telemetry/mcp-client.ts';
import { type Callers, relayToCallers } from './caller-relay.ts';
import { type ChildEnvPolicy, childEnvironment } from './child-env.ts';
import type { Connection } from './connection-pool.ts';
import { isModern, upstreamClient } from './era-negotiation.ts';
import { EraVerdict } from './era-verdict.ts';
import { UpstreamHttpTransport } from './http-transport.ts';
import { ListChangeListen } from './list-change-listen.ts';
import type { LogRelay } from './log-relay.ts';
import { deliverNotificationsFirst } from './notification-order.ts';
import { type OversizedMessage, tooLargeResponse } from './oversized.ts';
import { UpstreamStdioTransport } from './stdio-transport.ts';
import { ResourceListen, type Subscribers } from './subscriptions.ts';

/** What opening a connection needs from Lookout besides the upstream's config. */
export interface ConnectionDeps {
  readonly logger: Logger;
  readonly telemetry: McpClientTelemetry;
  /** Lookout's environment, of which a stdio child inherits what `childEnv` lets through. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  readonly childEnv: ChildEnvPolicy;
}

/** A connection that answered `initialize`, and what its transport tells about it. */
export interface OpenConnection extends Connection {
  /** The child's last stderr lines (stdio), for the log line when it fails. */
  readonly stderr: () => string[] | undefined;
  /** The protocol version negotiated. */
  readonly protocolVersion: string | undefined;
}

/** The supervised connection that serves the lists, or one of a session or subject. */
export type ConnectionRole = 'catalog' | 'isolated';

export interface OpenOptions {
  readonly role: ConnectionRole;
  /** What the upstream is told its client supports. */
  readonly declared: ClientCapabilities;
  readonly callers: Callers;
  readonly logs: LogRelay;
  readonly subscribers: Subscribers;
  /** How long `initialize` may take; none: a starting child is reported when slow, never stopped. */
  readonly timeoutMs: number | undefined;
  /** The upstream notified a change of its tool, resource or prompt list. */
  readonly onListChanged: () => void;
  /** The connection ended, after it had opened (the child exited, the session is gone, or it was closed). */
  readonly onClosed: (connection: OpenConnection) => void;
}

/** A connection being opened, which can be closed meanwhile (a child may be starting). */
export interface Opening {
  readonly connected: Promise<OpenConnection>;
  /** Closes the client and its transport: while the era is probed, the client does not own it yet. */
  close(): Promise<void>;
}

/** One client on its transport. */
interface Attempt {
  readonly client: Client;
  readonly transport: UpstreamStdioTransport | UpstreamHttpTransport;
}

const listChangedNotifications = [
  'notifications/tools/list_changed',
  'notifications/resources/list_changed',
  'notifications/prompts/list_changed',
] as const;

/** No time limit on `initialize`. */
const noTimeoutMs = 2 ** 31 - 1;

/**
 * Opens connections to one upstream, the catalog's and the isolated ones alike: the transport (a child
 * process over stdio, or Streamable HTTP), the MCP client declaring what it is told to, the relay of
 * the upstream's requests, log messages and resource updates, and the log lines of a failed start.
 */
export class ConnectionOpener {
  readonly #config: UpstreamConfig;
  readonly #deps: ConnectionDeps;

  /** Told of each `notifications/resources/updated`, whichever connection it came on (the read cache). */
  readonly #onResourceUpdated: (uri: string) => void;

  /** The era `auto` settled on, shared by the catalog connection and the isolated ones. */
  readonly #verdict = new EraVerdict();
  #probeExitLogged = false;

  constructor(config: UpstreamConfig, deps: ConnectionDeps, onResourceUpdated: (uri: string) => void) {
    this.#config = config;
    this.#deps = deps;
    this.#onResourceUpdated = onResourceUpdated;
  }

  open(options: OpenOptions): Opening {
    const attempt = this.#attempt(options);
    return {
      connected: this.#negotiate(attempt, options),
      close: async () => {
        await Promise.all([attempt.client.close(), attempt.transport.close()]);
      },
    };
  }

  /**
   * Connects in the upstream's era. With `era: auto` the first connection that succeeds settles the
   * verdict every later one connects on. A stdio child that exits on the `server/discover` probe (as
   * servers built on SDKs that end on any request before `initialize` do) is taken as a 2025 server:
   * the restart that follows speaks `initialize` to it.
   */
  async #negotiate(attempt: Attempt, options: OpenOptions): Promise<OpenConnection> {
    const auto = this.#config.era === 'auto';
    const prior = auto ? this.#verdict.prior : undefined;
    try {
      const connection = await this.#connect(attempt, options, prior);
      if (auto && !prior) this.#verdict.learn(connection.client);
      return connection;
    } catch (error) {
      // Refused in the kept era (a 2025 server upgraded to 2026-07-28 only): the next one probes again.
      // A child that crashed or an upstream out of reach says nothing of its era.
      if (prior && error instanceof ProtocolError) this.#verdict.forget();
      else if (auto && error instanceof ExitedOnProbe) this.#exitedOnProbe();
      throw error;
    }
  }

  /**
   * Restarting it at once would start a second child for every one that exits at start for any other
   * reason; the restart that follows a failed connection, with its backoff and crash-loop count, does.
   */
  #exitedOnProbe(): void {
    this.#verdict.learnLegacy();
    if (this.#probeExitLogged) return;
    this.#probeExitLogged = true;
    this.#deps.logger.warn(
      'upstream exited on the server/discover probe: it is spoken to in 2025 from its restart',
      {
        upstream: this.#config.name,
      },
    );
  }

  #attempt(options: OpenOptions): Attempt {
    // Every connection follows the lists: a 2026-07-28 upstream tells of changes only on a listen
    // stream, which the client opens when asked to, as a 2025 one tells each session of its own.
    const client = upstreamClient(this.#config, options.declared, options.onListChanged);
    relayToCallers(client, options.declared, options.callers);
    const transport = this.#config.transport === 'stdio' ? this.#stdioTransport() : this.#httpTransport();
    return { client, transport };
  }

  async #connect(
    { client, transport }: Attempt,
    options: OpenOptions,
    prior: PriorDiscovery | undefined,
  ): Promise<OpenConnection> {
    const name = this.#config.name;
    const logger = this.#deps.logger;
    const stdio = this.#config.transport === 'stdio';
    const stderr = () => (transport instanceof UpstreamStdioTransport ? transport.stderr.lines() : undefined);
    // What the transport or the SDK could not use (a line on stdout that is no JSON-RPC message, a
    // response to no request, a dropped event stream): logged, the connection goes on. Once Lookout
    // closes the connection, an answer that can no longer be sent is part of closing it, not an error.
    client.onerror = (error) => {
      if (!transport.closing)
        logger.warn('upstream transport error', { upstream: name, error: error.message });
    };
    const slowStart = stdio && options.timeoutMs === undefined ? this.#watchStartup(stderr) : undefined;
    try {
      // Outside the context of the call that opens it: the connection outlives that call's trace.
      const timeout = options.timeoutMs ?? noTimeoutMs;
      await context.with(ROOT_CONTEXT, async () => {
        await client.connect(transport, { timeout, ...(prior && { prior }) });
        if (!isModern(client)) return;
        const listChanges = new ListChangeListen(client, {
          timeoutMs: this.#config.timeouts.requestSeconds * 1000,
          missed: options.onListChanged,
        });
        // Connecting on a kept 2026-07-28 verdict opens no listen stream by itself.
        if (prior) await listChanges.open();
        else listChanges.follow(client.autoOpenedSubscription);
      });
    } catch (error) {
      const lines = stderr();
      await client.close().catch(() => undefined);
      if (exitedOnProbe(error, transport)) throw new ExitedOnProbe(error);
      logger.warn('upstream connection failed', {
        upstream: name,
        connection: options.role,
        error: (error as Error).message,
        ...(lines && lines.length > 0 && { stderr: lines }),
      });
      throw error;
    } finally {
      clearTimeout(slowStart);
    }
    deliverNotificationsFirst(transport);
    const connection: OpenConnection = {
      client,
      callers: options.callers,
      logs: options.logs,
      subscribers: options.subscribers,
      ...(isModern(client) && { resourceListen: new ResourceListen(client) }),
      stderr,
      protocolVersion: client.getNegotiatedProtocolVersion(),
    };
    for (const method of listChangedNotifications)
      client.setNotificationHandler(method, options.onListChanged);
    client.setNotificationHandler('notifications/message', (n) => {
      logger.info('upstream log', { upstream: name, upstream_level: n.params.level, data: n.params.data });
      // On an isolated connection, a message outside any call (during a subscription, on a timer) is
      // its client's too.
      if (!options.logs.relay(n.params) && options.role === 'isolated')
        void options.callers.target()?.log(n.params.level, n.params.data, n.params.logger ?? name);
    });
    client.setNotificationHandler('notifications/resources/updated', (n) => {
      this.#onResourceUpdated(n.params.uri);
      for (const updated of options.subscribers.get(n.params.uri)?.values() ?? []) updated(n.params.uri);
    });
    client.onclose = () => options.onClosed(connection);
    return connection;
  }

  #stdioTransport(): UpstreamStdioTransport {
    const config = this.#config;
    return new UpstreamStdioTransport({
      command: config.command as string,
      args: config.args,
      env: childEnvironment(this.#deps.environment, this.#deps.childEnv, config.env),
      ...(config.cwd !== undefined && { cwd: config.cwd }),
      maxMessageBytes: config.maxResultBytes,
      onStderrLine: (line) => this.#deps.logger.info('upstream stderr', { upstream: config.name, line }),
      onOversized: (message) => this.#tooLarge(message),
    });
  }

  #httpTransport(): UpstreamHttpTransport {
    const config = this.#config;
    return new UpstreamHttpTransport(
      new URL(config.url as string),
      config.headers,
      this.#deps.telemetry.http,
      {
        maxMessageBytes: config.maxResultBytes,
        onOversized: (message) => this.#tooLarge(message),
      },
    );
  }

  /** An answer over the limit fails its call alone, with a named error; the cause is logged here. */
  #tooLarge(message: OversizedMessage) {
    this.#deps.logger.error('upstream result too large: dropped', {
      upstream: this.#config.name,
      bytes: message.bytes,
      limit: message.limit,
      request_id: message.id,
    });
    return message.id === undefined ? undefined : tooLargeResponse(this.#config.name, message);
  }

  /** Reports a child that has not answered `initialize` within `timeouts.startupSeconds`; it goes on waiting. */
  #watchStartup(stderr: () => string[] | undefined): NodeJS.Timeout {
    const startupSeconds = this.#config.timeouts.startupSeconds;
    const timer = context.with(ROOT_CONTEXT, () =>
      setTimeout(() => {
        this.#deps.logger.error('upstream slow to start: still waiting for it', {
          upstream: this.#config.name,
          startupSeconds,
          stderr: stderr() ?? [],
        });
      }, startupSeconds * 1000),
    );
    timer.unref();
    return timer;
  }
}

/** A stdio child ended while the era was being probed: the probe is what it could not take. */
class ExitedOnProbe extends Error {
  constructor(cause: unknown) {
    super((cause as Error).message, { cause });
  }
}

function exitedOnProbe(error: unknown, transport: Transport): boolean {
  return (
    error instanceof SdkError &&
    error.code === SdkErrorCode.EraNegotiationFailed &&
    transport instanceof UpstreamStdioTransport &&
    transport.exitedByItself
  );
}
