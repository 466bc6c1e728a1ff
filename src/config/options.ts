/**
 * Every config key that can also be set from the environment or the command line. The loader, `--help`
 * and the config reference (docs/configuration.md) all follow this table.
 */
export type OptionKind = 'string' | 'integer' | 'number' | 'boolean' | 'list';

export interface OptionSpec {
  /** Dotted path in the config object. */
  readonly key: string;
  readonly env: string;
  readonly flag: string;
  readonly kind: OptionKind;
  /** The expected form, as printed in errors and help. */
  readonly form: string;
  readonly help: string;
  readonly secret?: boolean;
}

export const options: readonly OptionSpec[] = [
  {
    key: 'host',
    env: 'LOOKOUT_HOST',
    flag: 'host',
    kind: 'string',
    form: 'hostname or IP address',
    help: 'Interface to listen on (default 127.0.0.1)',
  },
  {
    key: 'port',
    env: 'LOOKOUT_PORT',
    flag: 'port',
    kind: 'integer',
    form: 'integer 0-65535',
    help: 'TCP port; 0 picks a free one (default 8787)',
  },
  {
    key: 'mcp.path',
    env: 'LOOKOUT_MCP_PATH',
    flag: 'mcp-path',
    kind: 'string',
    form: 'URL path starting with /',
    help: 'Path of the MCP endpoint (default /mcp)',
  },
  {
    key: 'mcp.stateless',
    env: 'LOOKOUT_STATELESS',
    flag: 'stateless',
    kind: 'boolean',
    form: 'true or false',
    help: 'Serve without sessions (default false)',
  },
  {
    key: 'mcp.maxSessions',
    env: 'LOOKOUT_MAX_SESSIONS',
    flag: 'max-sessions',
    kind: 'integer',
    form: 'positive integer',
    help: 'Most sessions held at once (default 10000)',
  },
  {
    key: 'mcp.sessionIdleTtlSeconds',
    env: 'LOOKOUT_SESSION_IDLE_TTL',
    flag: 'session-idle-ttl',
    kind: 'integer',
    form: 'positive integer (seconds)',
    help: 'Idle time after which a session expires (default 1800)',
  },
  {
    key: 'mcp.maxBodyBytes',
    env: 'LOOKOUT_MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    kind: 'integer',
    form: 'positive integer (bytes)',
    help: 'Largest accepted request body (default 4194304)',
  },
  {
    key: 'mcp.sseKeepAliveSeconds',
    env: 'LOOKOUT_SSE_KEEPALIVE',
    flag: 'sse-keepalive',
    kind: 'integer',
    form: 'integer >= 0 (seconds; 0 = off)',
    help: 'Comment line sent on idle SSE streams (default 25)',
  },
  {
    key: 'mcp.sessionKeys',
    env: 'LOOKOUT_SESSION_KEYS',
    flag: 'session-keys',
    kind: 'list',
    form: 'comma-separated base64 keys of 32 bytes (openssl rand -base64 32)',
    help: 'Keys shared by replicas so that any of them serves any session (default none: sessions stay on one process)',
    secret: true,
  },
  {
    key: 'tools',
    env: 'LOOKOUT_TOOLS',
    flag: 'tools',
    kind: 'list',
    form: 'comma-separated module paths',
    help: 'Tool modules to load (default none)',
  },
  {
    key: 'log.level',
    env: 'LOOKOUT_LOG_LEVEL',
    flag: 'log-level',
    kind: 'string',
    form: 'error|warn|info|http|verbose|debug|silly',
    help: 'Log level (default info)',
  },
  {
    key: 'log.format',
    env: 'LOOKOUT_LOG_FORMAT',
    flag: 'log-format',
    kind: 'string',
    form: 'auto|json|pretty',
    help: 'auto = pretty on a TTY, JSON otherwise (default auto)',
  },
  {
    key: 'log.ringBufferSize',
    env: 'LOOKOUT_LOG_RING_SIZE',
    flag: 'log-ring-size',
    kind: 'integer',
    form: 'integer 0-100000',
    help: 'Recent log records kept for GET /logs and lookout.logs.query (default 1000)',
  },
  {
    key: 'telemetry.enabled',
    env: 'LOOKOUT_TELEMETRY',
    flag: 'telemetry',
    kind: 'boolean',
    form: 'true or false',
    help: 'OpenTelemetry traces, metrics and logs (default true; OTEL_SDK_DISABLED=true also turns it off)',
  },
  {
    key: 'telemetry.environment',
    env: 'LOOKOUT_ENVIRONMENT',
    flag: 'environment',
    kind: 'string',
    form: 'non-empty string',
    help: 'deployment.environment.name resource attribute (default development)',
  },
  {
    key: 'telemetry.prometheus',
    env: 'LOOKOUT_PROMETHEUS',
    flag: 'prometheus',
    kind: 'boolean',
    form: 'true or false',
    help: 'Serve Prometheus metrics at /metrics, when OTEL_METRICS_EXPORTER is unset (default true)',
  },
  {
    key: 'telemetry.metricsPort',
    env: 'LOOKOUT_METRICS_PORT',
    flag: 'metrics-port',
    kind: 'integer',
    form: 'integer 0-65535',
    help: 'Serve /metrics on this port instead of the main one; OTEL_EXPORTER_PROMETHEUS_PORT wins (default: main port)',
  },
  {
    key: 'telemetry.otlpMetricsIntervalSeconds',
    env: 'LOOKOUT_OTLP_METRICS_INTERVAL',
    flag: 'otlp-metrics-interval',
    kind: 'integer',
    form: 'positive integer (seconds)',
    help: 'Metric push interval (OTLP, console); OTEL_METRIC_EXPORT_INTERVAL (ms) wins (default 15)',
  },
  {
    key: 'telemetry.logs.export',
    env: 'LOOKOUT_LOGS_EXPORT',
    flag: 'logs-export',
    kind: 'string',
    form: 'sampled|all',
    help: 'Log records exported (stdout keeps every line): sampled = those of sampled, failed and slow calls, and all outside calls; all = every one (default sampled)',
  },
  {
    key: 'telemetry.sampling.targetPerSecond',
    env: 'LOOKOUT_SAMPLING_TARGET',
    flag: 'sampling-target',
    kind: 'number',
    form: 'positive number (traces per second)',
    help: 'Sampled traces per second to aim for, per sampling key (default 10)',
  },
  {
    key: 'telemetry.sampling.globalCeilingPerSecond',
    env: 'LOOKOUT_SAMPLING_CEILING',
    flag: 'sampling-ceiling',
    kind: 'number',
    form: 'positive number (traces per second)',
    help: 'Sampled traces per second for all keys together, at most (default 100)',
  },
  {
    key: 'live.jaegerUrl',
    env: 'LOOKOUT_JAEGER_URL',
    flag: 'jaeger-url',
    kind: 'string',
    form: 'URL of the Jaeger UI',
    help: 'The live view at / links each trace to this Jaeger (default none)',
  },
  {
    key: 'admission.maxConcurrent',
    env: 'LOOKOUT_MAX_CONCURRENT',
    flag: 'max-concurrent',
    kind: 'integer',
    form: 'positive integer',
    help: 'Requests on /mcp handled at once; more wait in a bounded queue (default 256)',
  },
  {
    key: 'admission.ratePerSecond',
    env: 'LOOKOUT_RATE_LIMIT',
    flag: 'rate-limit',
    kind: 'number',
    form: 'number >= 0 (requests per second; 0 = off)',
    help: 'Requests per second per client, with a burst allowance (default 0, off)',
  },
  {
    key: 'shutdown.drainTimeoutSeconds',
    env: 'LOOKOUT_DRAIN_TIMEOUT',
    flag: 'drain-timeout',
    kind: 'integer',
    form: 'positive integer (seconds)',
    help: 'Longest graceful drain before a forced exit (default 30)',
  },
];

export const optionByKey: ReadonlyMap<string, OptionSpec> = new Map(options.map((o) => [o.key, o]));
