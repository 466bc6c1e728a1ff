import { median } from '../support/statistics.ts';
import { eraSideName } from './era-sides.ts';
import { describeGc } from './harness/gc.ts';
import type { LoadResult } from './harness/load.ts';
import type {
  GatewayResult,
  IdleResult,
  LatencyResult,
  LiveViewResult,
  Measured,
  MeasuredAtRate,
  PairedRatio,
  ReadyResult,
  SoakResult,
  ThroughputRow,
} from './scenarios.ts';

/** The most a target's rounds may differ (spread of rps, or of CPU per request) for ratios over it to count. */
export const steadyWithin = 0.1;

export interface Results {
  throughput?: ThroughputRow[];
  paired?: PairedRatio[];
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
  /** undefined: not measured in this run, or measured but not valid. */
  readonly met: boolean | undefined;
  /** Why the run's figure for this target cannot be counted (the load generator, not the server, set it). */
  readonly invalid?: string;
}

/** Round by round, `row`'s rps over `base`'s (rounds run side by side), e.g. `0.91×, 0.95×, 0.93×`. */
export function roundRatios(row: ThroughputRow, base: ThroughputRow): string {
  return row.runs.map((run, i) => `${fixed(run.rps / (base.runs[i]?.rps ?? Number.NaN), 2)}×`).join(', ');
}

/** Why ratios over these rows do not count: a row whose rounds differ by more than `steadyWithin`. */
export function unsteady(
  rows: readonly ThroughputRow[],
  spreadOf: 'rpsSpread' | 'cpuSpread',
): string | undefined {
  const what = spreadOf === 'rpsSpread' ? 'rps' : 'CPU per request';
  const faults = rows
    .filter((r) => !(r[spreadOf] <= steadyWithin))
    .map(
      (r) =>
        `${r.name}'s rounds differ by ${fixed(r[spreadOf] * 100)} % in ${what} (bound ${fixed(steadyWithin * 100)} %)`,
    );
  return faults.length > 0 ? faults.join('; ') : undefined;
}

/** Why the latency comparison does not count: the as-shipped row or the floor it is divided by is invalid. */
export function latencyInvalid(l: LatencyResult): string | undefined {
  const faults = [
    l.load.invalid && `${l.target}: ${l.load.invalid}`,
    l.floor.invalid && `the floor: ${l.floor.invalid}`,
  ].filter((f): f is string => typeof f === 'string' && f.length > 0);
  return faults.length > 0 ? faults.join('; ') : undefined;
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
      'rounds: rps (spread)',
    ]),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---', '---']),
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
        `${t.runs.map((run) => thousands(run.rps)).join(' / ')} (${fixed(t.rpsSpread * 100)} %${t.rpsSpread > steadyWithin ? ', UNSTEADY' : ''})`,
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
      '',
    ]);
  /** A constant-rate row: its figures only when the generator held the rate. */
  const atRate = (scenario: string, target: string, m: MeasuredAtRate, rss: string, note = '') =>
    m.invalid
      ? row([
          scenario,
          target,
          '—',
          '—',
          '—',
          '—',
          rss,
          '—',
          '',
          '',
          `INVALID, not reported: ${m.invalid}`,
          '',
        ])
      : other(scenario, target, m, rss, note);
  if (r.latency) {
    const l = r.latency;
    const scenario = `constant ${thousands(l.rate)} rps = 50 % of ${l.target}'s max (open model, ${l.seconds} s)`;
    lines.push(atRate(scenario, 'express-echo (the floor: load generator and machine)', l.floor, ''));
    lines.push(atRate(scenario, 'express-echo-otel (the OTel SDK alone, full telemetry)', l.sdkAlone, ''));
    lines.push(
      atRate(scenario, `${l.target} (as shipped)`, l.load, fixed(l.rssMb), `GC: ${describeGc(l.gc)}`),
    );
  }
  if (r.gateway) {
    const g = r.gateway;
    const scenario = `gateway, constant ${g.rate} rps (open model, ${g.seconds} s)`;
    lines.push(atRate(scenario, 'sdk-stateful called directly', g.direct, ''));
    if (g.lookoutAlone)
      lines.push(atRate(scenario, 'lookout-full serving its own echo (no hop)', g.lookoutAlone, ''));
    lines.push(
      atRate(
        scenario,
        'lookout-gateway → sdk-stateful',
        g.viaLookout,
        fixed(g.lookoutRssMb),
        'CPU: Lookout only',
      ),
    );
    if (g.viaStdio)
      lines.push(
        atRate(scenario, 'lookout-gateway → sdk-stdio (child process)', g.viaStdio, '', 'CPU: Lookout only'),
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
        `soak, constant ${thousands(s.rate)} rps (open model, ${s.seconds} s)`,
        'lookout-full',
        s.load,
        `${fixed(s.startMb)} → ${fixed(s.endMb)} (max ${fixed(s.maxMb)})`,
        `growth ${fixed(s.growth * 100, 1)} % after ${fixed(s.warmupSeconds)} s warm-up; live heap ${fixed(s.liveHeapStartMb, 1)} → ${fixed(s.liveHeapEndMb, 1)} MiB`,
      ),
    );
  }
  return lines.join('\n');
}

