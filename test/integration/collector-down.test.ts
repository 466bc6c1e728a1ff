import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { freePort } from '../../support/ports.ts';
import { openSession, rpc } from '../support/lookout.ts';
import { spawnLookout } from '../support/process.ts';

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1]) / 1024;
}

const heapLimitMiB = 256;

it('with the collector unreachable, calls still succeed, memory stays bounded, failures are counted', {
  timeout: 120_000,
}, async () => {
  const port = await freePort();
  const spawnedAt = Date.now();
  const lookout = await spawnLookout(
    ['--otlp-metrics-interval', '1'],
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_BSP_MAX_QUEUE_SIZE: '512',
      // A small heap: V8 would otherwise grow it lazily towards gigabytes before collecting, which says
      // nothing about leaks. Under this cap, anything that kept growing would end the process.
      NODE_OPTIONS: `--max-old-space-size=${heapLimitMiB}`,
    },
    // The safety net fires just before the test's own timeout: on a busy machine the 32,000 calls
    // take longer than the default minute, and the kill read as a failure of what is tested.
    { killAfterMs: 115_000 },
  );
  const pid = lookout.child.pid as number;
  const session = await openSession(lookout.url);
  const headers = { 'mcp-session-id': session };
  const call = async (i: number) => {
    const res = await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { text: `t${i}` } } },
      headers,
    );
    assert.equal(res.status, 200);
    assert.deepEqual((res.body as { result: unknown }).result, {
      content: [{ type: 'text', text: `t${i}` }],
    });
  };
  const load = async (rounds: number) => {
    const workers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; i < rounds; i++) await call(w * 100_000 + i);
    });
    await Promise.all(workers);
  };

  // Warm up until the heap has grown to its working size, then measure what more load adds.
  await load(1000);
  const warm = rssMiB(pid);
  const started = Date.now();
  await load(1000);
  const calls = 16 * 1000;
  const after = rssMiB(pid);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(
    `collector down: ${calls} calls in ${seconds.toFixed(1)} s, RSS ${warm.toFixed(0)} -> ${after.toFixed(0)} MiB\n`,
  );
  assert.ok(after - warm < 48, `RSS grew by ${(after - warm).toFixed(0)} MiB over ${calls} calls`);

  await new Promise((r) => setTimeout(r, 1500));
  const metrics = await (await fetch(new URL('/metrics', lookout.url))).text();
  const failures = [
    ...metrics.matchAll(
      /^lookout_telemetry_export_failures_total\{[^}]*lookout_telemetry_signal="traces"[^}]*\} (\d+)/gm,
    ),
  ];
  assert.ok(failures.length > 0 && Number(failures[0]?.[1]) > 0, 'failed span exports are counted');
  const dropped = metrics.match(
    /^otel_sdk_processor_span_processed_total\{[^}]*error_type="queue_full"[^}]*\} (\d+)/m,
  );
  process.stdout.write(
    `export failures: ${failures.map((f) => f[1]).join(',')}; spans dropped (queue full): ${dropped?.[1] ?? 0}\n`,
  );

  const warnings = lookout.lines.filter((l) => l.includes('telemetry export failed'));
  assert.ok(warnings.length >= 1, 'a warning says exports fail');
  // At most one warning per signal per 30 s, however long the run took on this machine.
  const allowedPerSignal = Math.floor((Date.now() - spawnedAt) / 30_000) + 1;
  for (const signal of ['traces', 'metrics', 'logs']) {
    const count = warnings.filter((l) => l.includes(`telemetry export failed: ${signal}`)).length;
    assert.ok(
      count <= allowedPerSignal,
      `${signal} warnings are rate-limited (${count} > ${allowedPerSignal})`,
    );
  }
  assert.equal(await lookout.stop(), 0);
});
