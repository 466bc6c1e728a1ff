import { urlOf } from './listen.ts';

/** Where a listening Lookout serves each of its HTTP endpoints, as announced in its start-up line. */
export interface EndpointUrls {
  readonly url: string;
  readonly metrics?: string;
  readonly health: { readonly live: string; readonly ready: string; readonly startup: string };
  readonly logs: string;
  /** The live view's page, when it is served (see live/access.ts). */
  readonly live?: string;
}

export function endpointUrls(options: {
  host: string;
  port: number;
  mcpPath: string;
  /** The port `/metrics` is served on, when Prometheus metrics are served at all. */
  metricsPort: number | undefined;
  liveView: boolean;
}): EndpointUrls {
  const at = (path: string) => urlOf(options.host, options.port, path);
  return {
    url: at(options.mcpPath),
    ...(options.metricsPort !== undefined && {
      metrics: urlOf(options.host, options.metricsPort, '/metrics'),
    }),
    health: { live: at('/health/live'), ready: at('/health/ready'), startup: at('/health/startup') },
    logs: at('/logs'),
    ...(options.liveView && { live: at('/') }),
  };
}
