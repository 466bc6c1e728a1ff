import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Attributes,
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { withDecision } from '../../src/telemetry/sampling/decided.ts';
import { AdaptiveSampler, type SamplingSettings } from '../../src/telemetry/sampling/sampler.ts';
import {
  decodeThreshold,
  isSampled,
  probabilityOf,
  randomnessOf,
  splitThreshold,
  thresholdFor,
  thresholdIn,
  traceIdMeets,
  withThreshold,
} from '../../src/telemetry/sampling/threshold.ts';

const windowSeconds = 10;

function settings(overrides: Partial<SamplingSettings> = {}): SamplingSettings {
  return {
    targetPerSecond: 10,
    globalCeilingPerSecond: 1000,
    floorProbability: 0.0001,
    burst: 5,
    windowSeconds,
    maxKeys: 100,
    rules: [],
    mcpPath: '/mcp',
    ...overrides,
  };
}

/** Trace ids whose 56-bit randomness is spread evenly (a low-discrepancy sequence): rates are then exact. */
function* traceIds(): Generator<string> {
  const golden = 0.6180339887498949;
  for (let i = 1; ; i++) {
    const r = BigInt(Math.floor(((i * golden) % 1) * 2 ** 52)) << 4n;
    yield `${i.toString(16).padStart(18, '0')}${r.toString(16).padStart(14, '0')}`;
  }
}

class Clock {
  ms = 1_000_000;
  now = () => this.ms;
}

const toolCall = (tool: string): Attributes => ({
  'mcp.method.name': 'tools/call',
  'gen_ai.tool.name': tool,
});
const httpGet = (path: string): Attributes => ({ 'http.request.method': 'GET', 'url.path': path });

