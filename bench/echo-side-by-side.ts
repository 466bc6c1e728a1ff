/**
 * tools/call echo, side by side in one run: Lookout vs a raw Express JSON-RPC echo vs the MCP SDK's
 * stateful Streamable HTTP pattern. Each server is pinned to CPU 0 and wrk to CPU 1; rounds are
 * interleaved so drift on the machine hits every target alike. Prints rps, p50, p99 and ratios.
 *
 *   npm run bench:echo -- [--seconds 10] [--rounds 2] [--connections 32]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/ports.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const root = fileURLToPath(new URL('..', import.meta.url));
const node = process.execPath;

interface Target {
  readonly name: string;
  readonly args: (port: number) => string[];
  readonly sessions: boolean;
  readonly env?: Record<string, string>;
}

const targets: Target[] = [
  { name: 'express-echo', args: () => ['bench/baselines/express-echo.ts'], sessions: false },
  { name: 'sdk-stateful', args: () => ['bench/baselines/sdk-stateful.ts'], sessions: true },
  {
    name: 'lookout',
    args: (port) => ['dist/cli.js', '--port', String(port), '--log-level', 'warn'],
    sessions: true,
  },
  {
    name: 'lookout-no-telemetry',
    args: (port) => ['dist/cli.js', '--port', String(port), '--log-level', 'warn'],
    sessions: true,
    env: { OTEL_SDK_DISABLED: 'true' },
  },
];

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function openSession(url: string): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    }),
  });
  await res.text();
  const session = res.headers.get('mcp-session-id');
  if (!session) throw new Error(`no session from ${url}`);
  const sessionHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
  await (
    await fetch(url, {
      method: 'POST',
      headers: sessionHeaders,
      body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    })
  ).text();
  return session;
}

async function checkEcho(url: string, session: string): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      ...headers,
      ...(session && { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }),
    },
    body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, lookout"}}}',
  });
  const text = await res.text();
  if (res.status !== 200 || !text.includes('"text":"hello, lookout"'))
    throw new Error(`bad echo from ${url}: ${res.status} ${text}`);
}

function wrk(url: string, session: string, duration: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    execFile(
      'taskset',
      ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${duration}s`, '-s', 'bench/echo.lua', url],
      { cwd: root, env: { ...process.env, MCP_SESSION: session } },
      (error, stdout) => {
        if (error) return reject(error);
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (!line) return reject(new Error(`wrk printed no result:\n${stdout}`));
        const r = JSON.parse(line.slice(7)) as {
          requests: number;
          seconds: number;
          errors: number;
          p50_ms: number;
          p99_ms: number;
        };
        resolve({ rps: r.requests / r.seconds, p50: r.p50_ms, p99: r.p99_ms, errors: r.errors });
      },
    );
  });
}

async function measure(target: Target): Promise<Sample> {
  const port = await freePort();
  const child: ChildProcess = spawn('taskset', ['-c', '0', node, ...target.args(port)], {
    cwd: root,
    env: { ...process.env, ...target.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitForPort(port);
    const url = `http://127.0.0.1:${port}/mcp`;
    const session = target.sessions ? await openSession(url) : '';
    await checkEcho(url, session);
    await wrk(url, session, 3);
    return await wrk(url, session, seconds);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
for (let round = 1; round <= rounds; round++) {
  for (const target of targets) {
    const sample = await measure(target);
    samples.get(target.name)?.push(sample);
    process.stderr.write(
      `round ${round} ${target.name}: ${sample.rps.toFixed(0)} rps, p99 ${sample.p99.toFixed(2)} ms\n`,
    );
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
const baseline = median((samples.get('express-echo') ?? []).map((s) => s.rps));
console.log(
  `\ntools/call echo, ${connections} connections, ${seconds}s x ${rounds} rounds, server on CPU 0, wrk on CPU 1`,
);
console.log('| target | rps (median) | p50 ms | p99 ms | errors | vs express-echo |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const target of targets) {
  const s = samples.get(target.name) ?? [];
  const rps = median(s.map((x) => x.rps));
  console.log(
    `| ${target.name} | ${rps.toFixed(0)} | ${median(s.map((x) => x.p50)).toFixed(2)} | ${median(s.map((x) => x.p99)).toFixed(2)} | ${s.reduce((n, x) => n + x.errors, 0)} | ${(rps / baseline).toFixed(2)}x |`,
  );
}
const sdk = median((samples.get('sdk-stateful') ?? []).map((s) => s.rps));
for (const name of ['lookout', 'lookout-no-telemetry']) {
  const rps = median((samples.get(name) ?? []).map((s) => s.rps));
  console.log(`${name} / sdk-stateful = ${(rps / sdk).toFixed(2)}x`);
}
