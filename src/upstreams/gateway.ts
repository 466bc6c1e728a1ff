import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type {
  CompleteRequest,
  Prompt,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Meter } from '@opentelemetry/api';
import type { LookoutConfig, UpstreamConfig } from '../config/schema.ts';
import type { Health } from '../lifecycle/health.ts';
import type { Logger } from '../logging/logger.ts';
import { attr, metricNames } from '../telemetry/conventions.ts';
import type { McpClientTelemetry } from '../telemetry/mcp-client.ts';
import type {
  Completer,
  ResourceDefinition,
  ResourceTemplateDefinition,
  Subscribable,
} from '../tools/api.ts';
import type { Catalog, GroupContents } from '../tools/catalog.ts';
import type { PromptEntry, ToolEntry } from '../tools/compile.ts';
import { type CacheMetrics, type EvictionReason, evictionReasons } from './response-cache.ts';
import { Upstream, type UpstreamStatus } from './upstream.ts';

function allowed(config: UpstreamConfig, tool: string): boolean {
  if (config.tools.deny.includes(tool)) return false;
  return config.tools.allow === undefined || config.tools.allow.includes(tool);
}

/** A tool of an upstream as Lookout serves it: under `<upstream><separator><tool>`, routed back to it. */
function entryFor(upstream: Upstream, tool: Tool, servedName: string): ToolEntry {
  const idempotent = tool.annotations?.idempotentHint === true || tool.annotations?.readOnlyHint === true;
  return {
    descriptor: { ...tool, name: servedName },
    // The upstream validates its own arguments; its answer, error or not, is relayed as it is.
    call: async (args, ctx) => {
      // Relayed notifications are sent before the result, so that none arrives after it.
      const relayed: Promise<void>[] = [];
      const result = await upstream.callTool(tool.name, args, {
        caller: ctx,
        signal: ctx.signal,
        idempotent,
        onprogress: (p) => relayed.push(ctx.progress(p.progress, p.total, p.message)),
        onlog: (log) => relayed.push(ctx.log(log.level, log.data, log.logger ?? upstream.name)),
      });
      await Promise.all(relayed);
      return result;
    },
  };
}

/** An upstream's resource keeps its URI (a URI names the resource everywhere); its name is namespaced. */
/** Subscriptions to an upstream's resource are made with the upstream, on the subscriber's connection. */
function subscriptionsOf(upstream: Upstream): Subscribable {
  return {
    subscribe: (uri, ctx, updated) => upstream.subscribe(uri, ctx, updated),
    unsubscribe: (uri, ctx) => upstream.unsubscribe(uri, ctx),
  };
}

/** Completers that ask the upstream, one per argument. */
function completersFor(
  upstream: Upstream,
  ref: CompleteRequest['params']['ref'],
  names: readonly string[],
): Record<string, Completer> {
  return Object.fromEntries(
    names.map((name): [string, Completer] => [
      name,
      (value, { arguments: contextArguments, caller }) =>
        upstream.complete(ref, { name, value }, contextArguments, caller),
    ]),
  );
}

function resourceFor(upstream: Upstream, resource: Resource, servedName: string): ResourceDefinition {
  return {
    ...resource,
    kind: 'resource',
    name: servedName,
    read: async (ctx) => (await upstream.readResource(resource.uri, ctx)).contents,
    ...subscriptionsOf(upstream),
  };
}

function templateFor(
  upstream: Upstream,
  template: ResourceTemplate,
  servedName: string,
): ResourceTemplateDefinition {
  return {
    ...template,
    kind: 'resourceTemplate',
    name: servedName,
    read: async (uri, _variables, ctx) => (await upstream.readResource(uri, ctx)).contents,
    complete: completersFor(
      upstream,
      { type: 'ref/resource', uri: template.uriTemplate },
      new UriTemplate(template.uriTemplate).variableNames,
    ),
    ...subscriptionsOf(upstream),
  };
}

function promptFor(upstream: Upstream, prompt: Prompt, servedName: string): PromptEntry {
  return {
    descriptor: { ...prompt, name: servedName },
    get: (args, ctx) => upstream.getPrompt(prompt.name, args, ctx),
    complete: completersFor(
      upstream,
      { type: 'ref/prompt', name: prompt.name },
      (prompt.arguments ?? []).map((a) => a.name),
    ),
  };
}

/** Hits, misses and evictions of the upstreams' response caches, as counters; `zero` starts an upstream's series. */
function cacheMetricsOf(meter: Meter): CacheMetrics & { zero(upstream: string): void } {
  const lookups = meter.createCounter(metricNames.upstreamCacheLookups, {
    description: 'Lookups in an upstream response cache, by result (hit or miss).',
    unit: '{lookup}',
  });
  const evictions = meter.createCounter(metricNames.upstreamCacheEvictions, {
    description: 'Entries that left an upstream response cache, by reason (size, expired, invalidated).',
    unit: '{entry}',
  });
  const lookup = (upstream: string, method: string, hit: boolean, count = 1) =>
    lookups.add(count, {
      [attr.lookoutUpstream]: upstream,
      [attr.mcpMethodName]: method,
      [attr.lookoutCacheResult]: hit ? 'hit' : 'miss',
    });
  const evicted = (upstream: string, reason: EvictionReason, count = 1) =>
    evictions.add(count, { [attr.lookoutUpstream]: upstream, [attr.lookoutCacheEvictionReason]: reason });
  return {
    lookup,
    evicted,
    zero: (upstream) => {
      for (const hit of [true, false]) lookup(upstream, 'resources/read', hit, 0);
      for (const reason of evictionReasons) evicted(upstream, reason, 0);
    },
  };
}

