/**
 * `Mcp-Param-*` headers on `/mcp` (2026-07-28): a tool whose input schema marks arguments with
 * `x-mcp-header` gets them repeated in headers, and a request whose headers disagree with its body is
 * refused with 400 / -32020 before the tool runs. Legacy requests are not concerned.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { z } from 'zod';
import { defineTool } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import { connectClient, rpc, startTestLookout } from '../support/lookout.ts';

let runs = 0;
const deploy = defineTool({
  name: 'deploy',
  description: 'Deploys to a region; proxies route on the region header.',
  input: z.object({
    region: z.string().meta({ 'x-mcp-header': 'Region' }),
    replicas: z.number().int().optional().meta({ 'x-mcp-header': 'Replicas' }),
    note: z.string().optional(),
  }),
  handler: ({ region, replicas }) => {
    runs++;
    return `deployed ${replicas ?? 1} to ${region}`;
  },
});

function modernCall(id: number, args: Record<string, unknown>, params: Record<string, string>) {
  return {
    body: {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name: 'deploy',
        arguments: args,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    },
    headers: {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'deploy',
      ...Object.fromEntries(Object.entries(params).map(([name, value]) => [`mcp-param-${name}`, value])),
    },
  };
}

describe('Mcp-Param-* request headers', () => {
  let lookout: Lookout;
  before(async () => {
    lookout = await startTestLookout({}, { definitions: [deploy] });
  });
  after(() => lookout.close());

  it('tools/list shows the x-mcp-header annotations', async () => {
    const client = await connectClient(lookout.url);
    try {
      const { tools } = await client.listTools();
      const schema = tools.find((tool) => tool.name === 'deploy')?.inputSchema as {
        properties: Record<string, Record<string, unknown>>;
      };
      assert.equal(schema.properties.region?.['x-mcp-header'], 'Region');
      assert.equal(schema.properties.replicas?.['x-mcp-header'], 'Replicas');
    } finally {
      await client.close();
    }
  });

  it('the 2.x SDK client repeats the arguments in headers, and the call runs', async () => {
    const client = new ModernClient(
      { name: 'modern', version: '1.0.0' },
      { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(new ModernTransport(new URL(lookout.url)));
    try {
      await client.listTools();
      const result = await client.callTool({ name: 'deploy', arguments: { region: 'Zürich', replicas: 3 } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'deployed 3 to Zürich' }]);
    } finally {
      await client.close();
    }
  });

  it('headers that agree with the body are accepted: plain, Base64, numbers compared as numbers, absent arguments', async () => {
    const cases: [Record<string, unknown>, Record<string, string>, string][] = [
      [{ region: 'eu-west1' }, { region: 'eu-west1' }, 'deployed 1 to eu-west1'],
      [
        { region: ' padded ' },
        { region: `=?base64?${Buffer.from(' padded ').toString('base64')}?=` },
        'deployed 1 to  padded ',
      ],
      [{ region: 'eu', replicas: 2 }, { region: 'eu', replicas: '2.0' }, 'deployed 2 to eu'],
      [{ region: 'eu', note: 'n' }, { region: 'eu', note: 'ignored: not declared' }, 'deployed 1 to eu'],
    ];
    for (const [index, [args, params, text]] of cases.entries()) {
      const call = modernCall(index + 1, args, params);
      const res = await rpc(lookout.url, call.body, call.headers);
      assert.equal(res.status, 200, res.text);
      const { result } = res.body as { result: { content: { text: string }[] } };
      assert.equal(result.content[0]?.text, text);
    }
  });

  it('a missing, different or badly encoded header is refused with 400 / -32020 and the tool does not run', async () => {
    const before = runs;
    const cases: [Record<string, unknown>, Record<string, string>, RegExp][] = [
      [{ region: 'eu' }, {}, /Mcp-Param-Region is missing/],
      [{ region: 'eu' }, { region: 'us' }, /Mcp-Param-Region is "us" but arguments.region is "eu"/],
      [{ region: 'eu', replicas: 2 }, { region: 'eu', replicas: '3' }, /Mcp-Param-Replicas/],
      [{ region: 'eu', replicas: 2 }, { region: 'eu' }, /Mcp-Param-Replicas is missing/],
      [{ region: 'Hello' }, { region: '=?base64?SGVsbG8?=' }, /not valid Base64/],
    ];
    for (const [index, [args, params, detail]] of cases.entries()) {
      const call = modernCall(10 + index, args, params);
      const res = await rpc(lookout.url, call.body, call.headers);
      assert.equal(res.status, 400, res.text);
      const { id, error } = res.body as { id: number; error: { code: number; message: string } };
      assert.equal(id, 10 + index);
      assert.equal(error.code, -32020);
      assert.match(error.message, detail);
    }
    assert.equal(runs, before);
  });

  it('a 2025-11-25 call needs no Mcp-Param-* headers', async () => {
    const client = await connectClient(lookout.url);
    try {
      const result = await client.callTool({ name: 'deploy', arguments: { region: 'eu' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'deployed 1 to eu' }]);
    } finally {
      await client.close();
    }
  });
});
