import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';

export interface PrometheusEndpoint {
  /** Serves /metrics on the main port; undefined when it has a port of its own. */
  readonly handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  close(): void;
}

/**
 * Serves the Prometheus text exposition: on the main port by default, or at /metrics on a port of its
 * own (`OTEL_EXPORTER_PROMETHEUS_PORT`, or `telemetry.metricsPort`).
 */
export function servePrometheus(
  exporter: PrometheusExporter,
  where: { readonly host: string; readonly port: number | undefined },
  onError: (error: Error) => void,
): PrometheusEndpoint {
  const handler = exporter.getMetricsRequestHandler.bind(exporter);
  if (where.port === undefined) return { handler, close: () => {} };
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] === '/metrics') handler(req, res);
    else res.writeHead(404).end();
  });
  server.on('error', onError);
  server.listen(where.port, where.host);
  return { handler: undefined, close: () => server.close() };
}