/** A verdict from a measured figure: `INVALID` with the fault when there is one, else met or not. */
function judged(
  target: string,
  measured: string,
  goal: string,
  fault: string | undefined,
  holds: () => boolean,
): TargetVerdict {
  return fault
    ? { target, measured: `${measured}; INVALID: ${fault}`, goal, met: undefined, invalid: fault }
    : { target, measured, goal, met: holds() };
}

/** Why a paired comparison does not count: errors, or pairs whose rps (or CPU) ratios differ by more than `steadyWithin`. */
function pairFault(p: PairedRatio, spreadOf: 'spread' | 'cpuSpread'): string | undefined {
  const who = spreadOf === 'spread' ? '' : `${p.name}/${p.base}: `;
  if (p.errors > 0) return `${who}${p.errors} errors`;
  if (p[spreadOf] <= steadyWithin) return undefined;
  const what = spreadOf === 'spread' ? 'ratios' : 'CPU ratios';
  return `${who}the pairs' ${what} differ by ${fixed(p[spreadOf] * 100)} % (bound ${fixed(steadyWithin * 100)} %)`;
}

/** How much of a proxied call's CPU is the hop: beyond what Lookout's own echo costs at the same rate. */
function hopShare(g: GatewayResult): string {
  const own = g.lookoutAlone;
  if (!own || own.invalid) return '';
  return `; Lookout serving its own echo at that rate: ${fixed(own.cpuUsPerRequest)} µs CPU per call (${ms(own.p50Ms)} ms p50), so the hop itself costs Lookout ${fixed(g.viaLookout.cpuUsPerRequest - own.cpuUsPerRequest)} µs`;
}

