import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Meter } from '@opentelemetry/api';
import type { LookoutConfig, UpstreamConfig } from '../config/schema.ts';
import type { Health } from '../lifecycle/health.ts';
import type { Logger } from '../logging/logger.ts';
import { attr, metricNames } from '../telemetry/conventions.ts';
import type { McpClientTelemetry } from '../telemetry/mcp-client.ts';
import type { Catalog, ToolEntry } from '../tools/catalog.ts';
import { Upstream } from './upstream.ts';

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

/** The upstream MCP servers of one Lookout, their tools in its catalog, their health and metrics. */
export class Gateway {
  readonly #upstreams: Upstream[];

  constructor(
    config: LookoutConfig,
    deps: { catalog: Catalog; logger: Logger; telemetry: McpClientTelemetry; health: Health; meter: Meter },
  ) {
    const { catalog, logger, health, meter } = deps;
    const restarts = meter.createCounter(metricNames.upstreamRestarts, {
      description: 'Restarts (reconnects) of upstream MCP servers.',
      unit: '{restart}',
    });
    this.#upstreams = config.upstreams.map((upstreamConfig) => {
      const upstream: Upstream = new Upstream(upstreamConfig, {
        logger,
        telemetry: deps.telemetry,
        onRestart: () => restarts.add(1, { [attr.lookoutUpstream]: upstreamConfig.name }),
        onToolsChanged: () => {
          const entries = upstream.tools
            .filter((tool) => allowed(upstreamConfig, tool.name))
            .map((tool) =>
              entryFor(upstream, tool, `${upstreamConfig.name}${config.gateway.separator}${tool.name}`),
            );
          const skipped = catalog.replaceGroup(upstreamConfig.name, entries);
          if (skipped.length > 0)
            logger.warn('upstream tools skipped: names already served', {
              upstream: upstreamConfig.name,
              skipped,
            });
        },
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
  }

  /** Connects every upstream; one that cannot be reached keeps retrying without holding up the others. */
  async start(): Promise<void> {
    await Promise.all(this.#upstreams.map((u) => u.start()));
  }

  status(): { name: string; state: string; tools: number; breaker: number }[] {
    return this.#upstreams.map((u) => ({
      name: u.name,
      state: u.state,
      tools: u.tools.length,
      breaker: u.breakerState,
    }));
  }

  async close(): Promise<void> {
    await Promise.all(this.#upstreams.map((u) => u.close()));
  }
}
