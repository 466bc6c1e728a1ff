import { z } from 'zod';

const port = z.int().min(0).max(65535);
const positiveInt = z.int().positive();

/** A sampling rule: what it matches (all given fields must match; none = everything) and how it samples. */
const samplingRule = z.strictObject({
  method: z.string().min(1).optional(),
  tool: z.string().min(1).optional(),
  route: z.string().startsWith('/').optional(),
  transport: z.enum(['sse', 'json']).optional(),
  sample: z.union([
    z.enum(['always', 'never']),
    z.strictObject({ ratio: z.number().min(0).max(1) }),
    z.strictObject({ targetPerSecond: z.number().positive() }),
  ]),
});

const seconds = z.number().positive();

/** An upstream MCP server whose tools Lookout serves under its name. */
const upstreamSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only'),
    transport: z.enum(['stdio', 'http']),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    url: z.url().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    tools: z
      .strictObject({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).default([]) })
      .prefault({}),
    timeouts: z
      .strictObject({
        /** A stdio child's time to answer `initialize` before it is reported slow; it is not killed. */
        startupSeconds: seconds.default(120),
        /** An HTTP upstream's time to answer `initialize`; a later attempt follows with backoff. */
        connectSeconds: seconds.default(10),
        requestSeconds: seconds.default(30),
        /**
         * `era: auto` over stdio: a child that has not answered `server/discover` by then is taken as a
         * 2025 server (silence on a pipe is how some answer an unknown request before `initialize`).
         */
        probeSeconds: seconds.default(10),
      })
      .prefault({}),
    /** The largest message (a result, usually) taken from the upstream; a larger one fails its call only. */
    maxResultBytes: positiveInt.default(10 * 1024 * 1024),
    retry: z.strictObject({ attempts: z.int().min(0).max(10).default(2) }).prefault({}),
    breaker: z
      .strictObject({
        consecutiveFailures: positiveInt.default(5),
        halfOpenAfterSeconds: seconds.default(30),
      })
      .prefault({}),
    concurrency: z
      .strictObject({ limit: positiveInt.default(32), queue: z.int().min(0).default(64) })
      .prefault({}),
    restart: z
      .strictObject({
        maxRestarts: positiveInt.default(5),
        windowSeconds: seconds.default(300),
        holdSeconds: seconds.default(60),
        initialBackoffSeconds: seconds.default(0.25),
        maxBackoffSeconds: seconds.default(5),
        /** A connection up this long resets the backoff and the crash-loop count. */
        stableAfterSeconds: seconds.default(60),
      })
      .prefault({}),
    /**
     * An MCP `ping` every `intervalSeconds` (0 = off) while connected: one that has not been answered
     * within `timeoutSeconds`, for `graceSeconds`, makes the upstream count as hung.
     */
    health: z
      .strictObject({
        intervalSeconds: z.number().min(0).default(15),
        timeoutSeconds: seconds.default(5),
        graceSeconds: z.number().min(0).default(30),
      })
      .prefault({}),
    /**
     * Serve its tools and prompts as `<name><separator><tool>` (true), or under the upstream's own
     * names (false). A name served twice stays with Lookout's own tools first, then upstreams in
     * config order; the later ones are skipped with a warning.
     */
    prefix: z.boolean().default(true),
    /**
     * The protocol era spoken to it: `auto` asks `server/discover` first and speaks 2026-07-28 to an
     * upstream that serves it, 2025 (`initialize`) to any other, and keeps that verdict for every later
     * connection to it; `legacy` only 2025; `modern` only 2026-07-28.
     */
    era: z.enum(['auto', 'legacy', 'modern']).default('auto'),
    /** Lookout is not ready while a required upstream is down. */
    required: z.boolean().default(false),
    /**
     * Which clients share a connection to the upstream for their calls: one per downstream `session`,
     * one per auth `subject` (per session without auth), or one `shared` by all (only for servers that
     * keep no state per connection). Unset: `session` over HTTP, `subject` over stdio.
     */
    isolation: z.enum(['session', 'subject', 'shared']).optional(),
    /** The isolated connections (stdio: processes) kept open at most, and how long an idle one lives. */
    connections: z
      .strictObject({ max: positiveInt.default(16), idleSeconds: seconds.default(300) })
      .prefault({}),
    /**
     * For servers not safe to call concurrently: `exclusive` runs one request at a time (all tools,
     * reads, prompts); `tools` gives tools a named lock, so tools naming the same lock wait for each
     * other. A call waits `waitSeconds` at most; one holding a lock `maxHoldSeconds` is cancelled.
     */
    locks: z
      .strictObject({
        exclusive: z.boolean().default(false),
        tools: z.record(z.string(), z.string().min(1)).default({}),
        waitSeconds: seconds.default(30),
        maxHoldSeconds: seconds.default(300),
      })
      .prefault({}),
    /**
     * `resources/read` answers kept for their `ttlMs` when the upstream gives one, else `ttlSeconds`
     * (0: only what the upstream allows); at most `maxEntries` (0: no cache) and `maxBytes` of them.
     */
    cache: z
      .strictObject({
        ttlSeconds: z.number().min(0).default(0),
        maxEntries: z.int().min(0).default(1000),
        maxBytes: positiveInt.default(16 * 1024 * 1024),
      })
      .prefault({}),
  })
  .refine((u) => (u.transport === 'stdio' ? u.command !== undefined : u.url !== undefined), {
    message: 'a stdio upstream needs command, an http upstream needs url',
  });

