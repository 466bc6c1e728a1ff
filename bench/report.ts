import { median } from '../support/statistics.ts';
import { describeGc } from './harness/gc.ts';
import type { LoadResult } from './harness/load.ts';
import type {
  GatewayResult,
  IdleResult,
  LatencyResult,
  LiveViewResult,
  Measured,
  ReadyResult,
  SoakResult,
  ThroughputRow,
} from './scenarios.ts';

export interface Results {
  throughput?: ThroughputRow[];
  latency?: LatencyResult;
  gateway?: GatewayResult;
  live?: LiveViewResult;
  idle?: IdleResult[];
  soak?: SoakResult;
  ready?: ReadyResult;
}

export interface TargetVerdict {
  readonly target: string;
  readonly measured: string;
  readonly goal: string;
  /** undefined: not measured in this run. */
  readonly met: boolean | undefined;
}

const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const ms = (n: number) => fixed(n, 2);
const thousands = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

const cpuCell = (m: Pick<Measured, 'cpuUsPerRequest' | 'cpuShare'>) =>
  `${fixed(m.cpuUsPerRequest)} (${fixed(m.cpuShare * 100)} % CPU)`;

function loadCells(load: LoadResult): string[] {
  const errors = load.dropped ? `${load.errors} (+${load.dropped} dropped)` : String(load.errors);
  return [thousands(load.rps), ms(load.p50Ms), ms(load.p99Ms), errors];
}

/** One markdown table: every comparison of the run, one row each. */
export function resultsTable(r: Results, connections: number): string {
  const lines = [
    row([
      'scenario',
      'target',
      'rps',
      'p50 ms',
      'p99 ms',
      'errors',
      'RSS MB',
      'CPU µs/req',
      'vs express-echo',
      'vs sdk-stateful',
      'telemetry received',
    ]),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  ];
  const byName = new Map((r.throughput ?? []).map((t) => [t.name, t]));
  const express = byName.get('express-echo')?.rps ?? Number.NaN;
  const sdk = byName.get('sdk-stateful')?.rps ?? Number.NaN;
  for (const t of r.throughput ?? []) {
    const telemetry = t.telemetry
      ? t.telemetry.exportFailures !== undefined && t.telemetry.spansPerRequest === 0
        ? `export failures: ${thousands(t.telemetry.exportFailures)}`
        : `${fixed(t.telemetry.spansPerRequest, 2)} spans + ${fixed(t.telemetry.logRecordsPerRequest, 2)} logs /req, ${thousands(t.telemetry.metricDataPoints)} points`
      : '—';
    lines.push(
      row([
        `echo max (wrk, ${connections} conn)`,
        t.name,
        thousands(t.rps),
        ms(t.p50Ms),
        ms(t.p99Ms),
        String(t.errors),
        fixed(t.rssMb),
        cpuCell(t),
        `${fixed(t.rps / express, 2)}×`,
        `${fixed(t.rps / sdk, 2)}×`,
        telemetry,
      ]),
    );
  }
  /** A row outside the side-by-side: no ratios. */
  const other = (scenario: string, target: string, load: Measured | undefined, rss: string, note = '') =>
    row([
      scenario,
      target,
      ...(load ? loadCells(load) : ['', '', '', '']),
      rss,
      load ? cpuCell(load) : '',
      '',
      '',
      note,
    ]);
  if (r.latency) {
    const l = r.latency;
    const scenario = `constant ${thousands(l.rate)} rps = 50 % of max (k6, ${l.seconds} s)`;
    lines.push(other(scenario, 'express-echo (the floor: load generator and machine)', l.floor, ''));
    lines.push(other(scenario, 'express-echo-otel (the OTel SDK alone, same telemetry)', l.sdkAlone, ''));
    lines.push(other(scenario, 'lookout-full', l.load, fixed(l.rssMb), `GC: ${describeGc(l.gc)}`));
  }
  if (r.gateway) {
    const g = r.gateway;
    const scenario = `gateway, constant ${g.rate} rps (k6, ${g.seconds} s)`;
    lines.push(other(scenario, 'sdk-stateful called directly', g.direct, ''));
    lines.push(
      other(
        scenario,
        'lookout-gateway → sdk-stateful',
        g.viaLookout,
        fixed(g.lookoutRssMb),
        'CPU: Lookout only',
      ),
    );
  }
  if (r.live) {
    const live = r.live;
    const scenario = `echo max (wrk, ${connections} conn), ${live.runs} × ${live.seconds} s each`;
    const medianOf = (runs: Measured[]) =>
      runs.find((m) => m.rps === median(runs.map((x) => x.rps))) ?? runs[0];
    lines.push(other(scenario, 'lookout-default, no live view open', medianOf(live.without), ''));
    lines.push(
      other(
        scenario,
        'lookout-default, a live view open (SSE)',
        medianOf(live.withPage),
        '',
        `${fixed(live.ratio, 3)}× of no page`,
      ),
    );
  }
  for (const i of r.idle ?? []) {
    lines.push(
      other(
        `${thousands(i.sessions)} idle sessions`,
        i.name,
        undefined,
        `${fixed(i.beforeMb)} → ${fixed(i.afterMb)}`,
        `${fixed(i.perSessionKb, 1)} kB/session`,
      ),
    );
  }
  if (r.soak) {
    const s = r.soak;
    lines.push(
      other(
        `soak, constant ${thousands(s.rate)} rps (k6, ${s.seconds} s)`,
        'lookout-full',
        s.load,
        `${fixed(s.startMb)} → ${fixed(s.endMb)} (max ${fixed(s.maxMb)})`,
        `growth ${fixed(s.growth * 100, 1)} % after ${fixed(s.warmupSeconds)} s warm-up; live heap ${fixed(s.liveHeapStartMb, 1)} → ${fixed(s.liveHeapEndMb, 1)} MiB`,
      ),
    );
  }
  return lines.join('\n');
}