/** The upstream MCP servers of one Lookout, their tools in its catalog, their health and metrics. */
export class Gateway {
  readonly #upstreams: Upstream[];
  readonly #config: LookoutConfig;
  readonly #catalog: Catalog;
  readonly #logger: Logger;

  constructor(
    config: LookoutConfig,
    deps: {
      catalog: Catalog;
      logger: Logger;
      telemetry: McpClientTelemetry;
      health: Health;
      meter: Meter;
      /** Lookout's environment, which stdio children inherit (see `gateway.childEnv`). */
      environment: Readonly<Record<string, string | undefined>>;
    },
  ) {
    const { catalog, logger, health, meter } = deps;
    this.#config = config;
    this.#catalog = catalog;
    this.#logger = logger;
    const restarts = meter.createCounter(metricNames.upstreamRestarts, {
      description: 'Restarts (reconnects) of upstream MCP servers.',
      unit: '{restart}',
    });
    const cacheMetrics = cacheMetricsOf(meter);
    this.#upstreams = config.upstreams.map((upstreamConfig) => {
      restarts.add(0, { [attr.lookoutUpstream]: upstreamConfig.name });
      if (upstreamConfig.cache.maxEntries > 0) cacheMetrics.zero(upstreamConfig.name);
      const upstream: Upstream = new Upstream(upstreamConfig, {
        logger,
        telemetry: deps.telemetry,
        environment: deps.environment,
        childEnv: config.gateway.childEnv,
        onRestart: () => restarts.add(1, { [attr.lookoutUpstream]: upstreamConfig.name }),
        onListsChanged: (announce) => this.#publish(announce),
        cacheMetrics,
      });
      health.addDependency({
        name: `upstream:${upstreamConfig.name}`,
        required: upstreamConfig.required,
        check: () => ({ ok: upstream.state === 'ready', detail: upstream.state }),
      });
      return upstream;
    });
    meter
      .createObservableGauge(metricNames.upstreamBreakerState, {
        description: 'Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open, 3 isolated.',
      })
      .addCallback((result) => {
        for (const u of this.#upstreams) result.observe(u.breakerState, { [attr.lookoutUpstream]: u.name });
      });
    meter
      .createObservableGauge(metricNames.upstreamQueueDepth, {
        description: 'Calls waiting for a concurrency slot, per upstream.',
        unit: '{call}',
      })
      .addCallback((result) => {
        for (const u of this.#upstreams) result.observe(u.queueDepth, { [attr.lookoutUpstream]: u.name });
      });
    meter
      .createObservableGauge(metricNames.upstreamLockWaiting, {
        description: 'Calls waiting for one of its locks, per upstream.',
        unit: '{call}',
      })
      .addCallback((result) => {
        for (const u of this.#upstreams) result.observe(u.lockWaiting, { [attr.lookoutUpstream]: u.name });
      });
  }

  /**
   * Puts every upstream's tools, resources and prompts in the catalog, in config order, so that when
   * two upstreams serve the same resource URI the one listed first keeps it whatever connected first.
   */
  #publish(announce = false): void {
    const separator = this.#config.gateway.separator;
    const groups = this.#upstreams.map((upstream, i) => {
      const upstreamConfig = this.#config.upstreams[i] as UpstreamConfig;
      const served = (name: string) => (upstreamConfig.prefix ? `${upstream.name}${separator}${name}` : name);
      const contents: GroupContents = {
        tools: upstream.tools
          .filter((tool) => allowed(upstreamConfig, tool.name))
          .map((tool) => entryFor(upstream, tool, served(tool.name))),
        resources: upstream.resources.map((resource) =>
          resourceFor(upstream, resource, served(resource.name)),
        ),
        templates: upstream.resourceTemplates.map((template) =>
          templateFor(upstream, template, served(template.name)),
        ),
        prompts: upstream.prompts.map((prompt) => promptFor(upstream, prompt, served(prompt.name))),
        ownResources: async (caller) =>
          (await upstream.ownResources(caller)).map((resource) =>
            resourceFor(upstream, resource, served(resource.name)),
          ),
        setLogLevel: (level, caller) => upstream.setLogLevel(level, caller),
      };
      return [upstream.name, contents] as const;
    });
    const skipped = this.#catalog.replaceGroups(groups, announce);
    if (skipped.length > 0) this.#logger.warn('upstream entries skipped: already served', { skipped });
  }

  status(): UpstreamStatus[] {
    return this.#upstreams.map((u) => u.status());
  }

  /**
   * Starts connecting every upstream in the background: each one's tools are published (and clients
   * told the list changed) when it answers; one that cannot be reached keeps being retried.
   */
  start(): void {
    for (const upstream of this.#upstreams) upstream.start();
  }

  /** A downstream session's client changed its roots: the upstreams it used are told. */
  rootsChanged(sessionId: string): void {
    for (const upstream of this.#upstreams) upstream.rootsChanged(sessionId);
  }

  /** A downstream session ended: the upstream connections made for it are closed. */
  sessionEnded(sessionId: string): void {
    for (const upstream of this.#upstreams) void upstream.sessionEnded(sessionId);
  }

  async close(): Promise<void> {
    await Promise.all(this.#upstreams.map((u) => u.close()));
  }
}
