import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { toolPath } from '../../test/support/tools.ts';

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

/** k6 on `cpu`: `tool` called at a constant `rate` per second for `seconds` (open model). */
export async function k6ConstantRate(
  url: string,
  session: string,
  options: { cpu: string; tool: string; rate: number; seconds: number },
): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-k6-'));
  const summary = join(dir, 'summary.json');
  try {
    const vars = {
      URL: url,
      TOOL: options.tool,
      SESSION: session,
      RATE: String(Math.round(options.rate)),
      SECONDS: String(options.seconds),
      SUMMARY: summary,
    };
    await run(
      'taskset',
      [
        '-c',
        options.cpu,
        toolPath('k6'),
        'run',
        '--quiet',
        '--no-usage-report',
        ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        join(loadDir, 'constant-rate.k6.js'),
      ],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir }, maxBuffer: 16 << 20 },
    );
    const { metrics } = JSON.parse(readFileSync(summary, 'utf8')) as K6Summary;
    const duration = metrics.http_req_duration?.values ?? {};
    const requests = metrics.http_reqs?.values.count ?? 0;
    return {
      requests,
      rps: requests / options.seconds,
      p50Ms: duration['p(50)'] ?? Number.NaN,
      p99Ms: duration['p(99)'] ?? Number.NaN,
      errors: metrics.checks?.values.fails ?? 0,
      dropped: metrics.dropped_iterations?.values.count ?? 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
