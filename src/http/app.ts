import type { IncomingMessage, ServerResponse } from 'node:http';
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import type { LookoutConfig } from '../config/schema.ts';
import type { Health, HealthReport } from '../lifecycle/health.ts';
import type { Logger } from '../logging/logger.ts';
import { type LogRing, logLevelNames } from '../logging/ring.ts';
import type { McpEndpoint } from '../mcp/endpoint.ts';
import { nameHttpRoute } from '../telemetry/http-route.ts';
import { adminGuard } from './admin-access.ts';
import type { AdmissionRejection, ClientRateLimit, ConcurrencyGate, GateVerdict } from './admission.ts';
import {
  type Authenticator,
  principalOf,
  protectedResourceMetadata,
  resourceOrigin,
  setPrincipal,
} from './auth.ts';
import type { InFlightExchanges } from './inflight.ts';
import { mcpRoute } from './mcp-route.ts';
import { checkHostAndOrigin, type HostPolicy } from './origin.ts';
import { replyError } from './reply.ts';

export interface AppOptions {
  readonly mcpPath: string;
  readonly endpoint: McpEndpoint;
  readonly maxBodyBytes: number;
  readonly logger: Logger;
  readonly logRing: LogRing;
  readonly health: Health;
  readonly inFlight: InFlightExchanges;
  /** Which Host and Origin headers are answered (DNS-rebinding defence). */
  readonly hostPolicy: HostPolicy;
  readonly authenticator: Authenticator;
  readonly authConfig: LookoutConfig['auth'];
  readonly gate: ConcurrencyGate;
  readonly rateLimit: ClientRateLimit | undefined;
  /** Counts and logs each refused request, by reason. */
  readonly rejected: (reason: AdmissionRejection, req: Request) => void;
  /** Serves the Prometheus text exposition, when metrics are served on the main port. */
  readonly metricsHandler?: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  readonly drainRetryAfterSeconds: number;
  /** More routes (the live view), checked for Host and Origin like the others. */
  readonly extraRoutes?: RequestHandler | undefined;
}

/** Where an admitted exchange keeps the function that gives its admission slot back (`res.locals`). */
const slotRelease = 'lookoutSlotRelease';

function sendReport(res: Response, report: HealthReport): void {
  res.status(report.status === 'ok' ? 200 : 503).json(report);
}

/** Express glue: routes HTTP exchanges to the MCP endpoint, probes, metrics and logs; no MCP logic here. */
export function createApp(options: AppOptions): Express {
  const { mcpPath, logger, health, inFlight } = options;
  const route = mcpRoute(options.endpoint, options.maxBodyBytes);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  const metadataPath = '/.well-known/oauth-protected-resource';
  // Only Lookout's own paths become `http.route`: anything else stays unnamed, so scans of random
  // paths cannot blow up the metric's cardinality.
  const routes = new Set([
    mcpPath,
    '/health/live',
    '/health/ready',
    '/health/startup',
    '/metrics',
    '/logs',
    metadataPath,
    `${metadataPath}${mcpPath}`,
  ]);
  // Every request: its `http.route`, then the Host/Origin check.
  app.use((req, res, next) => {
    if (routes.has(req.path)) nameHttpRoute(req.path);
    const verdict = checkHostAndOrigin(req.headers.host, req.headers.origin, options.hostPolicy);
    if (verdict.ok) return next();
    options.rejected('host_or_origin', req);
    replyError(res, 'FORBIDDEN_HOST', { detail: verdict.reason });
  });

  // The MCP endpoint, in order: auth → admission (drain, rate limit, concurrency) → the endpoint.
  const mcp = app.route(mcpPath);
  if (options.authenticator.enabled) {
    const metadata = (req: Request, res: Response) => {
      res.json(protectedResourceMetadata(req, mcpPath, options.authConfig));
    };
    app.get(metadataPath, metadata);
    app.get(`${metadataPath}${mcpPath}`, metadata);
    mcp.all(async (req, res, next) => {
      const verdict = await options.authenticator.verify(req.headers.authorization);
      if (verdict.ok) {
        if (verdict.principal) setPrincipal(req, verdict.principal);
        return next();
      }
      options.rejected('unauthorized', req);
      const challenge = [
        `Bearer resource_metadata="${resourceOrigin(req)}${metadataPath}${mcpPath}"`,
        ...(verdict.error === 'invalid_token' ? [`error="invalid_token"`] : []),
      ].join(', ');
      replyError(res, 'UNAUTHORIZED', { detail: verdict.reason, headers: { 'www-authenticate': challenge } });
    });
  }

  const admitted = (req: Request, res: Response, next: NextFunction, verdict: GateVerdict) => {
    if (verdict !== 'admitted') {
      options.rejected(verdict, req);
      replyError(res, 'OVERLOADED', { headers: { 'retry-after': 1 } });
      return;
    }
    // Given back once: when the exchange ends, or before, when it turns into a listen stream.
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      options.gate.release();
    };
    res.once('close', release);
    res.locals[slotRelease] = release;
    inFlight.track(res);
    next();
  };
  // A standalone stream (GET) lasts as long as the session: it holds no request slot and no drain.
  const takeSlot = (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET') return next();
    const verdict = options.gate.acquire();
    if (typeof verdict === 'string') admitted(req, res, next, verdict);
    else void verdict.then((queued) => admitted(req, res, next, queued));
  };
  mcp.all((req, res, next) => {
    if (health.draining) {
      options.rejected('draining', req);
      replyError(res, 'DRAINING', {
        headers: { 'retry-after': options.drainRetryAfterSeconds, connection: 'close' },
      });
      return;
    }
    const rateLimit = options.rateLimit;
    if (!rateLimit) return takeSlot(req, res, next);
    const key = principalOf(req)?.subject ?? req.socket.remoteAddress ?? 'unknown';
    return rateLimit.check(key).then((retryAfter) => {
      if (retryAfter === undefined) return takeSlot(req, res, next);
      options.rejected('rate_limited', req);
      replyError(res, 'RATE_LIMITED', { headers: { 'retry-after': retryAfter } });
    });
  });
  mcp
    .post((req, res) => route.post(req, res, res.locals[slotRelease]))
    .get((req, res) => route.get(req, res))
    .delete((req, res) => route.delete(req, res))
    .all((_req, res) => replyError(res, 'METHOD_NOT_ALLOWED', { headers: { allow: 'GET, POST, DELETE' } }));

  app.get('/health/live', (_req, res) => sendReport(res, health.live()));
  app.get('/health/ready', (_req, res) => sendReport(res, health.ready()));
  app.get('/health/startup', (_req, res) => sendReport(res, health.startup()));
  if (options.metricsHandler) {
    const handler = options.metricsHandler;
    app.get('/metrics', (req, res) => handler(req, res));
  }
  // Log records name every client's calls: with auth on, only an admin may read them.
  const logsAccess = options.authenticator.enabled ? 'admin' : 'open';
  app.get('/logs', adminGuard(logsAccess, options.authenticator), (req, res) => {
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

  if (options.extraRoutes) app.use(options.extraRoutes);

  app.use((_req: Request, res: Response) => replyError(res, 'NOT_FOUND'));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error('request failed', { error: error instanceof Error ? error.message : String(error) });
    replyError(res, 'INTERNAL');
  });
  return app;
}
