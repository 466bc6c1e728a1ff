import { freePort } from '../support/ports.ts';
import { median } from '../support/statistics.ts';
import { eraSideName } from './era-sides.ts';
import { type Collector, difference } from './harness/collector.ts';
import { describeGc, type GcTotals, gcBetween, gcTotals } from './harness/gc.ts';
import { liveHeapMb } from './harness/inspector.ts';
import { openLivePage } from './harness/live-page.ts';
import {
  type ConstantRateOptions,
  type ConstantRateResult,
  constantRate,
  type LoadResult,
  wrkEcho,
} from './harness/load.ts';
import { lookoutSessionCount, openSessions } from './harness/mcp.ts';
import { cpuSecondsOf, cpuTimesOf, memoryOf, sleep } from './harness/processes.ts';
import {
  type BenchContext,
  gatewayTarget,
  type RunningTarget,
  startTarget,
  stdioEchoUpstream,
  type TargetSpec,
  targets,
} from './harness/targets.ts';

export interface Durations {
  /** Seconds of each measured wrk run in the side-by-side. */
  readonly seconds: number;
  /** The shortest warm-up, and the longest while the server's CPU per request has not settled. */
  readonly warmupSeconds: number;
  readonly maxWarmupSeconds: number;
  readonly rounds: number;
  /** The paired comparisons: pairs of slices, and each slice's seconds. */
  readonly pairs: number;
  readonly sliceSeconds: number;
  readonly connections: number;
  readonly latencySeconds: number;
  readonly gatewaySeconds: number;
  readonly gatewayRate: number;
  readonly soakSeconds: number;
  readonly idleSessions: number;
  readonly readyRuns: number;
}

/** A load run and what it cost the server in CPU. */
export interface Measured extends LoadResult {
  /** Server CPU time (user + system) per request, µs. */
  readonly cpuUsPerRequest: number;
  /** Share of one CPU the server used during the run. */
  readonly cpuShare: number;
  /**
   * How the server's CPU spent the run (with `cpuShare`, the server's own part): other processes'
   * share (steal included), and its idle share (the load generator did not keep the server busy).
   * What the three leave of the run's wall time was not accounted to the CPU at all: the host held it.
   */
  readonly othersCpuShare?: number;
  readonly idleCpuShare?: number;
}

/** Runs `load` and measures the CPU time process `pid`, and everything else on `cpu`, spent meanwhile. */
async function withCpu(
  pid: number,
  seconds: number,
  load: () => Promise<LoadResult>,
  cpu?: string,
): Promise<Measured> {
  const before = cpuSecondsOf(pid);
  const cpuBefore = cpuTimesOf(cpu ?? '');
  const started = performance.now();
  const result = await load();
  const used = cpuSecondsOf(pid) - before;
  const wall = (performance.now() - started) / 1000;
  const cpuAfter = cpuTimesOf(cpu ?? '');
  const others = (cpuAfter.busy - cpuBefore.busy - used) / wall;
  const idle = (cpuAfter.idle - cpuBefore.idle) / wall;
  return {
    ...result,
    cpuUsPerRequest: (used * 1e6) / result.requests,
    cpuShare: used / seconds,
    ...(Number.isFinite(others) && { othersCpuShare: Math.max(0, others), idleCpuShare: idle }),
  };
}

/** Consecutive one-second warm-up slices whose server CPU per request differ by at most this share are settled. */
export const settledWithin = 0.05;

export interface WarmUp {
  readonly seconds: number;
  /** Whether the server's CPU per request settled before the longest warm-up allowed. */
  readonly settled: boolean;
  /** Server CPU µs per request of each one-second slice. */
  readonly cpuUsPerRequest: number[];
  readonly requests: number;
}

/**
 * Whether the last two slices of a warm-up agree within `settledWithin`: a fresh Node process spends
 * its first seconds of load compiling (its CPU per request falls for several seconds), and a fixed
 * warm-up that ends before that measures the compiler with the server.
 */
export function hasSettled(slices: readonly number[], minSeconds: number): boolean {
  const [a, b] = slices.slice(-2);
  if (slices.length < Math.max(2, minSeconds) || a === undefined || b === undefined) return false;
  return Math.abs(a - b) <= settledWithin * Math.min(a, b);
}

