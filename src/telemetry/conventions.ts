/**
 * The naming contract: span names, attribute keys, metric names, units and bucket boundaries, read by
 * the code, the tests, and the dashboard and alert-rule checks. MCP names follow the OpenTelemetry
 * semantic conventions for MCP (semconv 1.39+, status: development); Lookout's own use `lookout.`.
 */
export const attr = {
  mcpMethodName: 'mcp.method.name',
  mcpSessionId: 'mcp.session.id',
  mcpProtocolVersion: 'mcp.protocol.version',
  mcpResourceUri: 'mcp.resource.uri',
  jsonrpcRequestId: 'jsonrpc.request.id',
  genAiToolName: 'gen_ai.tool.name',
  genAiPromptName: 'gen_ai.prompt.name',
  genAiOperationName: 'gen_ai.operation.name',
  /** Opt-in: they may hold personal data. */
  genAiToolCallArguments: 'gen_ai.tool.call.arguments',
  genAiToolCallResult: 'gen_ai.tool.call.result',
  rpcResponseStatusCode: 'rpc.response.status_code',
  errorType: 'error.type',
  networkTransport: 'network.transport',
  networkProtocolName: 'network.protocol.name',
  networkProtocolVersion: 'network.protocol.version',
  clientAddress: 'client.address',
  clientPort: 'client.port',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  cpuMode: 'cpu.mode',
  otelSpanParentOrigin: 'otel.span.parent.origin',
  otelSpanSamplingResult: 'otel.span.sampling_result',
  httpRequestMethod: 'http.request.method',
  httpRequestMethodOriginal: 'http.request.method_original',
  httpResponseStatusCode: 'http.response.status_code',
  httpRoute: 'http.route',
  urlScheme: 'url.scheme',
  urlPath: 'url.path',
  urlQuery: 'url.query',
  urlFull: 'url.full',
  networkPeerAddress: 'network.peer.address',
  networkPeerPort: 'network.peer.port',
  userAgentOriginal: 'user_agent.original',
  /** Lookout's: why an operation ended without a reply (cancelled by the client, session closed). */
  lookoutOutcome: 'lookout.outcome',
  lookoutExportSignal: 'lookout.telemetry.signal',
  /** The configured name of the upstream MCP server a client span or metric is about. */
  lookoutUpstream: 'lookout.upstream',
  lookoutBreakerState: 'lookout.breaker.state',
  /** `hit` or `miss` of a response cache lookup. */
  lookoutCacheResult: 'lookout.cache.result',
  /** Why a cache entry left: `size`, `expired` or `invalidated`. */
  lookoutCacheEvictionReason: 'lookout.cache.eviction.reason',
  lookoutAdmissionReason: 'lookout.admission.reason',
  /** A short hash of the authenticated subject: the subject itself never appears in telemetry. */
  lookoutSubjectHash: 'lookout.auth.subject_hash',
} as const;

export const values = {
  executeTool: 'execute_tool',
  toolError: 'tool_error',
  other: '_OTHER',
  tcp: 'tcp',
  http: 'http',
  cancelled: 'cancelled',
} as const;

/** The name of the tracer and meter Lookout's own telemetry is made with. */
export const instrumentationScope = 'lookout';

/**
 * The schema of the conventions that telemetry follows, on its instrumentation scope: the MCP
 * conventions now live in semantic-conventions-genai, whose registry publishes this development
 * schema (over the core conventions it depends on, HTTP and RPC among them).
 */
export const schemaUrl = 'https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev';

/** Lookout's instrumentation scope: its name, its version and the conventions' schema. */
export interface LookoutScope {
  readonly name: string;
  readonly version: string;
  readonly schemaUrl: string;
}

export function lookoutScope(version: string): LookoutScope {
  return { name: instrumentationScope, version, schemaUrl };
}

/** `{mcp.method.name} {target}`, target being the tool or prompt name when there is one. */
export function mcpSpanName(method: string, target: string | undefined): string {
  return target === undefined ? method : `${method} ${target}`;
}

export const metricNames = {
  serverOperationDuration: 'mcp.server.operation.duration',
  serverSessionDuration: 'mcp.server.session.duration',
  clientOperationDuration: 'mcp.client.operation.duration',
  clientSessionDuration: 'mcp.client.session.duration',
  httpServerRequestDuration: 'http.server.request.duration',
  httpClientRequestDuration: 'http.client.request.duration',
  /** Spans, metric points and log records the exporters could not deliver. */
  telemetryExportFailures: 'lookout.telemetry.export.failures',
  telemetryExportedItems: 'lookout.telemetry.exported',
  upstreamRestarts: 'lookout.upstream.restarts',
  admissionRejections: 'lookout.admission.rejections',
  admissionActive: 'lookout.admission.active',
  admissionQueued: 'lookout.admission.queued',
  upstreamBreakerState: 'lookout.upstream.breaker.state',
  upstreamQueueDepth: 'lookout.upstream.queue.depth',
  upstreamLockWaiting: 'lookout.upstream.lock.waiting',
  upstreamCacheLookups: 'lookout.upstream.cache.lookups',
  upstreamCacheEvictions: 'lookout.upstream.cache.evictions',
  processCpuTime: 'process.cpu.time',
  processMemoryUsage: 'process.memory.usage',
  /** The semantic conventions' metrics of an SDK about itself. */
  sdkSpanStarted: 'otel.sdk.span.started',
  sdkSpanLive: 'otel.sdk.span.live',
  sdkLogCreated: 'otel.sdk.log.created',
} as const;

export const units = { seconds: 's', items: '{item}', bytes: 'By' } as const;

/** The semconv's advised boundaries for MCP durations; they start at 10 ms. */
export const semconvDurationBuckets = [
  0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
] as const;

/** The semconv's boundaries plus finer ones below 10 ms, so a millisecond latency SLO can be computed. */
export const operationDurationBuckets = [0.0005, 0.001, 0.0025, 0.005, ...semconvDurationBuckets] as const;

/** MCP methods a metric may carry by name; anything else is recorded as `_OTHER`. */
export const knownMethods: ReadonlySet<string> = new Set([
  'completion/complete',
  'elicitation/create',
  'initialize',
  'logging/setLevel',
  'notifications/cancelled',
  'notifications/initialized',
  'notifications/message',
  'notifications/progress',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
  'notifications/resources/updated',
  'notifications/roots/list_changed',
  'notifications/subscriptions/acknowledged',
  'notifications/tools/list_changed',
  'ping',
  'prompts/get',
  'prompts/list',
  'resources/list',
  'resources/read',
  'resources/subscribe',
  'resources/templates/list',
  'resources/unsubscribe',
  'roots/list',
  'sampling/createMessage',
  'server/discover',
  'subscriptions/listen',
  'tasks/cancel',
  'tasks/get',
  'tasks/update',
  'tools/call',
  'tools/list',
]);
