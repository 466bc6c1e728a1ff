import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectClient, mcpHeaders, ready, rpc } from '../support/lookout.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';

const fixture = fileURLToPath(new URL('../fixtures/upstream-server.ts', import.meta.url));

/** A round-robin reverse proxy on loopback: each request goes to the next replica, bodies streamed both ways. */
async function roundRobin(targets: URL[]): Promise<{ url: string; server: Server; served: string[] }> {
  let next = 0;
  const served: string[] = [];
  const server = createServer((req, res) => {
    const target = targets[next++ % targets.length] as URL;
    served.push(`${req.method} ${target.port}`);
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.once('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, server, served };
}

describe('sessions that survive any replica (session state in an encrypted session id)', () => {
  const key = randomBytes(32).toString('base64');
  let a: LookoutProcess;
  let b: LookoutProcess;
  let proxy: Awaited<ReturnType<typeof roundRobin>>;

  before(async () => {
    // Both replicas serve the same upstream (each runs its own copy of it) and share the session key.
    const config = join(mkdtempSync(join(tmpdir(), 'lookout-replicas-')), 'lookout.json');
    writeFileSync(
      config,
      JSON.stringify({
        upstreams: [
          { name: 'fx', transport: 'stdio', command: process.execPath, args: [fixture], required: true },
        ],
      }),
    );
    const env = { LOOKOUT_SESSION_KEYS: key, OTEL_SDK_DISABLED: 'true' };
    [a, b] = await Promise.all([
      spawnLookout(['--config', config], env),
      spawnLookout(['--config', config], env),
    ]);
    await Promise.all([ready(a.url), ready(b.url)]);
    proxy = await roundRobin([new URL(a.url), new URL(b.url)]);
  });
  after(async () => {
    proxy.server.close();
    await Promise.all([a.stop(), b.stop()]);
  });

  it('an SDK client initializes through one replica and is served by both', async () => {
    const client = await connectClient(proxy.url);
    for (let i = 0; i < 6; i++) {
      const result = await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } });
      assert.deepEqual(result.content, [{ type: 'text', text: `call ${i}` }]);
    }
    const meta = await client.callTool({ name: 'fx__report_meta', arguments: {} });
    assert.match(
      (meta.content as { text: string }[])[0]?.text ?? '',
      /^\{/,
      'a gateway tool through whichever replica',
    );
    const ports = new Set(proxy.served.map((s) => s.split(' ')[1]));
    assert.equal(ports.size, 2, 'both replicas answered');
    await client.close();
  });

  it('rejects a tampered or foreign session id with 404 and -32001', async () => {
    const init = await rpc(proxy.url, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    const id = init.headers.get('mcp-session-id') as string;
    assert.match(id, /^v1\./);
    const tampered = `${id.slice(0, -3)}${id.at(-3) === 'A' ? 'B' : 'A'}${id.slice(-2)}`;
    const foreign = (await (async () => {
      const other = await spawnLookout([], {
        LOOKOUT_SESSION_KEYS: randomBytes(32).toString('base64'),
        OTEL_SDK_DISABLED: 'true',
      });
      const res = await rpc(other.url, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      });
      await other.stop();
      return res.headers.get('mcp-session-id');
    })()) as string;
    for (const bad of [tampered, foreign]) {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(proxy.url, {
          method: 'POST',
          headers: { ...mcpHeaders, 'mcp-session-id': bad },
          body: '{"jsonrpc":"2.0","id":2,"method":"ping"}',
        });
        assert.equal(res.status, 404);
        assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32001);
      }
    }
  });
});
