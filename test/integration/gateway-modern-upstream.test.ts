/**
 * What the gateway relays from a 2026-07-28 upstream (a second Lookout, spoken to with `era: modern`
 * over HTTP): its InputRequiredResult with its own keys and its own requestState, resource updates
 * followed on a `subscriptions/listen` stream, and the `Mcp-Param-*` headers its tools ask for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttp,
  ProtocolError,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitRequestSchema,
  ElicitResultSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { definePrompt, defineResource, defineTool, z } from '../../src/index.ts';
import type { Lookout } from '../../src/main.ts';
import type { Definition, HandlerContext } from '../../src/tools/api.ts';
import { connectClient, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const watched = 'test://watched';

function ask(ctx: HandlerContext, key: string, message: string) {
  return ctx.request(
    {
      method: 'elicitation/create',
      params: { message, requestedSchema: { type: 'object', properties: { text: { type: 'string' } } } },
    },
    ElicitResultSchema,
    { key },
  );
}

const definitions = [
  defineTool({
    name: 'greet',
    description: 'Asks a name, then a confirmation, one round after the other.',
    input: z.object({}),
    handler: async (_args, ctx) => {
      const name = await ask(ctx, 'user_name', 'Your name?');
      const confirm = await ask(ctx, 'confirm', `Greet ${String(name.content?.text)}?`);
      return `Hello, ${String(name.content?.text)} (${confirm.action})`;
    },
  }),
  definePrompt({
    name: 'framed',
    description: 'Asks its context first.',
    get: async (_args, ctx) =>
      `Context: ${String((await ask(ctx, 'user_context', 'Context?')).content?.text)}`,
  }),
  defineTool({
    name: 'deploy',
    description: 'Deploys to a region; proxies route on the region header.',
    input: z.object({
      region: z.string().meta({ 'x-mcp-header': 'Region' }),
      replicas: z.number().int().optional().meta({ 'x-mcp-header': 'Replicas' }),
    }),
    handler: ({ region, replicas }) => `deployed ${replicas ?? 1} to ${region}`,
  }),
  defineResource({ uri: watched, name: 'watched', read: () => 'watched content' }),
];

let upstream: Lookout;
let gateway: Lookout;

before(async () => {
  upstream = await startTestLookout({}, { definitions });
  gateway = await startTestLookout({
    upstreams: [
      { name: 'up', transport: 'http', url: upstream.url, era: 'modern', health: { intervalSeconds: 0 } },
    ],
  });
  await upstreamsReady(gateway, 30_000);
});
after(async () => {
  await gateway?.close();
  await upstream?.close();
});

async function modernClient(capabilities: Record<string, unknown>): Promise<ModernClient> {
  const client = new ModernClient(
    { name: 'modern', version: '1.0.0' },
    { capabilities, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(new ModernHttp(new URL(gateway.url)));
  return client;
}

interface Round {
  resultType?: string;
  inputRequests?: Record<string, { method: string; params: { message?: string } }>;
  requestState?: string;
  content?: { text?: string }[];
  messages?: { content: { text?: string } }[];
}

const accept = (text?: string) => ({ action: 'accept', content: text === undefined ? {} : { text } });

describe("a 2026-07-28 upstream's InputRequiredResult, to a 2026-07-28 caller", () => {
  it("carries the upstream's keys, and the answers go back under them, round after round", async () => {
    const client = await modernClient({ elicitation: {} });
    const call = (extra: Record<string, unknown>) =>
      client.request(
        { method: 'tools/call', params: { name: 'up__greet', arguments: {}, ...extra } },
        { allowInputRequired: true },
      ) as Promise<Round>;
    try {
      const first = await call({});
      assert.equal(first.resultType, 'input_required');
      assert.deepEqual(Object.keys(first.inputRequests ?? {}), ['user_name']);
      assert.equal(first.inputRequests?.user_name?.params.message, 'Your name?');
      const second = await call({
        inputResponses: { user_name: accept('Ann') },
        requestState: first.requestState,
      });
      assert.deepEqual(Object.keys(second.inputRequests ?? {}), ['confirm']);
      assert.equal(second.inputRequests?.confirm?.params.message, 'Greet Ann?');
      // Only this round's answer: the first one lives on in the upstream's own requestState.
      const done = await call({ inputResponses: { confirm: accept() }, requestState: second.requestState });
      assert.equal(done.content?.[0]?.text, 'Hello, Ann (accept)');
    } finally {
      await client.close();
    }
  });

  it("refuses a requestState that is not the gateway's own, or belongs to another call", async () => {
    const client = await modernClient({ elicitation: {} });
    try {
      const first = (await client.request(
        { method: 'tools/call', params: { name: 'up__greet', arguments: {} } },
        { allowInputRequired: true },
      )) as Round;
      const inputResponses = { user_name: accept('Ann') };
      const retries = [
        () =>
          client.request(
            {
              method: 'tools/call',
              params: { name: 'up__greet', inputResponses, requestState: `${first.requestState}x` },
            },
            { allowInputRequired: true },
          ),
        () =>
          client.request(
            { method: 'tools/call', params: { name: 'up__greet', inputResponses, requestState: 'rs1.AAAA' } },
            { allowInputRequired: true },
          ),
        // Another request's state: the prompt's retry carries the tool call's.
        () =>
          client.request(
            {
              method: 'prompts/get',
              params: { name: 'up__framed', inputResponses, requestState: first.requestState },
            },
            { allowInputRequired: true },
          ),
      ];
      for (const [index, retry] of retries.entries()) {
        await assert.rejects(
          retry(),
          (error: unknown) => error instanceof ProtocolError && error.code === -32602,
          `retry ${index}`,
        );
      }
    } finally {
      await client.close();
    }
  });

  it('ends with -32021 when the client did not declare what the upstream asks for', async () => {
    const client = await modernClient({});
    try {
      await assert.rejects(
        client.request(
          { method: 'tools/call', params: { name: 'up__greet', arguments: {} } },
          { allowInputRequired: true },
        ),
        (error: unknown) => error instanceof ProtocolError && error.code === -32021,
      );
    } finally {
      await client.close();
    }
  });

  it('does the same for a prompt', async () => {
    const client = await modernClient({ elicitation: {} });
    const get = (extra: Record<string, unknown>) =>
      client.request(
        { method: 'prompts/get', params: { name: 'up__framed', ...extra } },
        { allowInputRequired: true },
      ) as Promise<Round>;
    try {
      const first = await get({});
      assert.deepEqual(Object.keys(first.inputRequests ?? {}), ['user_context']);
      const done = await get({
        inputResponses: { user_context: accept('tests') },
        requestState: first.requestState,
      });
      assert.equal(done.messages?.[0]?.content.text, 'Context: tests');
    } finally {
      await client.close();
    }
  });
});

it("a 2025 caller answers a 2026-07-28 upstream's questions as requests on its session", async () => {
  const legacy = new Client({ name: 'legacy', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked: string[] = [];
  legacy.setRequestHandler(ElicitRequestSchema, (request) => {
    asked.push(request.params.message);
    return asked.length === 1 ? accept('Bo') : accept();
  });
  await legacy.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
  try {
    const result = await legacy.callTool({ name: 'up__greet', arguments: {} });
    assert.deepEqual(asked, ['Your name?', 'Greet Bo?']);
    assert.equal((result.content as { text?: string }[])[0]?.text, 'Hello, Bo (accept)');
  } finally {
    await legacy.close();
  }
});

it("a 2025 client's subscription to a 2026-07-28 upstream's resource follows it on a listen stream", async () => {
  const client = await connectClient(gateway.url);
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    updates.push(n.params.uri);
  });
  try {
    await client.subscribeResource({ uri: watched });
    upstream.resourceUpdated(watched);
    const deadline = Date.now() + 5_000;
    while (updates.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(updates, [watched]);
    await client.unsubscribeResource({ uri: watched });
    upstream.resourceUpdated(watched);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(updates, [watched], 'no update once unsubscribed');
  } finally {
    await client.close();
  }
});

it("sends the Mcp-Param-* headers a 2026-07-28 upstream's tool asks for", async () => {
  const client = await connectClient(gateway.url);
  try {
    for (const [region, replicas] of [
      ['eu-west', 3],
      ['zürich ', undefined],
    ] as const) {
      const result = await client.callTool({ name: 'up__deploy', arguments: { region, replicas } });
      assert.equal(result.isError, undefined, JSON.stringify(result));
      assert.equal(
        (result.content as { text?: string }[])[0]?.text,
        `deployed ${replicas ?? 1} to ${region}`,
      );
    }
  } finally {
    await client.close();
  }
});

/** A gateway over a 2026-07-28 upstream of its own, with a client; `restart` starts the upstream again on its port. */
interface RestartableUpstream {
  readonly client: Client;
  restart(upstreamDefinitions: readonly Definition[]): Promise<Lookout>;
}

