import type { Tracer } from '@opentelemetry/api';
import type { LookoutConfig } from '../config/schema.ts';
import type { Logger } from '../logging/logger.ts';
import { createRedactor } from '../redaction/secrets.ts';
import { McpServerTelemetry } from '../telemetry/mcp-server.ts';
import type { HistogramFactory } from '../telemetry/own-histograms.ts';
import type { Definition } from '../tools/api.ts';
import type { Catalog } from '../tools/catalog.ts';
import { loadDefinitions } from '../tools/load.ts';

/** The definitions given, then those of the tool modules the config names, in that order. */
export async function fillCatalog(
  catalog: Catalog,
  config: LookoutConfig,
  definitions: readonly Definition[],
): Promise<void> {
  for (const definition of definitions) catalog.add(definition);
  for (const modulePath of config.tools) {
    for (const definition of await loadDefinitions(modulePath, config.security.signedModules))
      catalog.add(definition);
  }
}

/** The one place MCP requests are wrapped in telemetry; tool and prompt names are labels only when served. */
export function mcpServerTelemetry(
  config: LookoutConfig,
  catalog: Catalog,
  otel: { tracer: Tracer; histograms: HistogramFactory; logger: Logger },
): McpServerTelemetry {
  return new McpServerTelemetry({
    ...otel,
    isKnownTool: (name) => catalog.hasTool(name),
    isKnownPrompt: (name) => catalog.hasPrompt(name),
    record: {
      arguments: config.telemetry.recordArguments,
      results: config.telemetry.recordResults,
      redact: createRedactor(config.telemetry.redact),
    },
  });
}