/** Sends `perSecond` root spans of one key for `seconds`, evenly spaced; returns how many were sampled per second. */
function drive(
  sampler: AdaptiveSampler,
  clock: Clock,
  ids: Generator<string>,
  attributes: Attributes,
  perSecond: number,
  seconds: number,
): number[] {
  const perSecondSampled: number[] = [];
  const step = 1000 / perSecond;
  for (let s = 0; s < seconds; s++) {
    let sampled = 0;
    for (let i = 0; i < perSecond; i++) {
      clock.ms += step;
      const result = sampler.shouldSample(
        ROOT_CONTEXT,
        ids.next().value as string,
        'span',
        SpanKind.SERVER,
        attributes,
        [],
      );
      if (result.decision === SamplingDecision.RECORD_AND_SAMPLED) sampled++;
    }
    perSecondSampled.push(sampled);
  }
  return perSecondSampled;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function within(actual: number, expected: number, tolerance: number): boolean {
  return Math.abs(actual - expected) <= expected * tolerance;
}

describe('adaptive sampler (fake clock)', () => {
  for (const factor of [10, 100]) {
    it(`holds the target within ±10 % at ${factor}× the target, after one window`, () => {
      const clock = new Clock();
      const sampler = new AdaptiveSampler(settings(), clock.now);
      const ids = traceIds();
      const perSecond = drive(sampler, clock, ids, toolCall('echo'), 10 * factor, 3 * windowSeconds);
      const secondWindow = sum(perSecond.slice(windowSeconds, 2 * windowSeconds)) / windowSeconds;
      const thirdWindow = sum(perSecond.slice(2 * windowSeconds)) / windowSeconds;
      assert.ok(within(secondWindow, 10, 0.1), `window 2: ${secondWindow}/s`);
      assert.ok(within(thirdWindow, 10, 0.1), `window 3: ${thirdWindow}/s`);
    });
  }

  it('converges within three windows after a 10× step in load', () => {
    const clock = new Clock();
    const sampler = new AdaptiveSampler(settings(), clock.now);
    const ids = traceIds();
    drive(sampler, clock, ids, toolCall('echo'), 100, 2 * windowSeconds);
    const after = drive(sampler, clock, ids, toolCall('echo'), 1000, 4 * windowSeconds);
    const third = sum(after.slice(2 * windowSeconds, 3 * windowSeconds)) / windowSeconds;
    const fourth = sum(after.slice(3 * windowSeconds)) / windowSeconds;
    assert.ok(within(third, 10, 0.1), `third window after the step: ${third}/s`);
    assert.ok(within(fourth, 10, 0.1), `fourth: ${fourth}/s`);
    assert.ok(
      sum(after.slice(0, windowSeconds)) / windowSeconds < 10 * 3,
      'the burst allowance caps the first window',
    );
  });

  it('always samples a rare key, even beside a hot one', () => {
    const clock = new Clock();
    const sampler = new AdaptiveSampler(settings(), clock.now);
    const ids = traceIds();
    let rareSampled = 0;
    for (let s = 0; s < 3 * windowSeconds; s++) {
      drive(sampler, clock, ids, toolCall('hot'), 500, 1);
      const rare = sampler.shouldSample(
        ROOT_CONTEXT,
        ids.next().value as string,
        'x',
        SpanKind.SERVER,
        toolCall('rare'),
        [],
      );
      if (rare.decision === SamplingDecision.RECORD_AND_SAMPLED) rareSampled++;
    }
    assert.equal(rareSampled, 3 * windowSeconds);
    const rare = sampler.snapshot().find((k) => k.key === 'tools/call rare');
    assert.equal(rare?.probability, 1);
  });

  it('keeps all keys together under the global ceiling', () => {
    const clock = new Clock();
    const sampler = new AdaptiveSampler(
      settings({ targetPerSecond: 50, globalCeilingPerSecond: 40 }),
      clock.now,
    );
    const ids = traceIds();
    let sampled = 0;
    // Two keys at 500/s each, interleaved, for three windows; count what the last two sample.
    for (let ms = 0; ms < 3 * windowSeconds * 1000; ms++) {
      clock.ms += 1;
      const tool = ms % 2 === 0 ? 'a' : 'b';
      const result = sampler.shouldSample(
        ROOT_CONTEXT,
        ids.next().value as string,
        'x',
        SpanKind.SERVER,
        toolCall(tool),
        [],
      );
      if (ms >= windowSeconds * 1000 && result.decision === SamplingDecision.RECORD_AND_SAMPLED) sampled++;
    }
    const perSecond = sampled / (2 * windowSeconds);
    assert.ok(within(perSecond, 40, 0.1), `${perSecond}/s`);
  });

  it("honours the parent's decision", () => {
    const sampler = new AdaptiveSampler(settings());
    const parent = (flags: TraceFlags) =>
      trace.setSpanContext(ROOT_CONTEXT, {
        traceId: 'a'.repeat(32),
        spanId: 'b'.repeat(16),
        traceFlags: flags,
        isRemote: true,
      });
    const yes = sampler.shouldSample(
      parent(TraceFlags.SAMPLED),
      'a'.repeat(32),
      'x',
      SpanKind.SERVER,
      httpGet('/x'),
      [],
    );
    const no = sampler.shouldSample(
      parent(TraceFlags.NONE),
      'a'.repeat(32),
      'x',
      SpanKind.SERVER,
      httpGet('/x'),
      [],
    );
    assert.equal(yes.decision, SamplingDecision.RECORD_AND_SAMPLED);
    assert.equal(no.decision, SamplingDecision.NOT_RECORD);
    assert.equal(sampler.snapshot().length, 0, 'parented spans are not counted as new traces');
  });

  it('puts a consistent threshold in tracestate: sampled exactly when the trace randomness reaches it', () => {
    const clock = new Clock();
    const sampler = new AdaptiveSampler(settings(), clock.now);
    const ids = traceIds();
    drive(sampler, clock, ids, toolCall('echo'), 1000, windowSeconds);
    assert.ok((sampler.snapshot()[0]?.probability ?? 1) < 0.05);
    let sampledCount = 0;
    let threshold: bigint | undefined;
    const dropped: bigint[] = [];
    for (let i = 0; i < 2000; i++) {
      clock.ms += 1;
      const id = ids.next().value as string;
      const randomness = BigInt(`0x${id.slice(-14)}`);
      const result = sampler.shouldSample(ROOT_CONTEXT, id, 'x', SpanKind.SERVER, toolCall('echo'), []);
      if (result.decision !== SamplingDecision.RECORD_AND_SAMPLED) {
        dropped.push(randomness);
        continue;
      }
      threshold = thresholdIn(result.traceState);
      assert.ok(threshold !== undefined, 'ot=th is set');
      assert.ok(randomness >= threshold, 'R >= T for a sampled trace');
      assert.ok(probabilityOf(threshold) > 0 && probabilityOf(threshold) < 0.05);
      sampledCount++;
    }
    assert.ok(sampledCount > 10);
    const last = threshold as bigint;
    assert.ok(
      dropped.filter((r) => r >= last).length < dropped.length * 0.01,
      'dropped traces fall below the threshold',
    );
  });

  it('counts MCP requests past the key limit under _OTHER, every time, and known pairs under their own key', () => {
    const sampler = new AdaptiveSampler(settings({ maxKeys: 2 }));
    const ids = traceIds();
    const decide = (tool: string) => sampler.decideRequest('tools/call', tool, ids.next().value as string);
    for (const tool of ['a', 'b', 'c', 'c', 'a', 'd', 'b', 'a']) decide(tool);
    const counts = Object.fromEntries(sampler.snapshot().map((k) => [k.key, k.sampled + k.dropped]));
    assert.deepEqual(counts, { 'tools/call a': 3, 'tools/call b': 2, _OTHER: 3 });
  });

  it('compares a trace id with a split threshold exactly as with BigInt randomness', () => {
    const hex = (n: bigint, digits: number) => n.toString(16).padStart(digits, '0');
    const thresholds = [0n, 1n, (1n << 28n) - 1n, 1n << 28n, (1n << 56n) - 1n, 1n << 56n];
    for (const p of [0.5, 0.1, 0.01, 0.0001, 0.999]) thresholds.push(thresholdFor(p));
    const randomness: bigint[] = [0n, (1n << 56n) - 1n];
    for (const t of thresholds) randomness.push(t, t > 0n ? t - 1n : 0n, t + 1n, t ^ (1n << 27n));
    for (let i = 0; i < 200; i++) randomness.push(BigInt(Math.floor(Math.random() * 2 ** 52)) << 4n);
    for (const t of thresholds) {
      const split = splitThreshold(t);
      for (const r of randomness) {
        if (r >= 1n << 56n) continue;
        for (const id of [`${'ab'.repeat(9)}${hex(r, 14)}`, `${'AB'.repeat(9)}${hex(r, 14).toUpperCase()}`]) {
          assert.equal(
            traceIdMeets(id, split),
            isSampled(randomnessOf(id.toLowerCase(), undefined), t),
            `threshold ${hex(t, 15)}, trace id ${id}`,
          );
        }
      }
    }
  });

  it('keeps other tracestate entries and reads ot=rv randomness when present', () => {
    const sampler = new AdaptiveSampler(settings({ rules: [{ sample: { ratio: 0.5 } }] }));
    const state = createTraceState('vendor=x,ot=rv:ffffffffffffff');
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0'.repeat(32),
      spanId: '1'.repeat(16),
      traceFlags: TraceFlags.NONE,
      traceState: state,
      isRemote: false,
    });
    // A local parent: its decision is followed.
    const child = sampler.shouldSample(ctx, '0'.repeat(32), 'x', SpanKind.INTERNAL, {}, []);
    assert.equal(child.decision, SamplingDecision.NOT_RECORD);
    assert.equal(decodeThreshold('8'), 2n ** 55n);
  });

  it('stamps a threshold without making a trace state it already has', () => {
    const half = 2n ** 55n;
    const stamped = withThreshold(undefined, half);
    assert.equal(stamped.serialize(), 'ot=th:8');
    assert.equal(withThreshold(undefined, half), stamped, 'the same one for the next trace without a state');
    assert.equal(withThreshold(stamped, half), stamped, 'a state stamped with this threshold is kept');
    const vendor = withThreshold(createTraceState('vendor=x,ot=rv:ffffffffffffff'), half);
    assert.equal(vendor.get('vendor'), 'x');
    assert.equal(vendor.get('ot'), 'rv:ffffffffffffff;th:8');
    assert.equal(withThreshold(stamped, 0n).serialize(), 'ot=th:0', 'another threshold replaces it');
  });

  it('expresses the per-endpoint-type ratios of the Task MCP design as rules', () => {
    const clock = new Clock();
    const sampler = new AdaptiveSampler(
      settings({
        rules: [
          { transport: 'sse', sample: { ratio: 0.01 } },
          { transport: 'json', sample: { ratio: 0.05 } },
          { sample: { ratio: 0.1 } },
        ],
      }),
      clock.now,
    );
    const ids = traceIds();
    const sse = sum(drive(sampler, clock, ids, httpGet('/mcp'), 1000, 10));
    const other = sum(drive(sampler, clock, ids, httpGet('/other'), 1000, 10));
    assert.ok(within(sse, 100, 0.1), `sse ${sse}`);
    assert.ok(within(other, 1000, 0.1), `default ${other}`);
    const modes = Object.fromEntries(sampler.snapshot().map((k) => [k.key, k.mode]));
    assert.deepEqual(modes, { 'GET /mcp': 'ratio 0.01', 'GET /other': 'ratio 0.1' });
  });

  it('decides an MCP request by its method and tool before any span, and answers a decided context as told', () => {
    const sampler = new AdaptiveSampler(settings({ rules: [{ tool: 'noisy', sample: 'never' }] }));
    assert.equal(
      sampler.decideRequest('tools/call', 'noisy', 'c'.repeat(32)).decision,
      SamplingDecision.NOT_RECORD,
    );
    assert.equal(
      sampler.decideRequest('tools/call', 'quiet', 'c'.repeat(32)).decision,
      SamplingDecision.RECORD_AND_SAMPLED,
    );
    const keys = Object.fromEntries(sampler.snapshot().map((k) => [k.key, [k.sampled, k.dropped]]));
    assert.deepEqual(keys, { 'tools/call noisy': [0, 1], 'tools/call quiet': [1, 0] });
    const told = { decision: SamplingDecision.RECORD_AND_SAMPLED };
    const result = sampler.shouldSample(
      withDecision(ROOT_CONTEXT, told),
      'c'.repeat(32),
      'tools/call noisy',
      SpanKind.SERVER,
      toolCall('noisy'),
      [],
    );
    assert.equal(result, told);
  });
});
