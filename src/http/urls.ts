/** Where a listening Lookout serves each of its HTTP endpoints, as announced in its start-up line. */
export interface EndpointUrls {
  readonly url: string;
  readonly metrics?: string;
  readonly health: { readonly live: string; readonly ready: string; readonly startup: string };
  readonly logs: string;
}

export function endpointUrls(options: {
  host: string;
  port: number;
  mcpPath: string;
  /** The port `/metrics` is served on, when Prometheus metrics are served at all. */
  metricsPort: number | undefined;
}): EndpointUrls {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const base = `http://${host}:${options.port}`;
  return {
    url: `${base}${options.mcpPath}`,
    ...(options.metricsPort !== undefined && { metrics: `http://${host}:${options.metricsPort}/metrics` }),
    health: { live: `${base}/health/live`, ready: `${base}/health/ready`, startup: `${base}/health/startup` },
    logs: `${base}/logs`,
  };
}