/** Each of the issue's targets: measured value, goal, and whether this run met it. */
export function verdicts(r: Results): TargetVerdict[] {
  const byName = new Map((r.throughput ?? []).map((t) => [t.name, t]));
  const full = byName.get('lookout-full');
  const off = byName.get('lookout-off');
  const express = byName.get('express-echo');
  const down = byName.get('lookout-collector-down');
  const out: TargetVerdict[] = [];
  const ratio = full && express ? full.rps / express.rps : undefined;
  out.push({
    target: 'tools/call throughput, full telemetry, vs raw Express echo',
    measured:
      ratio === undefined
        ? 'not measured'
        : `${fixed(ratio, 2)}× (${thousands(full?.rps ?? 0)} / ${thousands(express?.rps ?? 0)} rps)`,
    goal: '≥ 0.70×',
    met: ratio === undefined ? undefined : ratio >= 0.7,
  });
  const overhead = full && off ? 1 - full.rps / off.rps : undefined;
  out.push({
    target: 'telemetry overhead (full vs OTEL_SDK_DISABLED=true)',
    measured: overhead === undefined ? 'not measured' : `${fixed(overhead * 100, 1)} % fewer rps`,
    goal: '≤ 5 %',
    met: overhead === undefined ? undefined : overhead <= 0.05,
  });
  const modern = byName.get('lookout-full-2026');
  if (modern && full) {
    out.push({
      target: 'MCP 2026-07-28 echo (no session) vs the 2025-11-25 echo (session), both full telemetry',
      measured: `${fixed(modern.rps / full.rps, 2)}× (${thousands(modern.rps)} / ${thousands(full.rps)} rps)`,
      goal: '≥ 1.00×',
      met: modern.rps >= full.rps,
    });
  }
  const shipped = byName.get('lookout-default');
  if (shipped && off) {
    const cost = 1 - shipped.rps / off.rps;
    out.push({
      target: 'telemetry overhead as shipped (adaptive sampling) vs OTEL_SDK_DISABLED=true (for reference)',
      measured: `${fixed(cost * 100, 1)} % fewer rps`,
      goal: '≤ 5 %',
      met: cost <= 0.05,
    });
  }
  const sdkAlone = byName.get('express-echo-otel');
  if (sdkAlone && express) {
    const cost = 1 - sdkAlone.rps / express.rps;
    out.push({
      target:
        'telemetry overhead of the OTel SDK alone, same telemetry per call (express-echo-otel vs express-echo, for reference)',
      measured: `${fixed(cost * 100, 1)} % fewer rps (${fixed(sdkAlone.rps / express.rps, 2)}×, ${fixed(sdkAlone.cpuUsPerRequest - express.cpuUsPerRequest)} µs CPU/req more)`,
      goal: '≤ 5 %',
      met: cost <= 0.05,
    });
  }
  const l = r.latency;
  out.push({
    target: `p99 at 50 % of max throughput${l && l.seconds < 60 ? ` (shortened: ${l.seconds} s, not 60 s)` : ''}`,
    measured: l
      ? `${ms(l.load.p99Ms)} ms at ${thousands(l.rate)} rps, ${l.load.errors} errors, ${l.load.dropped ?? 0} dropped (at the same rate express-echo: ${ms(l.floor.p99Ms)} ms; express-echo-otel: ${ms(l.sdkAlone.p99Ms)} ms)`
      : 'not measured',
    goal: '≤ 5 ms for 60 s, 0 errors',
    met: l ? l.load.p99Ms <= 5 && l.load.errors === 0 && (l.load.dropped ?? 0) === 0 : undefined,
  });
  const g = r.gateway;
  out.push({
    target: 'gateway HTTP hop, added p50',
    measured: g
      ? `${ms(g.addedP50Ms)} ms (${ms(g.viaLookout.p50Ms)} vs ${ms(g.direct.p50Ms)} direct, ${g.rate} rps)`
      : 'not measured',
    goal: '≤ 1 ms',
    met: g ? g.addedP50Ms <= 1 && g.viaLookout.errors === 0 : undefined,
  });
  const live = r.live;
  out.push({
    target: 'throughput with a live view open',
    measured: live
      ? `${fixed(live.ratio, 3)}× (${thousands(live.withPageRps)} vs ${thousands(live.withoutRps)} rps, medians of ${live.runs} runs each)`
      : 'not measured',
    goal: '≥ 0.97×',
    met: live
      ? live.ratio >= 0.97 && [...live.without, ...live.withPage].every((m) => m.errors === 0)
      : undefined,
  });
  const idle = r.idle?.find((i) => i.name === 'lookout-full');
  out.push({
    target: `RSS with ${thousands(idle?.sessions ?? 10_000)} idle sessions`,
    measured: idle ? `${fixed(idle.afterMb)} MB` : 'not measured',
    goal: '≤ 300 MB with 10,000',
    met: idle ? idle.afterMb <= 300 : undefined,
  });
  const s = r.soak;
  out.push({
    target: `RSS growth over the soak${s && s.seconds < 600 ? ` (shortened: ${s.seconds} s, not 600 s)` : ''}`,
    measured: s
      ? `${fixed(s.growth * 100, 1)} % (${fixed(s.startMb)} → ${fixed(s.endMb)} MB), ${s.load.errors} errors`
      : 'not measured',
    goal: '≤ 5 % over 10 min',
    met: s ? s.growth <= 0.05 : undefined,
  });
  if (s) {
    out.push({
      target:
        'live heap growth over the soak, after a forced full GC (for reference: objects retained, not heap V8 keeps)',
      measured: `${fixed(s.liveHeapGrowth * 100, 1)} % (${fixed(s.liveHeapStartMb, 1)} → ${fixed(s.liveHeapEndMb, 1)} MiB)`,
      goal: '≤ 5 % over 10 min',
      met: s.liveHeapGrowth <= 0.05,
    });
  }
  const ready = r.ready;
  out.push({
    target: 'ready after start (spawn → /health/ready 200, median)',
    measured: ready
      ? `${fixed(ready.medianMs)} ms (runs: ${ready.runsMs.map((x) => fixed(x)).join(', ')}; CPU used by then: median ${fixed(median(ready.cpuMs))} ms)`
      : 'not measured',
    goal: '≤ 1000 ms',
    met: ready ? ready.medianMs <= 1000 : undefined,
  });
  if (down && full) {
    out.push({
      target: 'throughput with the collector down (no goal set)',
      measured: `${fixed(down.rps / full.rps, 2)}× of collector up, ${down.errors} errors`,
      goal: 'no errors',
      met: down.errors === 0,
    });
  }
  return out;
}

export function verdictTable(v: TargetVerdict[]): string {
  const status = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? 'met' : 'NOT MET');
  return [
    row(['target', 'measured', 'goal', 'status']),
    row(['---', '---', '---', '---']),
    ...v.map((t) => row([t.target, t.measured, t.goal, status(t.met)])),
  ].join('\n');
}