/** wrk in one-second slices until the server's CPU per request has settled, at least `minSeconds`, at most `maxSeconds`. */
async function warmUp(
  target: RunningTarget,
  wrk: { cpu: string; connections: number; era?: 'legacy' | 'modern' | undefined },
  minSeconds: number,
  maxSeconds: number,
): Promise<WarmUp> {
  const slices: number[] = [];
  let requests = 0;
  while (slices.length < Math.max(minSeconds, maxSeconds)) {
    const slice = await withCpu(target.process.pid, 1, () =>
      wrkEcho(target.url, target.session, { ...wrk, seconds: 1 }),
    );
    requests += slice.requests;
    slices.push(slice.cpuUsPerRequest);
    if (hasSettled(slices, minSeconds))
      return { seconds: slices.length, settled: true, cpuUsPerRequest: slices, requests };
  }
  return { seconds: slices.length, settled: false, cpuUsPerRequest: slices, requests };
}

/** A constant-rate run: the server's CPU besides the generator's figures and its validity. */
export type MeasuredAtRate = Measured & ConstantRateResult;

/** The open-model generator at a constant rate against `target`; CPU per request counts the measured phase only. */
async function atConstantRate(
  target: RunningTarget,
  options: Omit<ConstantRateOptions, 'pid'>,
): Promise<MeasuredAtRate> {
  const result = await constantRate(target.url, target.session, { ...options, pid: target.process.pid });
  const used = result.serverCpuSeconds ?? Number.NaN;
  return { ...result, cpuUsPerRequest: (used * 1e6) / result.requests, cpuShare: used / options.seconds };
}

export interface Telemetry {
  /** What the receiver took in while the target ran, per request sent to it. */
  readonly spansPerRequest: number;
  readonly logRecordsPerRequest: number;
  readonly metricDataPoints: number;
  /** From Lookout's own /metrics: items its OTLP exporters could not deliver. */
  readonly exportFailures?: number;
}

export interface ThroughputRow {
  readonly name: string;
  readonly description: string;
  readonly runs: Measured[];
  /** Medians over the rounds. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** RSS at the end of the measured run, and the peak, MB (medians over rounds). */
  readonly rssMb: number;
  readonly peakRssMb: number;
  /**
   * Server CPU per request, µs, and the share of one CPU the server got (medians): unlike rps, CPU
   * per request hardly moves when other processes compete for the CPU, and a share well below 1 at
   * full load says they did.
   */
  readonly cpuUsPerRequest: number;
  readonly cpuShare: number;
  /**
   * How far the rounds disagree: (max − min) / median of their rps and of their CPU per request. A
   * ratio over a row whose rounds differ by more than report.ts's `steadyWithin` is not counted.
   */
  readonly rpsSpread: number;
  readonly cpuSpread: number;
  /** Each round's warm-up, in round order. */
  readonly warmUps: WarmUp[];
  readonly telemetry?: Telemetry;
}