export type UpstreamConfig = z.output<typeof upstreamSchema>;

export const logLevels = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

export const configSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8787),
  mcp: z
    .strictObject({
      path: z.string().startsWith('/').default('/mcp'),
      stateless: z.boolean().default(false),
      maxSessions: positiveInt.default(10_000),
      sessionIdleTtlSeconds: positiveInt.default(1800),
      maxBodyBytes: positiveInt.default(4 * 1024 * 1024),
      sseKeepAliveSeconds: z.int().min(0).default(25),
      /** Base64 AES-256 keys shared by the replicas: session ids then carry the session (the first key issues). */
      sessionKeys: z
        .array(z.string().refine((k) => Buffer.from(k, 'base64').length === 32, 'a base64 key of 32 bytes'))
        .default([]),
    })
    .prefault({}),
  tools: z.array(z.string().min(1)).default([]),
  upstreams: z
    .array(upstreamSchema)
    .default([])
    .refine((list) => new Set(list.map((u) => u.name)).size === list.length, {
      message: 'upstream names must be unique',
    }),
  gateway: z
    .strictObject({
      /** Between an upstream's name and its tool's: `<upstream><separator><tool>`. */
      separator: z.string().min(1).max(8).default('__'),
      /**
       * What stdio children inherit of Lookout's environment (their own `env` is added on top): every
       * variable but those matching `deny`, unless they match `allow` (names; `*` matches any run).
       */
      childEnv: z
        .strictObject({
          deny: z.array(z.string().min(1)).default(['LOOKOUT_*', 'OTEL_EXPORTER_OTLP_*HEADERS']),
          allow: z.array(z.string().min(1)).default([]),
        })
        .prefault({}),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(logLevels).default('info'),
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      ringBufferSize: z.int().min(0).max(100_000).default(1000),
    })
    .prefault({}),
  shutdown: z.strictObject({ drainTimeoutSeconds: positiveInt.default(30) }).prefault({}),
  live: z
    .strictObject({
      /** Jaeger's UI (e.g. http://localhost:16686): the live view links each trace to it. */
      jaegerUrl: z.url().optional(),
    })
    .prefault({}),
  security: z
    .strictObject({
      /** Host names (with or without port) accepted besides loopback ones; any Host when empty on a non-loopback bind. */
      allowedHosts: z.array(z.string().min(1)).default([]),
      /** Origins (scheme://host[:port]) accepted in an Origin header; loopback origins are always accepted on loopback binds. */
      allowedOrigins: z.array(z.string().min(1)).default([]),
      /** Tool modules must carry an Ed25519 signature (`<module>.sig`) by one of these keys (PEM, or a path to one). */
      signedModules: z
        .strictObject({
          required: z.boolean().default(false),
          trustedKeys: z.array(z.string().min(1)).default([]),
        })
        .prefault({})
        .refine((m) => !m.required || m.trustedKeys.length > 0, {
          message: 'required signatures need at least one trusted key',
        }),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** Static bearer tokens, stored as the hex SHA-256 of the token. */
      tokens: z
        .array(
          z.strictObject({
            sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
            subject: z.string().min(1),
            scopes: z.array(z.string()).default([]),
          }),
        )
        .default([]),
      jwt: z
        .strictObject({
          jwksUrl: z.url().optional(),
          publicKey: z.string().min(1).optional(),
          algorithms: z.array(z.string()).default(['RS256', 'ES256', 'EdDSA']),
          issuer: z.string().min(1),
          audience: z.string().min(1),
          clockSkewSeconds: z.int().min(0).default(30),
        })
        .refine((j) => (j.jwksUrl === undefined) !== (j.publicKey === undefined), {
          message: 'give exactly one of jwksUrl and publicKey',
        })
        .optional(),
      /** Authorization servers named in the protected-resource metadata (RFC 9728). */
      authorizationServers: z.array(z.url()).default([]),
      /** Scopes a tool needs: tool name (or prefix ending in *) → every listed scope. */
      toolScopes: z.record(z.string(), z.array(z.string())).default({}),
    })
    .prefault({}),
  admission: z
    .strictObject({
      /** Requests on /mcp handled at once; more wait in a queue. */
      maxConcurrent: positiveInt.default(256),
      queue: z.int().min(0).default(1024),
      queueTimeoutSeconds: seconds.default(5),
      /** Requests per second per client (auth subject, else IP); 0 = no limit. */
      ratePerSecond: z.number().min(0).default(0),
      burst: positiveInt.default(50),
      toolTimeoutSeconds: seconds.default(120),
      toolTimeouts: z.record(z.string(), seconds).default({}),
    })
    .prefault({}),
  telemetry: z
    .strictObject({
      enabled: z.boolean().default(true),
      environment: z.string().min(1).default('development'),
      /** Serve Prometheus metrics at /metrics; on the main port unless a port of its own is given. */
      prometheus: z.boolean().default(true),
      metricsPort: port.optional(),
      /** How often metrics are pushed (OTLP, console), unless OTEL_METRIC_EXPORT_INTERVAL says otherwise. */
      otlpMetricsIntervalSeconds: positiveInt.default(15),
      /** Which log records are exported (the stdout line is written for every one): see logging/export-filter.ts. */
      logs: z.strictObject({ export: z.enum(['sampled', 'all']).default('sampled') }).prefault({}),
      /** Record tool arguments and results on spans and log lines (off: they may hold personal data). */
      recordArguments: z.boolean().default(false),
      recordResults: z.boolean().default(false),
      /** Applied to recorded arguments and results: keys whose values are masked, and patterns masked in strings. */
      redact: z
        .strictObject({ keys: z.array(z.string()).default([]), patterns: z.array(z.string()).default([]) })
        .prefault({}),
      sampling: z
        .strictObject({
          targetPerSecond: z.number().positive().default(10),
          globalCeilingPerSecond: z.number().positive().default(100),
          floorProbability: z.number().min(0).max(1).default(0.001),
          burst: z.number().min(0).default(10),
          windowSeconds: positiveInt.default(10),
          maxKeys: positiveInt.default(200),
          rules: z.array(samplingRule).default([]),
          /** Export an MCP request that failed (JSON-RPC error or tool error) even when it was not sampled. */
          keepErrors: z.boolean().default(true),
          /** Export an MCP request at least this slow even when it was not sampled (0 = off). */
          keepSlowerThanSeconds: z.number().min(0).default(1),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type LookoutConfig = Readonly<z.output<typeof configSchema>>;
