import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Health, HealthReport } from '../lifecycle/health.ts';
import type { Logger } from '../logging/logger.ts';
import { type LogRing, logLevelNames } from '../logging/ring.ts';
import type { McpEndpoint } from '../mcp/endpoint.ts';
import type { InFlight } from './inflight.ts';
import { checkLoopbackHostAndOrigin } from './origin.ts';
import { replyError } from './reply.ts';

export interface AppOptions {
  readonly mcpPath: string;
  readonly endpoint: McpEndpoint;
  readonly logger: Logger;
  readonly logRing: LogRing;
  readonly health: Health;
  readonly inFlight: InFlight;
  /** Bound to a loopback address: refuse foreign Host/Origin headers (DNS rebinding). */
  readonly loopbackOnly: boolean;
  /** Serves the Prometheus text exposition, when metrics are served on the main port. */
  readonly metricsHandler?: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  readonly drainRetryAfterSeconds: number;
}

function sendReport(res: Response, report: HealthReport): void {
  res.status(report.status === 'ok' ? 200 : 503).json(report);
}

/** Express glue: routes HTTP exchanges to the MCP endpoint, probes, metrics and logs; no MCP logic here. */
export function createApp(options: AppOptions): Express {
  const { mcpPath, endpoint, logger, health, inFlight } = options;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  if (options.loopbackOnly) {
    app.use((req, res, next) => {
      const verdict = checkLoopbackHostAndOrigin(req.headers.host, req.headers.origin);
      if (verdict.ok) return next();
      logger.warn('refused request from a foreign host or origin', { reason: verdict.reason });
      replyError(res, 'FORBIDDEN_HOST', { detail: verdict.reason });
    });
  }

  app.use(mcpPath, (req, res, next) => {
    if (health.draining) {
      replyError(res, 'DRAINING', {
        headers: { 'retry-after': options.drainRetryAfterSeconds, connection: 'close' },
      });
      return;
    }
    if (req.method !== 'GET') inFlight.track(res);
    next();
  });
  app.post(mcpPath, (req, res) => endpoint.post(req, res));
  app.get(mcpPath, (req, res) => endpoint.get(req, res));
  app.delete(mcpPath, (req, res) => endpoint.delete(req, res));
  app.all(mcpPath, (_req, res) =>
    replyError(res, 'METHOD_NOT_ALLOWED', { headers: { allow: 'GET, POST, DELETE' } }),
  );

  app.get('/health/live', (_req, res) => sendReport(res, health.live()));
  app.get('/health/ready', (_req, res) => sendReport(res, health.ready()));
  app.get('/health/startup', (_req, res) => sendReport(res, health.startup()));
  if (options.metricsHandler) {
    const handler = options.metricsHandler;
    app.get('/metrics', (req, res) => handler(req, res));
  }
  app.get('/logs', (req, res) => {
    const { level, trace_id: traceId, limit } = req.query as Record<string, string | undefined>;
    const parsedLimit = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(parsedLimit) || parsedLimit < 1 || parsedLimit > 10_000) {
      res.status(400).json({ error: 'limit must be an integer from 1 to 10000' });
      return;
    }
    if (level !== undefined && !logLevelNames.includes(level)) {
      res.status(400).json({ error: `level must be one of ${logLevelNames.join(', ')}` });
      return;
    }
    res.json({
      records: options.logRing.query({
        ...(level !== undefined && { level }),
        ...(traceId !== undefined && { traceId }),
        limit: parsedLimit,
      }),
    });
  });

  app.use((_req: Request, res: Response) => replyError(res, 'NOT_FOUND'));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error('request failed', { error: error instanceof Error ? error.message : String(error) });
    replyError(res, 'INTERNAL');
  });
  return app;
}