/** Each of the issue's targets: measured value, goal, and whether this run met it. */
export function verdicts(r: Results): TargetVerdict[] {
  const byName = new Map((r.throughput ?? []).map((t) => [t.name, t]));
  const full = byName.get('lookout-full');
  const off = byName.get('lookout-off');
  const express = byName.get('express-echo');
  const down = byName.get('lookout-collector-down');
  const out: TargetVerdict[] = [];
  const shipped = byName.get('lookout-default');
  const vsOff = (row: ThroughputRow | undefined) =>
    row && off
      ? `${fixed(row.rps / off.rps, 2)}× (${thousands(row.rps)} / ${thousands(off.rps)} rps; per round ${roundRatios(row, off)}; CPU ${fixed(row.cpuUsPerRequest)} vs ${fixed(off.cpuUsPerRequest)} µs/req)`
      : 'not measured';
  /** A ratio target over measured rows: met only when every row's rounds agree. */
  const ratioVerdict = (
    target: string,
    rows: (ThroughputRow | undefined)[],
    spreadOf: 'rpsSpread' | 'cpuSpread',
    measured: string,
    goal: string,
    holds: () => boolean,
  ): TargetVerdict => {
    if (!rows.every((r) => r)) return { target, measured: 'not measured', goal, met: undefined };
    return judged(target, measured, goal, unsteady(rows as ThroughputRow[], spreadOf), holds);
  };
  /**
   * A ratio target from the paired slices when they ran (both targets up at once, measured seconds
   * apart), else the rows' verdict: valid when the pairs agree within `steadyWithin`.
   */
  const pairedOr = (name: string, base: string, atLeast: number, rows: TargetVerdict): TargetVerdict => {
    const p = r.paired?.find((x) => x.name === name && x.base === base);
    if (!p) return rows;
    const where = p.sameProcess
      ? 'in one process serving both, two fresh ones warming them up in either order'
      : 'on two pairs of processes, warmed up in either order';
    const measured = `${fixed(p.ratio, 2)}× in ${p.pairs.length} pairs of ${p.sliceSeconds} s slices ${where} (per pair ${p.pairs.map((x) => `${fixed(x.ratio, 2)}×`).join(', ')}; CPU ${fixed(p.cpuUsPerRequest)} vs ${fixed(p.baseCpuUsPerRequest)} µs/req)`;
    return judged(rows.target, measured, rows.goal, pairFault(p, 'spread'), () => p.ratio >= atLeast);
  };
  out.push(
    pairedOr(
      'lookout-default',
      'lookout-off',
      0.85,
      ratioVerdict(
        'tools/call throughput as shipped (adaptive sampling) vs telemetry off (OTEL_SDK_DISABLED=true)',
        [shipped, off],
        'rpsSpread',
        vsOff(shipped),
        '≥ 0.85×',
        () => (shipped?.rps ?? 0) / (off?.rps ?? 1) >= 0.85,
      ),
    ),
  );
  out.push(
    pairedOr(
      'lookout-full',
      'lookout-off',
      0.65,
      ratioVerdict(
        'tools/call throughput, every call traced and every signal exported, vs telemetry off',
        [full, off],
        'rpsSpread',
        vsOff(full),
        '≥ 0.65×',
        () => (full?.rps ?? 0) / (off?.rps ?? 1) >= 0.65,
      ),
    ),
  );
  const sdkAlone = byName.get('express-echo-otel');
  const lookoutCost = full && off ? full.cpuUsPerRequest - off.cpuUsPerRequest : undefined;
  const sdkCost = sdkAlone && express ? sdkAlone.cpuUsPerRequest - express.cpuUsPerRequest : undefined;
  const cpuTarget =
    "telemetry's CPU per call, every call traced (lookout-full − lookout-off), vs the OTel SDK alone giving the same telemetry (express-echo-otel − express-echo)";
  const costs = (lookout: number | undefined, sdk: number | undefined) =>
    lookout === undefined || sdk === undefined
      ? 'not measured'
      : `${fixed(lookout)} vs ${fixed(sdk)} µs/req (${lookout >= sdk ? '+' : ''}${fixed(lookout - sdk)} µs)`;
  const lookoutPair = r.paired?.find((p) => p.name === 'lookout-full' && p.base === 'lookout-off');
  const sdkPair = r.paired?.find((p) => p.name === 'express-echo-otel' && p.base === 'express-echo');
  if (lookoutPair && sdkPair) {
    // Each cost from its own pair of targets up at once; valid when both pairs' CPU ratios agree.
    const lookout = lookoutPair.cpuUsPerRequest - lookoutPair.baseCpuUsPerRequest;
    const sdk = sdkPair.cpuUsPerRequest - sdkPair.baseCpuUsPerRequest;
    const measured = `${costs(lookout, sdk)} in pairs of ${lookoutPair.sliceSeconds} s slices`;
    const fault = [lookoutPair, sdkPair]
      .map((p) => pairFault(p, 'cpuSpread'))
      .filter((x) => x !== undefined)
      .join('; ');
    out.push(
      judged(cpuTarget, measured, '≤ SDK alone + 10 µs', fault || undefined, () => lookout <= sdk + 10),
    );
  } else {
    out.push(
      ratioVerdict(
        cpuTarget,
        [full, off, sdkAlone, express],
        'cpuSpread',
        costs(lookoutCost, sdkCost),
        '≤ SDK alone + 10 µs',
        () => (lookoutCost ?? Number.POSITIVE_INFINITY) <= (sdkCost ?? 0) + 10,
      ),
    );
  }
  const modern = byName.get('lookout-full-2026');
  out.push(
    pairedOr(
      eraSideName('lookout-full', 'modern'),
      eraSideName('lookout-full', 'legacy'),
      1,
      ratioVerdict(
        'MCP 2026-07-28 echo (no session) vs the 2025-11-25 echo (session), both every call traced',
        [modern, full],
        'rpsSpread',
        modern && full
          ? `${fixed(modern.rps / full.rps, 2)}× (${thousands(modern.rps)} / ${thousands(full.rps)} rps; per round ${roundRatios(modern, full)})`
          : 'not measured',
        '≥ 1.00×',
        () => (modern?.rps ?? 0) >= (full?.rps ?? 1),
      ),
    ),
  );
  const l = r.latency;
  const latencyFault = l && latencyInvalid(l);
  out.push({
    target: `p99 at 50 % of max throughput, as shipped, vs the floor (express-echo) at the same rate, same run${l && l.seconds < 60 ? ` (shortened: ${l.seconds} s, not 60 s)` : ''}`,
    measured: !l
      ? 'not measured'
      : latencyFault
        ? `INVALID: ${latencyFault}`
        : `${ms(l.load.p99Ms)} ms at ${thousands(l.rate)} rps = ${fixed(l.load.p99Ms / l.floor.p99Ms, 2)}× the floor's ${ms(l.floor.p99Ms)} ms; ${l.load.errors} errors (express-echo-otel: ${l.sdkAlone.invalid ? 'invalid' : `${ms(l.sdkAlone.p99Ms)} ms`})`,
    goal: "≤ 2× the floor's p99, 0 errors",
    met: l && !latencyFault ? l.load.p99Ms <= 2 * l.floor.p99Ms && l.load.errors === 0 : undefined,
    ...(latencyFault && { invalid: latencyFault }),
  });
  const g = r.gateway;
  const hopFault =
    g &&
    [
      g.direct.invalid && `direct: ${g.direct.invalid}`,
      g.viaLookout.invalid && `through Lookout: ${g.viaLookout.invalid}`,
    ]
      .filter(Boolean)
      .join('; ');
  out.push({
    target: 'gateway hop over Streamable HTTP: added p50, and Lookout CPU per proxied call',
    measured: !g
      ? 'not measured'
      : hopFault
        ? `INVALID: ${hopFault}`
        : `+${ms(g.addedP50Ms)} ms p50 (${ms(g.viaLookout.p50Ms)} vs ${ms(g.direct.p50Ms)} direct), ${fixed(g.viaLookout.cpuUsPerRequest)} µs CPU per call, ${g.rate} rps${hopShare(g)}`,
    goal: '≤ 0.4 ms and ≤ 300 µs',
    met:
      g && !hopFault
        ? g.addedP50Ms <= 0.4 && g.viaLookout.cpuUsPerRequest <= 300 && g.viaLookout.errors === 0
        : undefined,
    ...(hopFault && { invalid: hopFault }),
  });
  if (g?.viaStdio) {
    const stdio = g.viaStdio;
    out.push({
      target:
        'gateway hop to a stdio upstream (reported beside the HTTP hop; no direct call to compare with)',
      measured: stdio.invalid
        ? `INVALID: ${stdio.invalid}`
        : `${ms(stdio.p50Ms)} ms p50 through Lookout, ${fixed(stdio.cpuUsPerRequest)} µs Lookout CPU per call, ${stdio.errors} errors, ${g.rate} rps`,
      goal: 'reported',
      met: stdio.invalid ? undefined : stdio.errors === 0,
      ...(stdio.invalid && { invalid: stdio.invalid }),
    });
  }
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
  const status = (t: TargetVerdict) =>
    t.invalid ? 'INVALID' : t.met === undefined ? 'not measured' : t.met ? 'met' : 'NOT MET';
  return [
    row(['target', 'measured', 'goal', 'status']),
    row(['---', '---', '---', '---']),
    ...v.map((t) => row([t.target, t.measured, t.goal, status(t)])),
  ].join('\n');
}