async function withRestartableUpstream(body: (setup: RestartableUpstream) => Promise<void>): Promise<void> {
  let upstream: Lookout | undefined = await startTestLookout({}, { definitions });
  const port = Number(new URL(upstream.url).port);
  const own = await startTestLookout({
    upstreams: [
      { name: 'up', transport: 'http', url: upstream.url, era: 'modern', health: { intervalSeconds: 0 } },
    ],
  });
  await upstreamsReady(own, 30_000);
  const client = await connectClient(own.url);
  try {
    await body({
      client,
      restart: async (upstreamDefinitions) => {
        await upstream?.close();
        upstream = undefined;
        upstream = await startTestLookout({ port }, { definitions: upstreamDefinitions });
        return upstream;
      },
    });
  } finally {
    await client.close();
    await own.close();
    await upstream?.close();
  }
}

it(
  'follows the subscribed resources again once a restarted 2026-07-28 upstream ended the listen stream',
  {
    timeout: 30_000,
  },
  () =>
    withRestartableUpstream(async ({ client, restart }) => {
      const updates: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        updates.push(n.params.uri);
      });
      await client.subscribeResource({ uri: watched });
      const restarted = await restart(definitions);
      const deadline = Date.now() + 10_000;
      while (updates.length === 0 && Date.now() < deadline) {
        restarted.resourceUpdated(watched);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(updates[0], watched, 'the update of the restarted upstream arrives');
    }),
);

it(
  "hears a restarted 2026-07-28 upstream's list changes again, and lists what changed while it was away",
  {
    timeout: 30_000,
  },
  () =>
    withRestartableUpstream(async ({ client, restart }) => {
      const toolNames = async () => (await client.listTools()).tools.map((tool) => tool.name);
      const waitForTool = async (name: string) => {
        const deadline = Date.now() + 10_000;
        while (!(await toolNames()).includes(name) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        return toolNames();
      };
      const extra = (name: string) =>
        defineTool({ name, description: `Added as ${name}.`, input: z.object({}), handler: () => name });
      assert.ok((await toolNames()).includes('up__greet'));
      const restarted = await restart([...definitions, extra('while_away')]);
      assert.ok(
        (await waitForTool('up__while_away')).includes('up__while_away'),
        'the tool added while away',
      );
      restarted.register(extra('added_later'));
      assert.ok((await waitForTool('up__added_later')).includes('up__added_later'), 'the tool added later');
    }),
);
