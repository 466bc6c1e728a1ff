/**
 * A misbehaving stdio MCP server for the chaos suite, speaking newline-delimited JSON-RPC by hand (no
 * SDK: it must be able to write what an SDK never would, and start fast). It writes its pid into
 * CHAOS_PID_DIR, so the suite can check that every child it ever had is gone.
 *
 * Environment: CHAOS_START_DELAY_MS (a cold start), CHAOS_EXIT_AT_START (exits 1 at once, a crash
 * loop), CHAOS_GARBAGE (a line of garbage on stdout before every answer), CHAOS_IGNORE_SIGTERM.
 * Tools: echo, sleep {ms} (stops when cancelled), crash, hang, silence {ms} (reads nothing), big
 * {bytes}, invalid (an answer that is no JSON-RPC message), close_stdout (stays alive), storm {n}
 * (n tools/list_changed notifications), report_env {names}, stats (tools/list requests answered).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

if (process.env.CHAOS_PID_DIR) writeFileSync(join(process.env.CHAOS_PID_DIR, String(process.pid)), '');
if (process.env.CHAOS_EXIT_AT_START) {
  process.stderr.write('chaos: exiting at start\n');
  process.exit(1);
}
if (process.env.CHAOS_IGNORE_SIGTERM) {
  process.on('SIGTERM', () => process.stderr.write('chaos: SIGTERM ignored\n'));
  setInterval(() => {}, 1000);
}
const startDelay = Number(process.env.CHAOS_START_DELAY_MS ?? 0);
if (startDelay > 0) await new Promise((resolve) => setTimeout(resolve, startDelay));

const garbage = [
  'not json at all',
  '{"half": ',
  '{"jsonrpc":"2.0"}',
  '\u0000\u0001\u00ff binary-ish',
  '[1,2,3]',
  '{"jsonrpc":"2.0","id":"no-such-request","result":{}}',
];
let garbageIndex = 0;

/** Set by close_stdout: what it would write goes nowhere, and the process lives on. */
let stdoutClosed = false;

function write(message: unknown): void {
  if (stdoutClosed) return;
  if (process.env.CHAOS_GARBAGE) process.stdout.write(`${garbage[garbageIndex++ % garbage.length]}\n`);
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const tool = (name: string, properties: Record<string, unknown> = {}) => ({
  name,
  inputSchema: { type: 'object', properties },
});
const tools = [
  tool('echo', { text: { type: 'string' } }),
  tool('sleep', { ms: { type: 'number' } }),
  tool('crash'),
  tool('hang'),
  tool('silence', { ms: { type: 'number' } }),
  tool('big', { bytes: { type: 'number' } }),
  tool('invalid'),
  tool('close_stdout'),
  tool('storm', { n: { type: 'number' } }),
  tool('report_env', { names: { type: 'array' } }),
  tool('stats'),
];

const text = (value: string) => ({ content: [{ type: 'text', text: value }] });
const pending = new Map<string | number, () => void>();

type Request = { id?: string | number; method: string; params?: Record<string, unknown> };

let silentUntil = 0;
/** tools/list requests answered: how often Lookout read the list. */
let listed = 0;

function handle(request: Request) {
  if (Date.now() < silentUntil) return;
  const { id, method, params = {} } = request;
  const answer = (result: unknown) => write({ jsonrpc: '2.0', id, result });
  if (method === 'notifications/cancelled') {
    const requestId = params.requestId as string | number;
    process.stderr.write(`chaos: cancelled ${requestId}\n`);
    pending.get(requestId)?.();
    return;
  }
  if (id === undefined) return;
  switch (method) {
    case 'initialize':
      return answer({
        protocolVersion: params.protocolVersion,
        capabilities: { tools: { listChanged: true } },
        serverInfo: { name: 'chaos-upstream', version: '1.0.0' },
      });
    case 'ping':
      return answer({});
    case 'tools/list':
      listed++;
      return answer({ tools });
    case 'tools/call':
      return callTool(id, params.name as string, (params.arguments ?? {}) as Record<string, unknown>, answer);
    default:
      write({ jsonrpc: '2.0', id, error: { code: -32601, message: `no method ${method}` } });
  }
}

function callTool(
  id: string | number,
  name: string,
  args: Record<string, unknown>,
  answer: (result: unknown) => void,
) {
  switch (name) {
    case 'echo':
      return answer(text(String(args.text ?? '')));
    case 'sleep': {
      process.stderr.write(`chaos: sleeping ${id}\n`);
      const timer = setTimeout(() => {
        pending.delete(id);
        answer(text(`slept ${args.ms}`));
      }, Number(args.ms));
      pending.set(id, () => {
        clearTimeout(timer);
        pending.delete(id);
      });
      return;
    }
    case 'crash':
      process.stderr.write('chaos: crashing\n');
      process.exit(3);
      return;
    case 'hang':
      return;
    case 'silence':
      answer(text('going silent'));
      // What is already read is not answered either: a stuck process.
      silentUntil = Date.now() + Number(args.ms);
      process.stdin.pause();
      setTimeout(() => process.stdin.resume(), Number(args.ms)).unref();
      return;
    case 'big':
      return answer(text('x'.repeat(Number(args.bytes))));
    case 'invalid':
      process.stdout.write(`${JSON.stringify({ jsonrpc: '1.0', id, result: text('wrong version') })}\n`);
      return;
    case 'close_stdout':
      answer(text('closing stdout'));
      setTimeout(() => {
        stdoutClosed = true;
        process.stdout.end();
      }, 20);
      setInterval(() => {}, 1000);
      return;
    case 'storm':
      for (let i = 0; i < Number(args.n); i++)
        write({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
      return answer(text(`stormed ${args.n}`));
    case 'stats':
      return answer(text(JSON.stringify({ listed })));
    case 'report_env':
      return answer(
        text(JSON.stringify(Object.fromEntries((args.names as string[]).map((n) => [n, process.env[n]])))),
      );
    default:
      write({ jsonrpc: '2.0', id, error: { code: -32602, message: `no tool ${name}` } });
  }
}

let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffer += chunk;
  for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
    const line = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    if (line.trim()) handle(JSON.parse(line) as Request);
  }
});
// Stdin closed: Lookout is stopping it (a child ignoring SIGTERM still goes here, unless it hangs).
process.stdin.on('end', () => {
  if (!process.env.CHAOS_IGNORE_SIGTERM) process.exit(0);
});
process.stderr.write('chaos upstream ready\n');
