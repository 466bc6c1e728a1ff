/** Running loadtest/mcp.js with the k6 built by `npm run tools`, and reading its JSON summary. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolPath } from '../../support/tools.ts';
import { k6Script } from './scenarios.ts';

/** k6's exit code when a threshold was crossed (the run itself went through). */
export const thresholdsCrossedExitCode = 99;

export interface K6Run {
  /** One MCP endpoint, or several by name for an A/B run (every iteration calls each of them). */
  readonly url: string | Readonly<Record<string, string>>;
  readonly scenario: string;
  readonly summaryDir: string;
  /** File name of the JSON and Markdown summaries, without extension. */
  readonly summaryName: string;
  /** CPU list for taskset; unpinned when absent. */
  readonly cpu?: string;
  readonly duration?: string;
  readonly rate?: number;
  /** Overrides of the gateway tools of loadtest/scenarios.json ('' leaves that call out). */
  readonly gatewayTool?: string;
  readonly gatewayHttpTool?: string;
  /** Show k6's progress and summary (true), or keep only the last lines for an error message. */
  readonly showOutput: boolean;
}

export interface K6Outcome {
  readonly exitCode: number;
  readonly summaryPath: string;
  readonly outputTail: string;
}

export async function runK6(run: K6Run): Promise<K6Outcome> {
  const vars: Record<string, string | undefined> = {
    SCENARIO: run.scenario,
    URL: typeof run.url === 'string' ? run.url : undefined,
    TARGETS:
      typeof run.url === 'string'
        ? undefined
        : Object.entries(run.url)
            .map(([name, url]) => `${name}=${url}`)
            .join(','),
    SUMMARY_DIR: run.summaryDir,
    SUMMARY_NAME: run.summaryName,
    DURATION: run.duration,
    RATE: run.rate === undefined ? undefined : String(run.rate),
    GATEWAY_TOOL: run.gatewayTool,
    GATEWAY_HTTP_TOOL: run.gatewayHttpTool,
  };
  const k6Args = [
    'run',
    '--no-usage-report',
    // Progress lines only on a terminal: in a log (CI) they would be one line a second.
    ...(run.showOutput && process.stdout.isTTY ? [] : ['--quiet']),
    ...Object.entries(vars).flatMap(([key, value]) => (value === undefined ? [] : ['-e', `${key}=${value}`])),
    k6Script,
  ];
  const [command, args] = run.cpu
    ? ['taskset', ['-c', run.cpu, toolPath('k6'), ...k6Args]]
    : [toolPath('k6'), k6Args];
  const child = spawn(command, args, {
    // k6 needs a HOME for its config dir; nothing else of ours should reach it.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? run.summaryDir },
    stdio: ['ignore', run.showOutput ? 'inherit' : 'pipe', run.showOutput ? 'inherit' : 'pipe'],
  });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(chunk.toString('utf8'));
    if (tail.length > 40) tail.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return {
    exitCode: code ?? (signal ? 128 : 1),
    summaryPath: join(run.summaryDir, `${run.summaryName}.json`),
    outputTail: tail.join('').slice(-4000),
  };
}

interface K6SummaryMetric {
  readonly values: Readonly<Record<string, number>>;
  readonly thresholds?: Readonly<Record<string, { readonly ok: boolean }>>;
}

interface K6Summary {
  readonly metrics: Readonly<Record<string, K6SummaryMetric | undefined>>;
}

export interface KindLatency {
  readonly count: number;
  readonly p95: number;
  readonly p99: number;
}

/** What one k6 run measured, reduced to what the gate compares and judges. */
export interface RunStats {
  /** Latency (ms) of the measured phase per request kind. */
  readonly kinds: Readonly<Record<string, KindLatency>>;
  readonly requests: number;
  readonly failedRequests: number;
  readonly checksPassed: number;
  readonly checksFailed: number;
  readonly droppedIterations: number;
  /** Every k6 threshold held. */
  readonly thresholdsOk: boolean;
}

/**
 * The statistics of one run, or of one target of an A/B run (whose submetrics carry a `target` tag).
 * Dropped iterations are the run's, shared by its targets.
 */
export function readRunStats(
  summaryPath: string,
  scenario: string,
  kinds: readonly string[],
  target?: string,
): RunStats {
  const { metrics } = JSON.parse(readFileSync(summaryPath, 'utf8')) as K6Summary;
  const only = target === undefined ? '' : `,target:${target}`;
  const latency: Record<string, KindLatency> = {};
  for (const kind of kinds) {
    const values = metrics[`http_req_duration{scenario:${scenario},kind:${kind}${only}}`]?.values;
    if (values?.count) {
      latency[kind] = {
        count: values.count,
        p95: values['p(95)'] ?? Number.NaN,
        p99: values['p(99)'] ?? Number.NaN,
      };
    }
  }
  const tagged = (name: string) => metrics[target === undefined ? name : `${name}{target:${target}}`];
  const failed = tagged('http_req_failed')?.values;
  const checks = tagged('checks')?.values;
  return {
    kinds: latency,
    requests: (failed?.passes ?? 0) + (failed?.fails ?? 0),
    failedRequests: failed?.passes ?? 0,
    checksPassed: checks?.passes ?? 0,
    checksFailed: checks?.fails ?? 0,
    droppedIterations: metrics.dropped_iterations?.values.count ?? 0,
    thresholdsOk: Object.entries(metrics).every(
      ([name, metric]) =>
        (target !== undefined && !name.includes(`target:${target}`)) ||
        Object.values(metric?.thresholds ?? {}).every((threshold) => threshold.ok),
    ),
  };
}
