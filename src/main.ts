import { admission, authenticatorFor } from './composition/admission.ts';
import { fillCatalog, mcpServerTelemetry } from './composition/catalog.ts';
import { drain } from './composition/drain.ts';
import { endpointOptions, taskStoreFor } from './composition/endpoint-options.ts';
import { healthDefinitions } from './composition/health-resources.ts';
import type { LookoutConfig } from './config/schema.ts';
import { createApp } from './http/app.ts';
import { InFlightExchanges } from './http/inflight.ts';
import { listen } from './http/listen.ts';
import { isLoopbackAddress } from './http/origin.ts';
import { endpointUrls } from './http/urls.ts';
import { Health } from './lifecycle/health.ts';
import { createLiveView } from './live/routes.ts';
import { logExportFilter } from './logging/export-filter.ts';
import { createLogging, type Logger, type Logging } from './logging/logger.ts';
import { McpEndpoint } from './mcp/endpoint.ts';
import { SessionRegistry } from './mcp/sessions.ts';
import { lookoutScope } from './telemetry/conventions.ts';
import { lookoutMeter, lookoutTracer } from './telemetry/lookout-scope.ts';
import { McpClientTelemetry } from './telemetry/mcp-client.ts';
import { sdkHistograms } from './telemetry/own-histograms.ts';
import { registerProcessMetrics } from './telemetry/process-metrics.ts';
import type { TelemetryRuntime } from './telemetry/runtime.ts';
import type { Definition } from './tools/api.ts';
import { builtinTools } from './tools/builtin.ts';
import { Catalog } from './tools/catalog.ts';
import { Gateway } from './upstreams/gateway.ts';
import { version } from './version.ts';

export interface Lookout {
  /** The MCP endpoint's URL, with the port actually bound. */
  readonly url: string;
  readonly port: number;
  readonly logger: Logger;
  readonly health: Health;
  /** Serves another tool, resource or prompt from now on; connected clients are told the list changed. */
  register(definition: Definition): void;
  /** Tells the sessions subscribed to this resource that it changed (`notifications/resources/updated`). */
  resourceUpdated(uri: string): void;
  /**
   * Graceful stop: readiness fails and new requests get 503 at once, in-flight requests finish, then
   * sessions, listener and telemetry are closed. Bound it with a timer of your own.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logging?: Logging;
  /** The running telemetry bootstrap, when the CLI started one (see telemetry/bootstrap.ts). */
  readonly telemetry?: TelemetryRuntime;
  /** Definitions to serve besides the built-ins and the modules named in config. */
  readonly definitions?: readonly Definition[];
  /** The environment stdio upstreams inherit (minus `gateway.childEnv.deny`); `process.env` by default. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
}

/** Builds and starts one Lookout. Nothing global but OpenTelemetry's API: several can run in one process. */
export async function startLookout(config: LookoutConfig, options: StartOptions = {}): Promise<Lookout> {
  const logging =
    options.logging ??
    createLogging(config, {
      exportToOtel: options.telemetry?.otlpLogs ?? false,
      exportFilter: logExportFilter(config.telemetry),
    });
  const { logger } = logging;
  options.telemetry?.attachLogger(logger);
  const health = new Health();
  const scope = lookoutScope(version);
  const tracer = lookoutTracer(scope);
  const meter = lookoutMeter(scope);
  const histograms = options.telemetry?.histograms ?? sdkHistograms(meter);
  const startedAt = Date.now();

  const catalog = new Catalog();
  const telemetry = mcpServerTelemetry(config, catalog, { tracer, histograms, logger });
  const sessions = new SessionRegistry({
    max: config.mcp.maxSessions,
    idleTtlSeconds: config.mcp.sessionIdleTtlSeconds,
    onEnded: (session) => {
      telemetry.sessionEnded(session.createdAt, session.protocolVersion);
      gateway.sessionEnded(session.id);
    },
  });
  const builtins = builtinTools({
    version,
    startedAt,
    sessions,
    stateless: config.mcp.stateless,
    toolCount: () => catalog.toolCount,
    logRing: logging.ring,
    telemetryStatus: () =>
      options.telemetry?.sampling() ?? { sampler: 'telemetry not started (library use)' },
  });
  const authenticator = authenticatorFor(config, logger);
  const probes = healthDefinitions(config, {
    health,
    startedAt,
    authEnabled: authenticator.enabled,
    upstreams: () => gateway.status(),
  });
  await fillCatalog(catalog, config, [...builtins, ...probes, ...(options.definitions ?? [])]);

  const gateway = new Gateway(config, {
    catalog,
    logger,
    health,
    telemetry: new McpClientTelemetry(tracer, histograms),
    meter,
    environment: options.environment ?? process.env,
  });

  const tasks = taskStoreFor(config);
  const endpoint = await McpEndpoint.create(
    {
      ...endpointOptions(config, catalog, telemetry, tasks, logger),
      onRootsChanged: (sessionId) => gateway.rootsChanged(sessionId),
    },
    sessions,
  );
  catalog.onChange((list) => endpoint.broadcast(`notifications/${list}/list_changed`));

  const inFlight = new InFlightExchanges();
  const live = createLiveView({
    listenerIsLoopback: isLoopbackAddress(config.host),
    authenticator,
    logger,
    logRing: logging.ring,
    health,
    upstreams: () => gateway.status(),
    telemetry: options.telemetry?.live,
    sampling: () => options.telemetry?.sampling(),
    jaegerUrl: config.live.jaegerUrl,
  });
  const app = createApp({
    mcpPath: config.mcp.path,
    endpoint,
    maxBodyBytes: config.mcp.maxBodyBytes,
    logger,
    logRing: logging.ring,
    health,
    inFlight,
    hostPolicy: {
      loopbackOnly: isLoopbackAddress(config.host),
      allowedHosts: config.security.allowedHosts,
      allowedOrigins: config.security.allowedOrigins,
    },
    authenticator,
    authConfig: config.auth,
    ...admission(config, meter, logger),
    metricsHandler: options.telemetry?.metricsHandler,
    drainRetryAfterSeconds: 5,
    extraRoutes: live?.router,
  });
  registerProcessMetrics(meter);

  const { server, port } = await listen(app, {
    host: config.host,
    port: config.port,
    maxBodyBytes: config.mcp.maxBodyBytes,
    telemetry:
      options.telemetry?.enabled === false
        ? undefined
        : {
            tracer,
            histograms,
            early: options.telemetry?.exchangeSampling && {
              sampling: options.telemetry.exchangeSampling,
              mcpPath: config.mcp.path,
            },
          },
  });
  const urls = endpointUrls({
    host: config.host,
    port,
    mcpPath: config.mcp.path,
    metricsPort: options.telemetry?.metricsHandler ? port : options.telemetry?.metricsPort,
    liveView: live !== undefined,
  });
  const { url } = urls;
  health.phase = 'serving';
  // Only once listening: a start-up that fails leaves no child process behind.
  gateway.start();
  logger.info('lookout listening', {
    ...urls,
    version,
    stateless: config.mcp.stateless,
    tools: catalog.toolCount,
  });

  const runtime = options.telemetry;
  const stop = () =>
    drain({
      health,
      logger,
      inFlight,
      sessionCount: () => sessions.size,
      server,
      endpoint,
      others: [() => tasks.close(), () => live?.close(), () => gateway.close()],
      telemetryShutdown: runtime && (() => runtime.shutdown()),
    });
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    logger,
    health,
    register: (definition) => catalog.add(definition),
    resourceUpdated: (uri) => endpoint.resourceUpdated(uri),
    close: () => {
      closing ??= stop();
      return closing;
    },
  };
}
