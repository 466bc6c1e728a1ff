import type { Server } from 'node:http';
import type { InFlightExchanges } from '../http/inflight.ts';
import type { Health } from '../lifecycle/health.ts';
import type { Logger } from '../logging/logger.ts';

/** What a graceful stop closes, in the order it closes them. */
export interface DrainParts {
  readonly health: Health;
  readonly logger: Logger;
  readonly inFlight: InFlightExchanges;
  readonly sessionCount: () => number;
  readonly server: Server;
  /** Ends the listen streams (`endListens`), and the sessions and their streams (`close`). */
  readonly endpoint: { endListens(): void; close(): Promise<void> };
  /** The rest, closed once no session is left: tasks, live view, upstreams. */
  readonly others: readonly (() => void | Promise<void>)[];
  readonly telemetryShutdown: (() => Promise<void>) | undefined;
}

/**
 * Readiness fails and new requests get 503 at once (the phase), listen streams end, in-flight
 * requests finish, then sessions, the rest, the listener and telemetry are closed.
 */
export async function drain(parts: DrainParts): Promise<void> {
  const { health, logger, server } = parts;
  health.phase = 'draining';
  logger.info('draining', { inFlight: parts.inFlight.count, sessions: parts.sessionCount() });
  // A listen stream is a POST that lasts until it is ended: the drain would wait for it to the end.
  parts.endpoint.endListens();
  await parts.inFlight.idle();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await parts.endpoint.close();
  for (const close of parts.others) await close();
  // Nothing is in flight and the standalone streams are ended: what is left are idle keep-alive
  // connections, which would otherwise hold the listener open until they time out.
  server.closeAllConnections();
  await closed;
  health.phase = 'stopped';
  logger.info('stopped');
  await parts.telemetryShutdown?.();
}
