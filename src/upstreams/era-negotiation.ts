import { Client, type VersionNegotiationMode } from '@modelcontextprotocol/client';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from '../config/schema.ts';

/** The revision Lookout speaks to a modern upstream. */
export const modernUpstreamVersion = '2026-07-28';

/**
 * How the era is settled with an upstream: `auto` probes with `server/discover` and falls back to
 * `initialize` (2025) unless the upstream answers as a 2026-07-28 server; `modern` requires
 * 2026-07-28; `legacy` sends `initialize` at once, as a 2025 client does.
 */
function negotiation(era: UpstreamConfig['era']): VersionNegotiationMode {
  if (era === 'modern') return { pin: modernUpstreamVersion };
  return era;
}

/**
 * A client for one connection to an upstream, declaring `capabilities` (what Lookout relays from it)
 * and settling the era on connect as the upstream's `era` says. On a 2026-07-28 connection every
 * request carries the `_meta` envelope, and an InputRequiredResult is answered through the same
 * handlers that answer a 2025 upstream's requests (see caller-relay.ts), then retried.
 */
export function upstreamClient(
  config: UpstreamConfig,
  capabilities: ClientCapabilities,
  onListChanged?: () => void,
): Client {
  // A 2026-07-28 upstream tells of list changes only on a subscriptions/listen stream, which the
  // client opens when asked to follow them; a 2025 one sends them on its session either way.
  const follow = onListChanged && { autoRefresh: false, debounceMs: 0, onChanged: () => onListChanged() };
  return new Client(
    { name: 'lookout', version: '0' },
    {
      // The 1.x type Lookout describes capabilities with; the wire shape is the same.
      capabilities: capabilities as never,
      versionNegotiation: {
        mode: negotiation(config.era),
        // Over HTTP the probe has the connect timeout, and silence there is an outage.
        ...(config.transport === 'stdio' && { probe: { timeoutMs: config.timeouts.probeSeconds * 1000 } }),
      },
      ...(follow && { listChanged: { tools: follow, prompts: follow, resources: follow } }),
    },
  );
}

/** Whether the connection settled on 2026-07-28 (no session, no `ping`, no server→client requests). */
export function isModern(client: Client): boolean {
  return client.getProtocolEra() === 'modern';
}

/**
 * Asks the upstream something that costs it nothing, to see it answers: `ping` in 2025;
 * `server/discover` in 2026-07-28, which has no `ping`.
 */
export async function checkAlive(client: Client, options: { timeout?: number } = {}): Promise<void> {
  if (isModern(client)) await client.discover(options);
  else await client.ping(options);
}

/**
 * The `_meta` of a call: on a 2026-07-28 connection it asks for every log message (the upstream sends
 * none unless a request names a level); each caller gets those its own level lets through.
 */
export function callMeta(client: Client, meta: Record<string, string>): Record<string, string> {
  return isModern(client) ? { ...meta, 'io.modelcontextprotocol/logLevel': 'debug' } : meta;
}
