import { randomBytes } from 'node:crypto';
import type { LookoutConfig } from '../config/schema.ts';
import { adminScope } from '../http/admin-access.ts';
import { requiredScopes } from '../http/auth.ts';
import type { Logger } from '../logging/logger.ts';
import type { EndpointOptions } from '../mcp/endpoint.ts';
import { RequestStates } from '../mcp/request-state.ts';
import { createProtocolServer } from '../mcp/server.ts';
import { SessionTokens } from '../mcp/session-token.ts';
import { TaskStore } from '../mcp/tasks.ts';
import type { McpServerTelemetry } from '../telemetry/mcp-server.ts';
import { adminOnlyTools } from '../tools/builtin.ts';
import type { Catalog } from '../tools/catalog.ts';
import { version } from '../version.ts';

/** How long a 2026-07-28 client may cache a list or a resource read: lists change only with the catalog, which notifies. */
const modernCacheTtlMs = 60_000;
/** How long a task (tasks extension) lives, and how often its client is told to poll. */
const taskTtlMs = 3_600_000;
const taskPollIntervalMs = 500;
/** How long a client has to answer an InputRequiredResult before its requestState expires. */
const requestStateTtlSeconds = 600;

/** The tasks (tasks extension) the endpoint's long-running tools become. */
export function taskStoreFor(config: LookoutConfig): TaskStore {
  return new TaskStore({ ttlMs: taskTtlMs, pollIntervalMs: taskPollIntervalMs, max: config.mcp.maxSessions });
}

/**
 * The keys that seal 2026-07-28 requestStates: the session keys when configured (so replicas accept
 * each other's states), else one made for this process.
 */
function requestStatesFor(config: LookoutConfig): RequestStates {
  const keys = config.mcp.sessionKeys.map((k) => Buffer.from(k, 'base64'));
  return new RequestStates(keys.length > 0 ? keys : [randomBytes(32)], requestStateTtlSeconds);
}

/** The MCP endpoint's settings: its mode, the protocol server it builds, and the per-tool policy. */
export function endpointOptions(
  config: LookoutConfig,
  catalog: Catalog,
  telemetry: McpServerTelemetry,
  tasks: TaskStore,
  logger: Logger,
): EndpointOptions {
  const identity = { name: 'lookout', version };
  const toolPolicy = {
    scopesFor: (tool: string) =>
      requiredScopes(config.auth.toolScopes, tool, adminOnlyTools.has(tool) ? [adminScope] : []),
    timeoutSecondsFor: (tool: string) =>
      config.admission.toolTimeouts[tool] ?? config.admission.toolTimeoutSeconds,
  };
  return {
    stateless: config.mcp.stateless,
    keepAliveSeconds: config.mcp.sseKeepAliveSeconds,
    createDispatcher: () =>
      createProtocolServer(
        catalog,
        identity,
        toolPolicy,
        requestStatesFor(config),
        tasks,
        // The client is told only "Internal error": the details stay in the server's log.
        (method, error) =>
          logger.error('request handler failed', {
            method,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
        config.mcp.stateless,
      ),
    modern: {
      serverInfo: identity,
      cacheTtlMs: modernCacheTtlMs,
      // Behind authentication a list may differ by caller (tool scopes): shared caches must not keep it.
      cacheScope: config.auth.tokens.length > 0 || config.auth.jwt !== undefined ? 'private' : 'public',
      inputSchemaOf: (tool) => catalog.toolDescriptor(tool)?.inputSchema,
    },
    telemetry,
    tokens:
      config.mcp.sessionKeys.length > 0
        ? new SessionTokens(config.mcp.sessionKeys.map((k) => Buffer.from(k, 'base64')))
        : undefined,
  };
}
