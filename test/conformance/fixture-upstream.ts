/**
 * The conformance fixture in a process of its own, the upstream of a conformance run through the
 * gateway: a Lookout serving the fixture module on 127.0.0.1, port 0.
 * `--http`: prints `listening <url>` on stdout, then serves there until stdin closes.
 * `--stdio`: speaks MCP on stdin/stdout; each message is passed to that Lookout over Streamable HTTP
 * and whatever it sends back (answers, its requests, notifications) is written out.
 */
import { Writable } from 'node:stream';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { configSchema } from '../../src/config/schema.ts';
import { createLogging } from '../../src/logging/logger.ts';
import { type Lookout, startLookout } from '../../src/main.ts';
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
  const outside = new StdioServerTransport();
  const inside = new StreamableHTTPClientTransport(new URL(lookout.url));
  /** The id of the `initialize` request, whose answer names the version later requests must carry. */
  let initializeId: string | number | undefined;
  /** What follows `initialize` waits for its answer, which carries the session id. */
  let initialized: Promise<unknown> = Promise.resolve();
  outside.onmessage = (message: JSONRPCMessage) => {
    const initialize = 'method' in message && message.method === 'initialize' && 'id' in message;
    if (initialize) initializeId = message.id;
    const sent = initialize ? inside.send(message) : initialized.then(() => inside.send(message));
    if (initialize) initialized = sent.catch(() => undefined);
    sent.catch((error: Error) => {
      if ('id' in message && 'method' in message) {
        void outside.send({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: -32603, message: `fixture upstream: ${error.message}` },
        });
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
