/**
 * The bench's constant-rate load generator (open model): `tools/call` at a fixed schedule, request i
 * due at start + i / RATE whatever the server does, so a stall shows as queueing in the latencies.
 * Run by bench/harness/load.ts as its own process on the load CPU; settings come from the environment:
 * URL, TOOL, SESSION (may be empty), RATE (per second), WARMUP and SECONDS, CONNECTIONS.
 *
 * It does little per request (undici's dispatch API on a pool, one prepared body), since it shares
 * its CPU with the OTLP receiver. A request's latency runs from the moment
 * the generator issued it, waiting for a free connection included (the server's backlog, counted as
 * wrk2 counts it). The generator's own lateness (issue time − scheduled time) is measured separately:
 * when it is large, the generator, not the server, set the pace, and the harness refuses the row.
 *
 * Prints `lookout-bench: measure starts` and `… ends` on stderr at the measured phase's bounds (the
 * harness reads the server's CPU time there), and one `RESULT {json}` line on stdout.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Dispatcher, Pool } from 'undici';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const url = new URL(env('URL'));
const tool = env('TOOL');
const session = process.env.SESSION ?? '';
const rate = Number(env('RATE'));
const warmupSeconds = Number(env('WARMUP'));
const seconds = Number(env('SECONDS'));
const connections = Number(process.env.CONNECTIONS ?? '64');
/** Past this many requests in flight the server is stuck: further arrivals are dropped (and counted). */
const maxInFlight = Number(process.env.MAX_IN_FLIGHT ?? '4096');
const timeoutMs = 5000;

const text = 'hello, lookout';
const body = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: tool, arguments: { text } },
});
const headers: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};
if (session) headers['mcp-session-id'] = session;

const pool = new Pool(url.origin, {
  connections,
  pipelining: 1,
  headersTimeout: timeoutMs,
  bodyTimeout: timeoutMs,
});

const total = Math.round(rate * (warmupSeconds + seconds));
const firstMeasured = Math.round(rate * warmupSeconds);
const measuredCount = total - firstMeasured;
/** Latency of each measured request in ms (NaN until it answers); lateness of its issue in ms. */
const latencies = new Float64Array(measuredCount).fill(Number.NaN);
const lateness = new Float64Array(measuredCount);
let errors = 0;
let dropped = 0;
let inFlight = 0;
let done = 0;
let issued = 0;

const expected = Buffer.from(text);
const bodyBytes = Buffer.from(body);

function finish(index: number, issuedAt: number, ok: boolean): void {
  if (index >= firstMeasured) {
    if (ok) latencies[index - firstMeasured] = performance.now() - issuedAt;
    else errors++;
  }
  inFlight--;
  done++;
}

/**
 * One call's callbacks: undici's dispatch API, cheaper than a promise and a body stream per request
 * (the pool's clients take the callback form their request core calls directly).
 */
class Call implements Dispatcher.DispatchHandler {
  readonly index: number;
  readonly issuedAt: number;
  #status = 0;
  #chunks: Buffer[] = [];
  constructor(index: number, issuedAt: number) {
    this.index = index;
    this.issuedAt = issuedAt;
  }
  onConnect(): void {}
  onHeaders(statusCode: number): boolean {
    this.#status = statusCode;
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.#chunks.push(chunk);
    return true;
  }
  onComplete(): void {
    const answer = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    finish(
      this.index,
      this.issuedAt,
      this.#status === 200 && answer !== undefined && answer.includes(expected),
    );
  }
  onError(): void {
    finish(this.index, this.issuedAt, false);
  }
}

const request: Dispatcher.DispatchOptions = {
  origin: url.origin,
  path: url.pathname,
  method: 'POST',
  headers,
  body: bodyBytes,
};

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let cpuAtMeasureStart: NodeJS.CpuUsage | undefined;
let measureStartedAt = 0;
const start = performance.now();
const intervalMs = 1000 / rate;

await new Promise<void>((resolve) => {
  const tick = () => {
    const now = performance.now();
    while (issued < total && start + issued * intervalMs <= now) {
      const index = issued++;
      if (index === firstMeasured) {
        process.stderr.write('lookout-bench: measure starts\n');
        cpuAtMeasureStart = process.cpuUsage();
        measureStartedAt = now;
        loopDelay.enable();
      }
      if (index >= firstMeasured) lateness[index - firstMeasured] = now - (start + index * intervalMs);
      if (inFlight >= maxInFlight) {
        if (index >= firstMeasured) dropped++;
        done++;
        continue;
      }
      inFlight++;
      pool.dispatch(request, new Call(index, now));
    }
    if (issued < total) {
      // Timers fire no sooner than 1 ms: arrivals due within a tick go out together at its start.
      setTimeout(tick, Math.max(0, start + issued * intervalMs - performance.now()));
    } else {
      resolve();
    }
  };
  tick();
});
const issuedBy = performance.now();
// The measured phase ends with the schedule; the answers still in flight are awaited, not cut off.
while (done < total) await new Promise((resolve) => setTimeout(resolve, 5));
process.stderr.write('lookout-bench: measure ends\n');
loopDelay.disable();
const cpu = process.cpuUsage(cpuAtMeasureStart);
await pool.close();

const sortedPercentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);
const answered = latencies.filter((ms) => !Number.isNaN(ms)).sort();
const late = lateness.slice().sort();
const measuredWallSeconds = (issuedBy - measureStartedAt) / 1000;
process.stdout.write(
  `RESULT ${JSON.stringify({
    scheduled: measuredCount,
    requests: answered.length + errors,
    errors,
    dropped,
    p50Ms: sortedPercentile(answered, 50),
    p99Ms: sortedPercentile(answered, 99),
    maxMs: answered.at(-1) ?? Number.NaN,
    latenessP99Ms: sortedPercentile(late, 99),
    latenessMaxMs: late.at(-1) ?? Number.NaN,
    eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    cpuShare: (cpu.user + cpu.system) / 1e6 / measuredWallSeconds,
  })}\n`,
);
