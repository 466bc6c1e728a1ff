import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../logging/logger.ts';
import type { McpEndpoint } from '../mcp/endpoint.ts';
import { checkLoopbackHostAndOrigin } from './origin.ts';
import { replyError } from './reply.ts';

/** Express glue: routes HTTP exchanges to the MCP endpoint and health probes; no MCP logic lives here. */
export function createApp(options: {
  mcpPath: string;
  endpoint: McpEndpoint;
  logger: Logger;
  /** Bound to a loopback address: refuse foreign Host/Origin headers (DNS rebinding). */
  loopbackOnly: boolean;
}): Express {
  const { mcpPath, endpoint, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  if (options.loopbackOnly) {
    app.use(mcpPath, (req, res, next) => {
      const verdict = checkLoopbackHostAndOrigin(req.headers.host, req.headers.origin);
      if (verdict.ok) return next();
      logger.warn('refused request from a foreign host or origin', { reason: verdict.reason });
      replyError(res, 'FORBIDDEN_HOST', { detail: verdict.reason });
    });
  }
  app.post(mcpPath, (req, res) => endpoint.post(req, res));
  app.get(mcpPath, (req, res) => endpoint.get(req, res));
  app.delete(mcpPath, (req, res) => endpoint.delete(req, res));
  app.all(mcpPath, (_req, res) =>
    replyError(res, 'METHOD_NOT_ALLOWED', { headers: { allow: 'GET, POST, DELETE' } }),
  );
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.use((_req: Request, res: Response) => replyError(res, 'NOT_FOUND'));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error('request failed', { error: error instanceof Error ? error.message : String(error) });
    replyError(res, 'INTERNAL');
  });
  return app;
}
