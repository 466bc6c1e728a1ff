/**
 * The conformance fixture in a process of its own, the upstream of a conformance run through the
 * gateway: a Lookout serving the fixture module on 127.0.0.1, port 0.
 * `--http`: prints `listening <url>` on stdout, then serves there until stdin closes.
 * `--stdio`: speaks MCP on stdin/stdout, in either era (2025 after `initialize`, 2026-07-28 for a request
 * whose `_meta` envelope names it); each message is passed to that Lookout over Streamable HTTP and
 * whatever it sends back (answers, its requests, notifications, listen streams) is written out.
 */
import { appendFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { configSchema } from '../../src/config/schema.ts';
import { createLogging } from '../../src/logging/logger.ts';
import { type Lookout, startLookout } from '../../src/main.ts';
import { UpstreamHttpTransport } from '../../src/upstreams/http-transport.ts';
import { fixtureModule, listChangers, warmUp } from './harness.ts';

const mode = process.argv[2];
if (mode !== '--http' && mode !== '--stdio') {
  process.stderr.write('usage: fixture-upstream.ts --http | --stdio\n');
  process.exit(2);
}

const config = configSchema.parse({
  port: 0,
  tools: [fixtureModule],
  log: { level: 'warn', format: 'json' },
  telemetry: { enabled: false },
});
// Stdout may be the MCP stream: Lookout's log lines go to stderr.
const stream = new Writable({
  write(chunk, _encoding, done) {
    process.stderr.write(chunk, done);
  },
});
let lookout: Lookout;
lookout = await startLookout(config, {
  logging: createLogging(config, { stream }),
  definitions: listChangers((definition) => lookout.register(definition)),
});
await warmUp(lookout.url);

async function stop(): Promise<never> {
  await lookout.close();
  process.exit(0);
}

if (mode === '--http') {
  process.stdout.write(`listening ${lookout.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', stop);
} else {
  // For the tests of the era probe: what it is asked, in a file (`start <pid>` first).
  const journal = process.env.FIXTURE_JOURNAL;
  if (journal) appendFileSync(journal, `start ${process.pid}\n`);
  const outside = new StdioServerTransport();
  // Lookout's own upstream transport: it sends a 2026-07-28 request's headers from its envelope.
  const inside = new UpstreamHttpTransport(new URL(lookout.url));
  /** The id of the `initialize` request, whose answer names the version later requests must carry. */
  let initializeId: string | number | undefined;
  /** What follows `initialize` waits for its answer, which carries the session id. */
  let initialized: Promise<unknown> = Promise.resolve();
  outside.onmessage = (message: JSONRPCMessage) => {
    if (journal && 'method' in message && 'id' in message) appendFileSync(journal, `${message.method}\n`);
    const initialize = 'method' in message && message.method === 'initialize' && 'id' in message;
    if (initialize) initializeId = message.id;
    const sent = initialize ? inside.send(message) : initialized.then(() => inside.send(message));
    if (initialize) initialized = sent.catch(() => undefined);
    sent.catch((error: Error & { data?: { text?: unknown } }) => {
      if ('id' in message && 'method' in message) {
        // A 2026-07-28 refusal comes as an HTTP status with the JSON-RPC error as its body: passed on as it is.
        void outside.send(
          refusal(error.data?.text, message.id) ?? {
            jsonrpc: '2.0',
            id: message.id,
            error: { code: -32603, message: `fixture upstream: ${error.message}` },
          },
        );
      }
    });
  };
  inside.onmessage = (message: JSONRPCMessage) => {
    if ('result' in message && message.id === initializeId) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === 'string') inside.setProtocolVersion(version);
    }
    void outside.send(message);
  };
  inside.onerror = (error) => process.stderr.write(`fixture upstream: ${error.message}\n`);
  outside.onclose = () => void inside.close().finally(stop);
  await inside.start();
  await outside.start();
}

/** The JSON-RPC error answering request `id` that an HTTP error body holds, if it holds one. */
function refusal(body: unknown, id: string | number): JSONRPCMessage | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const answer = JSON.parse(body) as { id?: unknown; error?: unknown };
    return answer.id === id && typeof answer.error === 'object' ? (answer as JSONRPCMessage) : undefined;
  } catch {
    return undefined;
  }
}