/** (max − min) / median: 0 for one value, NaN for none. */
export function spread(values: readonly number[]): number {
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Sums a Prometheus counter over all its series, from Lookout's /metrics (undefined if unavailable). */
async function scrapeCounter(port: number, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const values = text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    return values.length > 0 ? values.reduce((a, b) => a + b, 0) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `fn` against a started target and stops it whatever happens. */
async function withTarget<T>(
  spec: TargetSpec,
  ctx: BenchContext,
  fn: (target: RunningTarget) => Promise<T>,
  tool?: string,
): Promise<T> {
  const target = await startTarget(spec, ctx, tool);
  try {
    return await fn(target);
  } finally {
    await target.stop();
  }
}

/**
 * The side-by-side: every target in turn, `rounds` times interleaved (so drift on the machine hits
 * all alike; every other round in reverse order, so no target always follows the same one), wrk at
 * full speed after a warm-up that lasts until the server's CPU per request settles. The receiver's
 * counts while a target ran give its spans per request.
 */
export async function echoSideBySide(
  specs: TargetSpec[],
  ctx: BenchContext,
  collector: Collector,
  d: Durations,
): Promise<ThroughputRow[]> {
  interface Run {
    load: Measured;
    warmUp: WarmUp;
    rssMb: number;
    peakMb: number;
    telemetry: Telemetry | undefined;
  }
  const runs = new Map<string, Run[]>(specs.map((s) => [s.name, []]));
  const wrk = { cpu: ctx.loadCpu, connections: d.connections };
  for (let round = 1; round <= d.rounds; round++) {
    for (const spec of round % 2 === 1 ? specs : [...specs].reverse()) {
      const before = collector.snapshot();
      let sent = 1;
      let failures: number | undefined;
      const { load, memory, warm } = await withTarget(spec, ctx, async (target) => {
        const era = spec.era;
        const warm = await warmUp(target, { ...wrk, era }, d.warmupSeconds, d.maxWarmupSeconds);
        sent += warm.requests;
        const load = await withCpu(
          target.process.pid,
          d.seconds,
          () => wrkEcho(target.url, target.session, { ...wrk, era, seconds: d.seconds }),
          ctx.serverCpu,
        );
        sent += load.requests;
        const memory = memoryOf(target.process.pid);
        if (spec.readiness === 'health')
          failures = await scrapeCounter(target.port, 'lookout_telemetry_export_failures_total');
        return { load, memory, warm };
      });
      // The target flushed its telemetry as it stopped; give the receiver's log line a moment.
      await sleep(300);
      const got = difference(collector.snapshot(), before);
      const telemetry: Telemetry | undefined =
        spec.exports || failures !== undefined
          ? {
              spansPerRequest: got.spans / sent,
              logRecordsPerRequest: got.logRecords / sent,
              metricDataPoints: got.dataPoints,
              ...(failures !== undefined && { exportFailures: failures }),
            }
          : undefined;
      runs
        .get(spec.name)
        ?.push({ load, warmUp: warm, rssMb: memory.rssMb, peakMb: memory.peakMb, telemetry });
      log(
        `echo round ${round}/${d.rounds} ${spec.name}: ${load.rps.toFixed(0)} rps, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms, ${load.errors} errors, RSS ${memory.rssMb.toFixed(0)} MB, ${load.cpuUsPerRequest.toFixed(0)} µs CPU/req at ${(load.cpuShare * 100).toFixed(0)} % of a CPU, others ${((load.othersCpuShare ?? Number.NaN) * 100).toFixed(0)} % of it, idle ${((load.idleCpuShare ?? Number.NaN) * 100).toFixed(0)} %; warm-up ${warm.seconds} s (${warm.settled ? 'settled' : 'NOT settled'}: ${warm.cpuUsPerRequest.map((us) => us.toFixed(0)).join(' → ')} µs/req)${telemetry ? `, ${telemetry.spansPerRequest.toFixed(2)} spans/req` : ''}`,
      );
    }
  }
  return specs.map((spec) => {
    const r = runs.get(spec.name) ?? [];
    const of = (pick: (run: Run) => number) => median(r.map(pick));
    const last = r.at(-1)?.telemetry;
    return {
      name: spec.name,
      description: spec.description,
      runs: r.map((x) => x.load),
      rps: of((x) => x.load.rps),
      p50Ms: of((x) => x.load.p50Ms),
      p99Ms: of((x) => x.load.p99Ms),
      errors: r.reduce((n, x) => n + x.load.errors, 0),
      rssMb: of((x) => x.rssMb),
      peakRssMb: of((x) => x.peakMb),
      cpuUsPerRequest: of((x) => x.load.cpuUsPerRequest),
      cpuShare: of((x) => x.load.cpuShare),
      rpsSpread: spread(r.map((x) => x.load.rps)),
      cpuSpread: spread(r.map((x) => x.load.cpuUsPerRequest)),
      warmUps: r.map((x) => x.warmUp),
      ...(last && {
        telemetry: {
          ...last,
          spansPerRequest: of((x) => x.telemetry?.spansPerRequest ?? 0),
          logRecordsPerRequest: of((x) => x.telemetry?.logRecordsPerRequest ?? 0),
        },
      }),
    };
  });
}

/** Two targets compared in short alternating slices: a ratio the machine's drift cannot tilt. */
export interface PairedRatio {
  /** The target measured, and the one it is divided by. */
  readonly name: string;
  readonly base: string;
  /** Both sides served by one process (the eras), rather than one process each. */
  readonly sameProcess: boolean;
  readonly sliceSeconds: number;
  /** One entry per pair of adjacent slices: the two targets' measurements and rps ratio. */
  readonly pairs: { target: Measured; base: Measured; ratio: number }[];
  /** Median of the pairs' ratios, and how far they disagree: (max − min) / median. */
  readonly ratio: number;
  readonly spread: number;
  /** The same spread of the pairs' CPU-per-request ratios. */
  readonly cpuSpread: number;
  /** Median CPU per request of each, µs. */
  readonly cpuUsPerRequest: number;
  readonly baseCpuUsPerRequest: number;
  readonly errors: number;
}

/** One side of a paired comparison: the running target its slices load, and the era they speak. */
interface Side {
  readonly target: RunningTarget;
  readonly era: 'legacy' | 'modern' | undefined;
}

/**
 * A ratio between two targets measured with both running at once, pinned to the same CPU: each is
 * warmed up, one unmeasured pair follows, then wrk loads one, then the other, in slices of a few
 * seconds (ABBA, so drift within a pair cancels), and each pair of adjacent slices gives a ratio. Rows
 * measured a minute apart take the machine's speed at two moments; on a shared host that moved by
 * 20–30 % between rounds. The pairs come in two halves, each on fresh processes, the second warming
 * the two up in the other order: of two processes of the same build, the one warmed up second ran
 * faster for the rest of a run (docs/performance.md, _Paired slices_), which one order alone would
 * count against the target.
 */
export function pairedRatio(
  spec: TargetSpec,
  baseSpec: TargetSpec,
  ctx: BenchContext,
  d: Durations,
): Promise<PairedRatio> {
  return alternatingPairs({ name: spec.name, base: baseSpec.name, sameProcess: false }, ctx, d, (measure) =>
    withTarget(spec, ctx, (target) =>
      withTarget(baseSpec, ctx, (base) =>
        measure({ target, era: spec.era }, { target: base, era: baseSpec.era }),
      ),
    ),
  );
}

/**
 * The 2026-07-28 echo against the 2025-11-25 one (on a session) in one process, which serves both:
 * the same heap, code and warm-up on both sides, so that no difference between two processes (the
 * order they were warmed up in moved a pair by 4–5 %) is counted for or against an era. Each half
 * starts a fresh process and warms the eras up in the other order.
 */
export function eraRatio(spec: TargetSpec, ctx: BenchContext, d: Durations): Promise<PairedRatio> {
  return alternatingPairs(
    { name: eraSideName(spec.name, 'modern'), base: eraSideName(spec.name, 'legacy'), sameProcess: true },
    ctx,
    d,
    (measure) =>
      withTarget(spec, ctx, (target) => measure({ target, era: 'modern' }, { target, era: 'legacy' })),
  );
}

async function alternatingPairs(
  names: Pick<PairedRatio, 'name' | 'base' | 'sameProcess'>,
  ctx: BenchContext,
  d: Durations,
  open: (measure: (target: Side, base: Side) => Promise<void>) => Promise<void>,
): Promise<PairedRatio> {
  const wrk = { cpu: ctx.loadCpu, connections: d.connections };
  const pairs: PairedRatio['pairs'] = [];
  const halves = [Math.ceil(d.pairs / 2), Math.floor(d.pairs / 2)];
  for (const [half, count] of halves.entries()) {
    await open(async (target, base) => {
      const [warmedFirst, warmedSecond] = half === 0 ? [target, base] : [base, target];
      for (const side of [warmedFirst, warmedSecond])
        await warmUp(side.target, { ...wrk, era: side.era }, d.warmupSeconds, d.maxWarmupSeconds);
      const slice = (side: Side) =>
        withCpu(
          side.target.process.pid,
          d.sliceSeconds,
          () =>
            wrkEcho(side.target.url, side.target.session, { ...wrk, era: side.era, seconds: d.sliceSeconds }),
          ctx.serverCpu,
        );
      // Each sat idle while the other warmed up: one unmeasured pair brings both back to speed.
      await slice(warmedFirst);
      await slice(warmedSecond);
      for (let i = 0; i < count; i++) {
        const first = i % 2 === 0 ? warmedFirst : warmedSecond;
        const second = first === target ? base : target;
        const a = await slice(first);
        const b = await slice(second);
        const [t, bs] = first === target ? [a, b] : [b, a];
        pairs.push({ target: t, base: bs, ratio: t.rps / bs.rps });
        log(
          `pair ${pairs.length}/${d.pairs} (${names.name} warmed up ${half === 0 ? 'first' : 'second'}) ${names.name} vs ${names.base}: ${t.rps.toFixed(0)} / ${bs.rps.toFixed(0)} rps = ${(t.rps / bs.rps).toFixed(3)}×, ${t.cpuUsPerRequest.toFixed(0)} / ${bs.cpuUsPerRequest.toFixed(0)} µs CPU/req`,
        );
      }
    });
  }
  const ratios = pairs.map((p) => p.ratio);
  return {
    ...names,
    sliceSeconds: d.sliceSeconds,
    pairs,
    ratio: median(ratios),
    spread: spread(ratios),
    cpuSpread: spread(pairs.map((p) => p.target.cpuUsPerRequest / p.base.cpuUsPerRequest)),
    cpuUsPerRequest: median(pairs.map((p) => p.target.cpuUsPerRequest)),
    baseCpuUsPerRequest: median(pairs.map((p) => p.base.cpuUsPerRequest)),
    errors: pairs.reduce((n, p) => n + p.target.errors + p.base.errors, 0),
  };
}

export interface LiveViewResult {
  readonly seconds: number;
  /** Measured runs of each kind, alternating which comes first. */
  readonly runs: number;
  readonly without: Measured[];
  readonly withPage: Measured[];
  /** Snapshots the page's stream received during each run with the page open. */
  readonly snapshots: number[];
  /** Medians. */
  readonly withoutRps: number;
  readonly withPageRps: number;
  readonly ratio: number;
}

/**
 * Lookout as `npm start` runs it (lookout-default: the adaptive sampler, so the live view's ring gets
 * the kept traces only) at full load (wrk), with and without a live view open: a client reads
 * /live/events during the whole run, as an open page does. One running target, the two kinds of run
 * alternating (ABBA), so that drift on the machine hits both alike.
 */
export async function liveViewOpen(ctx: BenchContext, d: Durations): Promise<LiveViewResult> {
  return withTarget(targets.lookoutDefault, ctx, async (target) => {
    const wrk = { cpu: ctx.loadCpu, connections: d.connections };
    const origin = new URL(target.url).origin;
    await warmUp(target, wrk, d.warmupSeconds, d.maxWarmupSeconds);
    const without: Measured[] = [];
    const withPage: Measured[] = [];
    const snapshots: number[] = [];
    const pairs = Math.max(2, d.rounds);
    for (let pair = 0; pair < pairs; pair++) {
      for (const open of pair % 2 === 0 ? [false, true] : [true, false]) {
        const page = open ? openLivePage(origin) : undefined;
        await page?.live;
        const load = await withCpu(target.process.pid, d.seconds, () =>
          wrkEcho(target.url, target.session, { ...wrk, seconds: d.seconds }),
        );
        if (page) {
          const received = await page.close();
          if (received < d.seconds) throw new Error(`the page got ${received} snapshots in ${d.seconds} s`);
          snapshots.push(received);
          withPage.push(load);
        } else {
          without.push(load);
        }
        log(
          `live view ${open ? 'open' : 'closed'}: ${load.rps.toFixed(0)} rps, p99 ${load.p99Ms.toFixed(2)} ms, ${load.errors} errors, ${load.cpuUsPerRequest.toFixed(0)} µs CPU/req${page ? `, ${snapshots.at(-1)} snapshots` : ''}`,
        );
      }
    }
    const withoutRps = median(without.map((m) => m.rps));
    const withPageRps = median(withPage.map((m) => m.rps));
    return {
      seconds: d.seconds,
      runs: pairs,
      without,
      withPage,
      snapshots,
      withoutRps,
      withPageRps,
      ratio: withPageRps / withoutRps,
    };
  });
}

/** A target's maximum throughput (wrk), measured on its own when the side-by-side did not run. */
export async function measureMaxRps(spec: TargetSpec, ctx: BenchContext, d: Durations): Promise<number> {
  return withTarget(spec, ctx, async (target) => {
    const wrk = { cpu: ctx.loadCpu, connections: d.connections };
    await warmUp(target, wrk, d.warmupSeconds, d.maxWarmupSeconds);
    const { rps } = await wrkEcho(target.url, target.session, { ...wrk, seconds: d.seconds });
    log(`max throughput of ${spec.name}: ${rps.toFixed(0)} rps`);
    return rps;
  });
}

export interface LatencyResult {
  /** The target measured (Lookout as shipped) and its own maximum throughput, of which `rate` is half. */
  readonly target: string;
  readonly maxRps: number;
  readonly rate: number;
  readonly seconds: number;
  readonly load: MeasuredAtRate;
  readonly rssMb: number;
  /** The raw Express echo at the same rate: what the load generator and the machine alone add to the tail. */
  readonly floor: MeasuredAtRate;
  /** The raw echo with the same telemetry through the OTel SDK alone, at the same rate. */
  readonly sdkAlone: MeasuredAtRate;
  /** Lookout's GC pauses from the end of the warm-up to the end of the run (its own `v8js.gc.duration`). */
  readonly gc: GcTotals;
}

/**
 * Lookout as shipped at a constant half of its own maximum throughput (open model); the raw Express
 * echo at the same rate as the floor of the measurement, and the same echo with Lookout's full
 * telemetry through the OTel SDK alone. A run the generator could not hold carries `invalid`.
 */
export async function latencyAtHalfMax(
  maxRps: number,
  ctx: BenchContext,
  d: Durations,
  receiverPid?: number,
): Promise<LatencyResult> {
  const rate = Math.round(maxRps / 2);
  const options = {
    ...(receiverPid !== undefined && { receiverPid }),
    cpu: ctx.loadCpu,
    tool: 'echo',
    rate,
    warmupSeconds: Math.max(3, d.warmupSeconds),
    seconds: d.latencySeconds,
  };
  const describe = (name: string, run: MeasuredAtRate) =>
    `${name} at ${rate} rps for ${d.latencySeconds} s: p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, ${run.errors} errors, ${run.dropped ?? 0} dropped; generator lateness p99 ${run.latenessP99Ms.toFixed(2)} ms, max ${run.latenessMaxMs.toFixed(1)} ms, ${(run.generatorCpuShare * 100).toFixed(0)} % of its CPU, the receiver ${((run.receiverCpuShare ?? Number.NaN) * 100).toFixed(0)} %${run.invalid ? `; INVALID: ${run.invalid}` : ''}`;
  const baselineAtRate = async (spec: TargetSpec, role: string): Promise<MeasuredAtRate> => {
    const run = await withTarget(spec, ctx, (echo) => atConstantRate(echo, options));
    log(`${role}: ${describe(spec.name, run)}`);
    return run;
  };
  const floor = await baselineAtRate(targets.expressEcho, 'floor');
  const sdkAlone = await baselineAtRate(targets.expressEchoOtel, 'the SDK alone');
  const spec = targets.lookoutDefault;
  return withTarget(spec, ctx, async (target) => {
    const metricsUrl = new URL('/metrics', target.url).toString();
    const atMeasuredPhase = sleep(options.warmupSeconds * 1000).then(() => gcTotals(metricsUrl));
    // Awaited after the load; if the load fails first, nothing awaits it and the target is gone.
    atMeasuredPhase.catch(() => {});
    const load = await atConstantRate(target, options);
    const gc = gcBetween(await atMeasuredPhase, await gcTotals(metricsUrl));
    const { rssMb } = memoryOf(target.process.pid);
    log(`latency: ${describe(spec.name, load)}; GC: ${describeGc(gc)}`);
    return { target: spec.name, maxRps, rate, seconds: d.latencySeconds, load, rssMb, floor, sdkAlone, gc };
  });
}

export interface GatewayResult {
  readonly rate: number;
  readonly seconds: number;
  readonly direct: MeasuredAtRate;
  /** CPU: Lookout's own (the upstream's is not counted). */
  readonly viaLookout: MeasuredAtRate;
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  readonly lookoutRssMb: number;
  /**
   * Through Lookout to the same echo as a stdio child (the SDK's stdio server), at the same rate; CPU:
   * Lookout's own. No direct row: a stdio server cannot be called over HTTP.
   */
  readonly viaStdio?: MeasuredAtRate;
  /**
   * Lookout with the gateway's telemetry serving its own echo, no upstream, at the same rate: what a
   * call costs Lookout at that rate before any hop, so that the hop's own share shows.
   */
  readonly lookoutAlone?: MeasuredAtRate;
}

/**
 * The gateway hop: the SDK stateful server called directly, Lookout serving its own echo, then the
 * upstream through Lookout (full telemetry, HTTP upstream), all at the same moderate constant rate
 * (open model). Both servers share the server CPU.
 */
export async function gatewayHop(ctx: BenchContext, d: Durations): Promise<GatewayResult> {
  return withTarget(targets.sdkStateful, ctx, async (upstream) => {
    const rate = rateOptions(ctx, d);
    const direct = await atConstantRate(upstream, { ...rate, tool: 'echo' });
    log(
      `upstream direct at ${d.gatewayRate} rps: p50 ${direct.p50Ms.toFixed(2)} ms, p99 ${direct.p99Ms.toFixed(2)} ms`,
    );
    const lookoutAlone = await withTarget(targets.lookoutFull, ctx, (own) =>
      atConstantRate(own, { ...rate, tool: 'echo' }),
    );
    log(
      `lookout's own echo at ${d.gatewayRate} rps: p50 ${lookoutAlone.p50Ms.toFixed(2)} ms, ${lookoutAlone.cpuUsPerRequest.toFixed(0)} µs CPU per call`,
    );
    return withTarget(
      gatewayTarget({ url: upstream.url }),
      ctx,
      async (gateway) => {
        const viaLookout = await atConstantRate(gateway, { ...rate, tool: 'up__echo' });
        const { rssMb } = memoryOf(gateway.process.pid);
        log(
          `through lookout at ${d.gatewayRate} rps: p50 ${viaLookout.p50Ms.toFixed(2)} ms, p99 ${viaLookout.p99Ms.toFixed(2)} ms`,
        );
        return {
          rate: d.gatewayRate,
          seconds: d.gatewaySeconds,
          direct,
          viaLookout,
          addedP50Ms: viaLookout.p50Ms - direct.p50Ms,
          addedP99Ms: viaLookout.p99Ms - direct.p99Ms,
          lookoutRssMb: rssMb,
          lookoutAlone,
        };
      },
      'up__echo',
    );
  }).then(async (http) => {
    const viaStdio = await withTarget(
      gatewayTarget(stdioEchoUpstream(ctx)),
      ctx,
      (gateway) => atConstantRate(gateway, { ...rateOptions(ctx, d), tool: 'up__echo' }),
      'up__echo',
    );
    log(
      `through lookout to a stdio upstream at ${d.gatewayRate} rps: p50 ${viaStdio.p50Ms.toFixed(2)} ms, p99 ${viaStdio.p99Ms.toFixed(2)} ms`,
    );
    return { ...http, viaStdio };
  });
}

function rateOptions(ctx: BenchContext, d: Durations) {
  return {
    cpu: ctx.loadCpu,
    rate: d.gatewayRate,
    warmupSeconds: Math.max(3, d.warmupSeconds),
    seconds: d.gatewaySeconds,
  };
}

export interface IdleResult {
  readonly name: string;
  readonly sessions: number;
  readonly beforeMb: number;
  readonly afterMb: number;
  readonly perSessionKb: number;
}

/** RSS before and after opening `idleSessions` sessions that then stay idle. */
export async function idleSessions(spec: TargetSpec, ctx: BenchContext, d: Durations): Promise<IdleResult> {
  return withTarget(spec, ctx, async (target) => {
    await sleep(2000);
    const before = memoryOf(target.process.pid).rssMb;
    const started = performance.now();
    // The bench's own session is one of the cap; open the rest.
    await openSessions(target.url, d.idleSessions - 1);
    if (spec.readiness === 'health') {
      const held = await lookoutSessionCount(target.url, target.session);
      if (held !== d.idleSessions)
        throw new Error(`${spec.name} holds ${held} sessions, not ${d.idleSessions}`);
    }
    const openedIn = (performance.now() - started) / 1000;
    await sleep(5000);
    const after = memoryOf(target.process.pid).rssMb;
    log(
      `${spec.name}: ${d.idleSessions} sessions opened in ${openedIn.toFixed(1)} s; RSS ${before.toFixed(0)} → ${after.toFixed(0)} MB`,
    );
    return {
      name: spec.name,
      sessions: d.idleSessions,
      beforeMb: before,
      afterMb: after,
      perSessionKb: ((after - before) * 1024) / d.idleSessions,
    };
  });
}

export interface SoakResult {
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** [seconds since load start, RSS MB] every 5 s. */
  readonly samples: [number, number][];
  readonly startMb: number;
  readonly endMb: number;
  readonly maxMb: number;
  readonly growth: number;
  /** The live heap after a forced full GC (inspector), after the first RSS samples and 3 s before the end. */
  readonly liveHeapStartMb: number;
  readonly liveHeapEndMb: number;
  readonly liveHeapGrowth: number;
  readonly load: Measured;
}

/**
 * Lookout, full telemetry, at a constant half of its maximum for `soakSeconds`, RSS sampled every 5 s.
 * Growth compares the end (median of the last three samples) with the state after warm-up (median of
 * the first three samples past the first fifth of the run, at most 60 s). The live heap (a forced
 * full GC, two in the whole run) is measured right after the first three samples and right before the
 * end, to tell retained objects from heap V8 keeps.
 */
export async function soak(maxRps: number, ctx: BenchContext, d: Durations): Promise<SoakResult> {
  const rate = Math.round(maxRps / 2);
  const warmupSeconds = Math.min(60, d.soakSeconds / 5);
  const inspectPort = await freePort();
  const inspectable: TargetSpec = {
    ...targets.lookoutFull,
    args: (port, c) => [`--inspect=127.0.0.1:${inspectPort}`, ...targets.lookoutFull.args(port, c)],
  };
  return withTarget(inspectable, ctx, async (target) => {
    const samples: [number, number][] = [];
    const started = performance.now();
    const sample = () =>
      samples.push([(performance.now() - started) / 1000, memoryOf(target.process.pid).rssMb]);
    const timer = setInterval(sample, 5000);
    const liveHeapAt = (seconds: number) =>
      sleep(seconds * 1000 - (performance.now() - started)).then(() => liveHeapMb(inspectPort));
    // Each forced GC can give memory back, so each comes after the RSS samples it would otherwise bend.
    const liveHeapStart = liveHeapAt(warmupSeconds + 12);
    const liveHeapEndSeconds = d.soakSeconds - 3;
    const liveHeapEnd = liveHeapAt(liveHeapEndSeconds);
    // Awaited after the load; if the load fails first, nothing awaits them and the target is gone.
    for (const pending of [liveHeapStart, liveHeapEnd]) pending.catch(() => {});
    let load: Measured;
    try {
      load = await atConstantRate(target, {
        cpu: ctx.loadCpu,
        tool: 'echo',
        rate,
        warmupSeconds: 0,
        seconds: d.soakSeconds,
      });
    } finally {
      clearInterval(timer);
    }
    const settled = samples.filter(([t]) => t >= warmupSeconds && t < liveHeapEndSeconds).map(([, mb]) => mb);
    const startMb = median(settled.slice(0, 3));
    const endMb = median(settled.slice(-3));
    const maxMb = Math.max(...samples.map(([, mb]) => mb));
    const liveHeapStartMb = await liveHeapStart;
    const liveHeapEndMb = await liveHeapEnd;
    log(
      `soak at ${rate} rps for ${d.soakSeconds} s: RSS ${startMb.toFixed(0)} → ${endMb.toFixed(0)} MB (max ${maxMb.toFixed(0)}), live heap ${liveHeapStartMb.toFixed(1)} → ${liveHeapEndMb.toFixed(1)} MiB, ${load.errors} errors`,
    );
    return {
      rate,
      seconds: d.soakSeconds,
      warmupSeconds,
      samples,
      startMb,
      endMb,
      maxMb,
      growth: endMb / startMb - 1,
      liveHeapStartMb,
      liveHeapEndMb,
      liveHeapGrowth: liveHeapEndMb / liveHeapStartMb - 1,
      load,
    };
  });
}

export interface ReadyResult {
  readonly runsMs: number[];
  readonly medianMs: number;
  /** CPU time Lookout had used when it became ready, per run: start-up work, whatever the machine's load. */
  readonly cpuMs: number[];
}

/** Spawn → /health/ready 200 for Lookout with full telemetry, `readyRuns` times. */
export async function readiness(ctx: BenchContext, d: Durations): Promise<ReadyResult> {
  const runsMs: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < d.readyRuns; i++) {
    const target = await startTarget(targets.lookoutFull, ctx);
    runsMs.push(target.readyMs);
    cpuMs.push(target.readyCpuMs);
    await target.stop();
  }
  log(
    `ready after ${runsMs.map((ms) => ms.toFixed(0)).join(', ')} ms (CPU used by then: ${cpuMs.map((ms) => ms.toFixed(0)).join(', ')} ms)`,
  );
  return { runsMs, medianMs: median(runsMs), cpuMs };
}
