import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cpuSecondsOf, spawnPinned } from './processes.ts';

const run = promisify(execFile);
const loadDir = fileURLToPath(new URL('../load/', import.meta.url));

/** One load run: throughput and latency as the load generator saw them. */
export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failed requests: transport errors, non-2xx, or (constant rate) an answer that is not the echo. */
  readonly errors: number;
  /** Arrivals the generator could not issue (constant rate only): the server had too many in flight. */
  readonly dropped?: number;
}

/** wrk on `cpu`: as many requests as `connections` keep-alive connections carry, for `seconds`. */
export async function wrkEcho(
  url: string,
  session: string,
  options: { cpu: string; seconds: number; connections: number; era?: 'legacy' | 'modern' | undefined },
): Promise<LoadResult> {
  const { stdout } = await run(
    'taskset',
    [
      '-c',
      options.cpu,
      'wrk',
      '-t1',
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '--timeout',
      '5s',
      '-s',
      join(loadDir, 'echo.lua'),
      url,
    ],
    { env: { PATH: process.env.PATH ?? '', MCP_SESSION: session, MCP_ERA: options.era ?? 'legacy' } },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(line.slice('RESULT '.length)) as {
    requests: number;
    seconds: number;
    errors: number;
    p50_ms: number;
    p99_ms: number;
  };
  return {
    requests: r.requests,
    rps: r.requests / r.seconds,
    p50Ms: r.p50_ms,
    p99Ms: r.p99_ms,
    errors: r.errors,
  };
}

/** Bounds past which the generator, not the server, set the pace: a row beyond them is not reported. */
export const generatorBounds = {
  /** 99 % of arrivals issued within this many ms of their scheduled time. */
  latenessP99Ms: 2,
  /** No arrival issued later than this (a longer stall of the generator bunches arrivals into a burst). */
  latenessMaxMs: 50,
} as const;

export interface ConstantRateOptions {
  readonly cpu: string;
  readonly tool: string;
  readonly rate: number;
  /** Warm-up on the same connections, then the measured phase. */
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** A process whose CPU time over the measured phase is returned (the server under load). */
  readonly pid?: number;
  /** The OTLP receiver, which shares the generator's CPU: its CPU time over the measured phase is returned. */
  readonly receiverPid?: number;
}

export interface ConstantRateResult extends LoadResult {
  /** Arrivals the schedule had in the measured phase. */
  readonly scheduled: number;
  /** How late the generator issued arrivals against their schedule: 99th percentile and worst, ms. */
  readonly latenessP99Ms: number;
  readonly latenessMaxMs: number;
  /** Share of its CPU the generator used in the measured phase. */
  readonly generatorCpuShare: number;
  /** Why the run measured the generator rather than the server; absent when it is valid. */
  readonly invalid?: string;
  /** CPU seconds `pid` used during the measured phase. */
  readonly serverCpuSeconds?: number;
  /** Share of the load CPU the receiver (`receiverPid`) used during the measured phase. */
  readonly receiverCpuShare?: number;
}

type GeneratorFigures = Pick<
  ConstantRateResult,
  'scheduled' | 'requests' | 'dropped' | 'latenessP99Ms' | 'latenessMaxMs'
>;

/** Why a constant-rate run does not measure the server (the generator dropped or was late), if it does not. */
export function generatorFault(r: GeneratorFigures): string | undefined {
  const faults: string[] = [];
  if ((r.dropped ?? 0) > 0) faults.push(`the generator dropped ${r.dropped} of ${r.scheduled} arrivals`);
  if (r.requests + (r.dropped ?? 0) < r.scheduled)
    faults.push(`only ${r.requests} of ${r.scheduled} scheduled requests were made`);
  if (!(r.latenessP99Ms <= generatorBounds.latenessP99Ms))
    faults.push(
      `the generator issued 1 % of arrivals more than ${r.latenessP99Ms.toFixed(2)} ms late (bound ${generatorBounds.latenessP99Ms} ms)`,
    );
  if (!(r.latenessMaxMs <= generatorBounds.latenessMaxMs))
    faults.push(
      `the generator issued an arrival ${r.latenessMaxMs.toFixed(1)} ms late (bound ${generatorBounds.latenessMaxMs} ms)`,
    );
  return faults.length > 0 ? faults.join('; ') : undefined;
}

/**
 * bench/load/open-loop.ts on `cpu`: `tool` called at a constant `rate` per second (open model); only
 * the measured phase counts. The result says, in `invalid`, when the generator could not hold the rate.
 */
export async function constantRate(
  url: string,
  session: string,
  options: ConstantRateOptions,
): Promise<ConstantRateResult> {
  const env = {
    URL: url,
    TOOL: options.tool,
    SESSION: session,
    RATE: String(Math.round(options.rate)),
    WARMUP: String(options.warmupSeconds),
    SECONDS: String(options.seconds),
  };
  const pids = [options.pid, options.receiverPid];
  const cpuOf = () => pids.map((pid) => (pid === undefined ? Number.NaN : cpuSecondsOf(pid)));
  let cpuAtMeasureStart: number[] | undefined;
  let cpuAtMeasureEnd: number[] | undefined;
  let measureStartedAt = 0;
  let measureEndedAt = 0;
  let resultLine: string | undefined;
  // Above the receiver's priority where the system allows it (nice runs the generator regardless):
  // the receiver's batches then wait for the generator's ticks rather than delay them.
  const generator = spawnPinned('nice', ['-n', '-10', process.execPath, join(loadDir, 'open-loop.ts')], {
    cpu: options.cpu,
    cwd: loadDir,
    env,
    onStdoutLine: (line) => {
      if (line.startsWith('RESULT ')) resultLine = line.slice('RESULT '.length);
    },
    onStderrLine: (line) => {
      if (line === 'lookout-bench: measure starts') {
        cpuAtMeasureStart = cpuOf();
        measureStartedAt = performance.now();
      }
      if (line === 'lookout-bench: measure ends') {
        cpuAtMeasureEnd = cpuOf();
        measureEndedAt = performance.now();
      }
    },
  });
  const [code] = (await once(generator.child, 'exit')) as [number | null];
  if (code !== 0 || resultLine === undefined)
    throw new Error(`the load generator exited with ${code}:\n${generator.stderrTail()}`);
  const r = JSON.parse(resultLine) as {
    scheduled: number;
    requests: number;
    errors: number;
    dropped: number;
    p50Ms: number;
    p99Ms: number;
    latenessP99Ms: number;
    latenessMaxMs: number;
    cpuShare: number;
  };
  const figures = {
    requests: r.requests,
    rps: r.requests / options.seconds,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors: r.errors,
    dropped: r.dropped,
    scheduled: r.scheduled,
    latenessP99Ms: r.latenessP99Ms,
    latenessMaxMs: r.latenessMaxMs,
    generatorCpuShare: r.cpuShare,
  };
  const invalid = generatorFault(figures);
  const used = (i: number) => (cpuAtMeasureEnd?.[i] ?? Number.NaN) - (cpuAtMeasureStart?.[i] ?? Number.NaN);
  const serverCpuSeconds = used(0);
  const receiverCpuShare = used(1) / ((measureEndedAt - measureStartedAt) / 1000);
  return {
    ...figures,
    ...(invalid !== undefined && { invalid }),
    ...(Number.isFinite(serverCpuSeconds) && { serverCpuSeconds }),
    ...(Number.isFinite(receiverCpuShare) && { receiverCpuShare }),
  };
}
