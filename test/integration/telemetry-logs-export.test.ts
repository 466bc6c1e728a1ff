import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectClient } from '../support/lookout.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { spawnLookout } from '../support/process.ts';

const slowTools = fileURLToPath(new URL('../fixtures/slow-tools.ts', import.meta.url));

/** lookout.health always sampled, every other call never; a call of 1 s or more is slow (the default). */
function configFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-logs-export-'));
  const path = join(dir, 'lookout.yaml');
  writeFileSync(
    path,
    [
      `tools: [${slowTools}]`,
      'telemetry:',
      '  sampling:',
      '    rules:',
      '      - { tool: lookout.health, sample: always }',
      '      - { sample: never }',
      '',
    ].join('\n'),
  );
  return path;
}

interface AccessLine {
  message: string;
  method: string;
  target?: string;
  outcome?: string;
  trace_id?: string;
}

/** Runs the same calls against a real process and returns what reached stdout and the receiver. */
async function run(args: string[]) {
  const receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  const lookout = await spawnLookout(['--config', configFile(), ...args], {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_BLRP_SCHEDULE_DELAY: '100',
  }).catch(async (error: Error) => {
    await receiver.close();
    throw error;
  });
  try {
    const client = await connectClient(lookout.url);
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'echo', arguments: { text: 'unsampled' } });
    for (let i = 0; i < 2; i++) await client.callTool({ name: 'lookout.health', arguments: {} });
    await client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => undefined);
    await client.callTool({ name: 'wait', arguments: { ms: 1200 } });
    await client.close();
  } finally {
    assert.equal(await lookout.stop(), 0, lookout.stderr.join(''));
    await receiver.close();
  }
  const lines = lookout.lines
    .map((l) => JSON.parse(l) as AccessLine)
    .filter((l) => l.message === 'mcp request');
  const exported = receiver.logs.filter((l) => l.body?.stringValue === 'mcp request');
  const exportedTraces = new Set(exported.map((l) => l.traceId));
  const exportedTargets = lines
    .filter((l) => exportedTraces.has(l.trace_id))
    .map((l) => l.target ?? l.method);
  return { lines, exported, exportedTargets, receiver };
}

describe('OTLP log records are priced like traces (telemetry.logs.export)', () => {
  it('sampled (the default): records of sampled, failed and slow calls only; stdout keeps every line', async () => {
    const { lines, exported, exportedTargets, receiver } = await run([]);
    // Besides the seven tool calls, the session's initialize is a call too (never sampled here).
    assert.equal(lines.length, 8, 'one stdout access line per call');
    assert.deepEqual(exportedTargets.sort(), ['lookout.health', 'lookout.health', 'no-such-tool', 'wait']);
    assert.equal(exported.length, 4);
    const spanTraces = new Set(receiver.spans.map((s) => s.traceId));
    for (const record of exported)
      assert.ok(spanTraces.has(record.traceId ?? ''), 'its trace was exported too');
    assert.ok(
      receiver.logs.some((l) => l.body?.stringValue === 'lookout listening'),
      'records outside a call are exported',
    );
  });

  it('all (--logs-export all): a record for every call', async () => {
    const { lines, exported } = await run(['--logs-export', 'all']);
    assert.equal(lines.length, 8);
    assert.equal(exported.length, 8);
  });
});
