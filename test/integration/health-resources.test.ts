import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Lookout } from '../../src/main.ts';
import { connectClient, rpc, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const fixture = fileURLToPath(new URL('../fixtures/resource-server.ts', import.meta.url));
const upstreams = [{ name: 'rs', transport: 'stdio', command: process.execPath, args: [fixture] }];
const probes = ['live', 'ready'] as const;

async function readJson(client: Client, uri: string): Promise<Record<string, unknown>> {
  const { contents } = await client.readResource({ uri });
  assert.equal(contents[0]?.mimeType, 'application/json');
  return JSON.parse((contents[0] as { text: string }).text);
}

async function probe(lookout: Lookout, name: string): Promise<unknown> {
  return (await fetch(new URL(`/health/${name}`, lookout.url))).json();
}

/** A raw 2026-07-28 request: no session, its version and capabilities in `_meta` and the headers. */
async function modern(lookout: Lookout, method: string, params: Record<string, unknown> = {}) {
  const reply = await rpc(
    lookout.url,
    {
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    },
    {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(typeof params.uri === 'string' && { 'mcp-name': params.uri }),
    },
  );
  assert.equal(reply.status, 200, reply.text);
  return (reply.body as { result: Record<string, unknown> }).result;
}

describe('health as MCP resources', () => {
  let lookout: Lookout;
  let client: Client;

  before(async () => {
    lookout = await startTestLookout({ upstreams });
    await upstreamsReady(lookout);
    client = await connectClient(lookout.url);
  });
  after(async () => {
    await client?.close();
    await lookout?.close();
  });

  it('lists health://status, health://ready and health://live', async () => {
    const uris = (await client.listResources()).resources.map((r) => r.uri);
    for (const uri of ['health://status', 'health://ready', 'health://live'])
      assert.ok(uris.includes(uri), uri);
  });

  it('answers health://live and health://ready as GET /health/live and /health/ready do', async () => {
    for (const name of probes) {
      assert.deepEqual(await readJson(client, `health://${name}`), await probe(lookout, name), name);
    }
    const ready = await readJson(client, 'health://ready');
    assert.equal((ready.checks as Record<string, { detail?: string }>)['upstream:rs']?.detail, 'ready');
  });

  it('health://status adds version, uptime, probes and, on an open loopback listener, upstream details', async () => {
    const status = await readJson(client, 'health://status');
    assert.equal(status.status, 'ok');
    assert.deepEqual(status.probes, { live: 'ok', ready: 'ok', startup: 'ok' });
    assert.equal(typeof status.version, 'string');
    assert.equal(typeof status.uptimeSeconds, 'number');
    const [rs] = status.upstreams as { name: string; state: string; breaker: string }[];
    assert.equal(rs?.name, 'rs');
    assert.equal(rs?.state, 'ready');
    assert.equal(rs?.breaker, 'Closed');
  });

  it('serves them to 2026-07-28 requests too, marked not to be cached', async () => {
    const listed = (await modern(lookout, 'resources/list')).resources as { uri: string }[];
    assert.ok(listed.some((r) => r.uri === 'health://ready'));
    for (const name of probes) {
      const result = await modern(lookout, 'resources/read', { uri: `health://${name}` });
      const contents = result.contents as { text: string }[];
      assert.deepEqual(JSON.parse(contents[0]?.text ?? ''), await probe(lookout, name), name);
      assert.equal(result.ttlMs, 0, 'a probe is read afresh');
      assert.equal(result.cacheScope, 'private');
    }
    const other = await modern(lookout, 'resources/read', { uri: 'counter://plain' });
    assert.equal(other.ttlMs, 60_000, "other resources keep Lookout's default hint");
  });
});

describe('health://status behind auth', () => {
  const tokens = { admin: 'admin-token-for-health', user: 'user-token-for-health' };
  let lookout: Lookout;
  const clients: Client[] = [];

  async function connectAs(who: keyof typeof tokens): Promise<Client> {
    const client = new Client({ name: who, version: '1.0.0' }, { capabilities: {} });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(lookout.url), {
        requestInit: { headers: { authorization: `Bearer ${tokens[who]}` } },
      }),
    );
    clients.push(client);
    return client;
  }

  before(async () => {
    lookout = await startTestLookout({
      upstreams,
      auth: {
        tokens: [
          {
            sha256: createHash('sha256').update(tokens.admin).digest('hex'),
            subject: 'op',
            scopes: ['admin'],
          },
          { sha256: createHash('sha256').update(tokens.user).digest('hex'), subject: 'dev', scopes: [] },
        ],
      },
    });
    await upstreamsReady(lookout);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await lookout?.close();
  });

  it('shows upstream details only to a principal with the admin scope, as the live view', async () => {
    const user = await readJson(await connectAs('user'), 'health://status');
    assert.equal(user.status, 'ok');
    assert.match(String(user.upstreams), /hidden: needs the admin scope/);
    assert.doesNotMatch(JSON.stringify(user), /"breaker"|"lastError"/);
    const admin = await readJson(await connectAs('admin'), 'health://status');
    assert.equal((admin.upstreams as { name: string }[])[0]?.name, 'rs');
  });
});
