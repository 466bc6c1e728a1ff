import { PassThrough } from 'node:stream';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttp,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { configSchema, type LookoutConfig } from '../../src/config/schema.ts';
import { createLogging } from '../../src/logging/logger.ts';
import { type Lookout, type StartOptions, startLookout } from '../../src/main.ts';

export type ConfigOverrides = { [K in keyof LookoutConfig]?: unknown };

/** A config as the loader would produce it: port 0 on loopback, quiet logs, plus the overrides. */
export function testConfig(overrides: ConfigOverrides = {}): LookoutConfig {
  return configSchema.parse({ port: 0, log: { level: 'warn', format: 'json' }, ...overrides });
}

/** Starts a real Lookout on 127.0.0.1, port 0; its log lines are collected instead of printed. */
export async function startTestLookout(
  overrides: ConfigOverrides = {},
  options: StartOptions = {},
): Promise<Lookout & { logLines: string[] }> {
  const config = testConfig(overrides);
  const stream = new PassThrough();
  const logLines: string[] = [];
  stream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  const lookout = await startLookout(config, { logging: createLogging(config, { stream }), ...options });
  return Object.assign(lookout, { logLines });
}

export async function connectClient(url: string, name = 'test-client'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** A 2.x SDK client pinned to MCP 2026-07-28, connected to `url`. */
export async function connectModernClient(
  url: string,
  name = 'test-client',
  capabilities: Record<string, unknown> = {},
): Promise<ModernClient> {
  const client = new ModernClient(
    { name, version: '1.0.0' },
    { capabilities, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(new ModernHttp(new URL(url)));
  return client;
}

export const mcpHeaders = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

/** Initializes a session by hand and returns its id, for tests that speak raw HTTP. */
export async function openSession(url: string, protocolVersion = '2025-11-25'): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: mcpHeaders,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  await res.text();
  const id = res.headers.get('mcp-session-id');
  if (!id) throw new Error(`initialize answered ${res.status} without a session id`);
  return id;
}

export async function rpc(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...mcpHeaders, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/**
 * Upstreams connect in the background once Lookout listens: waits until every configured one is
 * ready (or the deadline passes, which fails the test that needed them).
 */
export async function upstreamsReady(lookout: Lookout, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const checks = Object.entries(lookout.health.ready().checks).filter(([name]) =>
      name.startsWith('upstream:'),
    );
    const waiting = checks.filter(([, check]) => check.detail !== 'ready').map(([name]) => name);
    if (waiting.length === 0) return;
    if (Date.now() > deadline) throw new Error(`upstreams not ready: ${waiting.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until `/health/ready` answers 200: every `required` upstream is connected. */
export async function ready(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(new URL('/health/ready', url)).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.status === 200) return;
    if (Date.now() > deadline)
      throw new Error(`not ready within ${timeoutMs} ms (last status ${res?.status})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
