import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { toolPath } from '../../support/tools.ts';
import { cpuSecondsOf, spawnPinned } from './processes.ts';

const run = promisify(execFile);
const loadDir = fileURLToPath(new URL('../load/', import.meta.url));

/** One load run: throughput and latency as the load generator saw them. */
export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failed requests: transport errors, non-2xx, or (k6) an answer that is not the echo. */
  readonly errors: number;
  /** Arrivals k6 could not start because every VU was busy (constant rate only). */
  readonly dropped?: number;
}

/** wrk on `cpu`: as many requests as `connections` keep-alive connections carry, for `seconds`. */
export async function wrkEcho(
  url: string,
  session: string,
  options: { cpu: string; seconds: number; connections: number },
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
    { env: { PATH: process.env.PATH ?? '', MCP_SESSION: session } },
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

interface K6Summary {
  metrics: Record<string, { values: Record<string, number> } | undefined>;
}

/** Enough memory that k6's Go garbage collector never has to run in a bench-length run. */
const k6Env = { GOGC: 'off', GOMEMLIMIT: '4GiB' };

export interface ConstantRateOptions {
  readonly cpu: string;
  readonly tool: string;
  readonly rate: number;
  /** Warm-up on the same VUs and connections, then the measured phase. */
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** A process whose CPU time over the measured phase is returned (the server under load). */
  readonly pid?: number;
}

export interface ConstantRateResult extends LoadResult {
  /** CPU seconds `pid` used during the measured phase. */
  readonly serverCpuSeconds?: number;
}

/** k6 on `cpu`: `tool` called at a constant `rate` per second (open model); only the measured phase counts. */
export async function k6ConstantRate(
  url: string,
  session: string,
  options: ConstantRateOptions,
): Promise<ConstantRateResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-k6-'));
  const summary = join(dir, 'summary.json');
  const vars = {
    URL: url,
    TOOL: options.tool,
    SESSION: session,
    RATE: String(Math.round(options.rate)),
    WARMUP: String(options.warmupSeconds),
    SECONDS: String(options.seconds),
    SUMMARY: summary,
  };
  let measureTimer: NodeJS.Timeout | undefined;
  let cpuAtMeasureStart: number | undefined;
  const pid = options.pid;
  const k6 = spawnPinned(
    toolPath('k6'),
    [
      'run',
      '--quiet',
      '--no-usage-report',
      ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      join(loadDir, 'constant-rate.k6.js'),
    ],
    {
      cpu: options.cpu,
      cwd: dir,
      env: k6Env,
      onStderrLine: (line) => {
        if (pid !== undefined && line.includes('lookout-bench: load starts'))
          measureTimer = setTimeout(() => {
            cpuAtMeasureStart = cpuSecondsOf(pid);
          }, options.warmupSeconds * 1000);
      },
    },
  );
  try {
    const [code] = (await once(k6.child, 'exit')) as [number | null];
    clearTimeout(measureTimer);
    if (code !== 0) throw new Error(`k6 exited with ${code}:\n${k6.stderrTail()}`);
    const serverCpuSeconds =
      pid !== undefined && cpuAtMeasureStart !== undefined
        ? cpuSecondsOf(pid) - cpuAtMeasureStart
        : undefined;
    const { metrics } = JSON.parse(readFileSync(summary, 'utf8')) as K6Summary;
    const measured = (name: string) => metrics[`${name}{phase:measure}`]?.values ?? {};
    const duration = measured('http_req_duration');
    const requests = measured('http_reqs').count ?? 0;
    const checks = measured('checks');
    return {
      requests,
      rps: requests / options.seconds,
      p50Ms: duration['p(50)'] ?? Number.NaN,
      p99Ms: duration['p(99)'] ?? Number.NaN,
      errors: checks.fails ?? 0,
      // k6 counts dropped arrivals per scenario, so this one covers the warm-up too.
      dropped: metrics.dropped_iterations?.values.count ?? 0,
      ...(serverCpuSeconds !== undefined && { serverCpuSeconds }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
