import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Lookout } from '../../src/main.ts';
import { freePort } from '../../support/ports.ts';
import { startTestLookout, upstreamsReady } from '../support/lookout.ts';

const node = process.execPath;
const urlElicitationServer = fileURLToPath(new URL('../fixtures/url-elicitation-server.ts', import.meta.url));
const everything = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);

const tokens = {
  alice: 'alice-token-relay-test',
  bob: 'bob-token-relay-test',
  carol: 'carol-token-relay-test',
  dave: 'dave-token-relay-test',
  erin: 'erin-token-relay-test',
} as const;
type Subject = keyof typeof tokens;

/** What reached one client from the upstreams, through Lookout. */
interface Seen {
  /** The name of the client's one root, which the test may change. */
  root: string;
  sampling: string[];
  elicitations: number;
  /** The URLs of the URL-mode elicitations it was asked (and accepted). */
  urls: string[];
  /** The ids of the URL-mode elicitations it was told completed. */
  completed: string[];
  rootsLists: number;
  updated: string[];
  resourceListChanges: number;
  /** The data of the log messages it got. */
  logs: string[];
}

/** A client as a desktop app is one: it samples, elicits (form and URL) and has roots of its own. */
async function connect(url: string | URL, label: string, subject?: Subject): Promise<[Client, Seen]> {
  const seen: Seen = {
    root: `root-of-${label}`,
    sampling: [],
    elicitations: 0,
    urls: [],
    completed: [],
    rootsLists: 0,
    updated: [],
    resourceListChanges: 0,
    logs: [],
  };
  const client = new Client(
    { name: label, version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    const first = request.params.messages[0]?.content;
    seen.sampling.push(first && 'text' in first ? String(first.text) : '');
    return {
      model: `model-of-${label}`,
      role: 'assistant',
      content: { type: 'text', text: `from ${label}` },
    };
  });
  // A form is declined; a URL is opened (accepted).
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    seen.elicitations++;
    if (request.params.mode !== 'url') return { action: 'decline' };
    seen.urls.push(request.params.url);
    return { action: 'accept' };
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
    seen.completed.push(n.params.elicitationId);
  });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
    seen.resourceListChanges++;
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    seen.logs.push(String(n.params.data));
  });
  client.setRequestHandler(ListRootsRequestSchema, () => {
    seen.rootsLists++;
    return { roots: [{ uri: `file:///home/${label}`, name: seen.root }] };
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    seen.updated.push(n.params.uri);
  });
  const headers: Record<string, string> = subject ? { authorization: `Bearer ${tokens[subject]}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return [client, seen];
}

/** server-everything processes over stdio started by this test process (Lookout runs in it). */
function stdioUpstreams(): number {
  try {
    return execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('server-everything') && l.includes('stdio')).length;
  } catch {
    return 0;
  }
}

const text = (result: Record<string, unknown>) =>
  (result.content as { text?: string }[] | undefined)?.map((c) => c.text ?? '').join('\n') ?? '';

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('gateway relay and isolation, with server-everything behind Lookout', () => {
  let httpUpstream: ChildProcess;
  let lookout: Lookout & { logLines: string[] };
  let directCount = 0;
  const clients: Client[] = [];
  const open = async (label: string, subject: Subject = 'alice') => {
    const [client, seen] = await connect(lookout.url, label, subject);
    clients.push(client);
    return [client, seen] as const;
  };

  before(async () => {
    const direct = new Client(
      { name: 'direct', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } },
    );
    await direct.connect(
      new StdioClientTransport({ command: node, args: [everything, 'stdio'], stderr: 'ignore' }),
    );
    directCount = (await direct.listTools()).tools.length;
    await direct.close();

    const port = await freePort();
    httpUpstream = spawn(node, [everything, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve) =>
      httpUpstream.stderr?.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()),
    );
    lookout = await startTestLookout({
      // The upstreams' log messages are logged at info: the setLevel test reads them.
      log: { level: 'info', format: 'json' },
      auth: {
        tokens: Object.entries(tokens).map(([subject, token]) => ({
          sha256: createHash('sha256').update(token).digest('hex'),
          subject,
        })),
      },
      upstreams: [
        { name: 'ev', transport: 'stdio', command: node, args: [everything, 'stdio'] },
        { name: 'evh', transport: 'http', url: `http://127.0.0.1:${port}/mcp` },
        { name: 'evs', transport: 'stdio', command: node, args: [everything, 'stdio'], isolation: 'session' },
        { name: 'link', transport: 'stdio', command: node, args: [urlElicitationServer] },
      ],
    });
    await upstreamsReady(lookout);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await lookout.close();
    httpUpstream.kill('SIGTERM');
  });

  it('lists as many server-everything tools through Lookout as directly', async () => {
    const [client] = await open('lister');
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(directCount >= 16, `server-everything serves ${directCount} tools to a capable client`);
    for (const upstream of ['ev', 'evh']) {
      assert.equal(names.filter((n) => n.startsWith(`${upstream}__`)).length, directCount, upstream);
    }
    for (const tool of ['trigger-sampling-request', 'trigger-elicitation-request', 'get-roots-list']) {
      assert.ok(names.includes(`ev__${tool}`), tool);
    }
  });

  for (const upstream of ['ev', 'evh']) {
    it(`relays sampling, elicitation and roots from ${upstream} to the client whose call caused them`, async () => {
      const [a, seenA] = await open(`a-${upstream}`);
      const [b, seenB] = await open(`b-${upstream}`, 'bob');
      // b has a call of its own running the whole time: the upstream's requests must still go to a.
      const busy = b.callTool({ name: `${upstream}__echo`, arguments: { message: 'b is here' } });

      const sampled = await a.callTool({
        name: `${upstream}__trigger-sampling-request`,
        arguments: { prompt: 'hello', maxTokens: 5 },
      });
      assert.match(text(sampled), new RegExp(`from a-${upstream}`));
      assert.equal(seenA.sampling.length, 1);
      assert.match(seenA.sampling[0] ?? '', /hello/);

      const elicited = await a.callTool({ name: `${upstream}__trigger-elicitation-request`, arguments: {} });
      assert.match(text(elicited), /declined/);
      assert.equal(seenA.elicitations, 1);

      const roots = await a.callTool({ name: `${upstream}__get-roots-list`, arguments: {} });
      assert.match(text(roots), new RegExp(`root-of-a-${upstream}`));
      assert.ok(seenA.rootsLists >= 1);

      // The client's roots change: the upstream is told, asks again and sees the new ones.
      const asked = seenA.rootsLists;
      seenA.root = `new-root-of-a-${upstream}`;
      await a.sendRootsListChanged();
      await until('the upstream asking for the roots again', () => seenA.rootsLists > asked);
      const newRoots = await a.callTool({ name: `${upstream}__get-roots-list`, arguments: {} });
      assert.match(text(newRoots), new RegExp(`new-root-of-a-${upstream}`));

      await busy;
      assert.deepEqual(seenB.sampling, [], 'b was asked to sample nothing');
      assert.equal(seenB.elicitations, 0, 'b was asked to fill in nothing');
      const bRoots = await b.callTool({ name: `${upstream}__get-roots-list`, arguments: {} });
      assert.match(text(bRoots), new RegExp(`root-of-b-${upstream}`));
      assert.doesNotMatch(text(bRoots), /root-of-a/);
    });
  }

  it("completes an upstream prompt's arguments", async () => {
    const [client] = await open('completer');
    const department = await client.complete({
      ref: { type: 'ref/prompt', name: 'ev__completable-prompt' },
      argument: { name: 'department', value: 'S' },
    });
    assert.deepEqual(department.completion.values.sort(), ['Sales', 'Support']);
    const name = await client.complete({
      ref: { type: 'ref/prompt', name: 'evh__completable-prompt' },
      argument: { name: 'name', value: '' },
      context: { arguments: { department: 'Engineering' } },
    });
    assert.deepEqual(name.completion.values, ['Alice', 'Bob', 'Charlie']);
  });

  it('delivers an upstream resource subscription’s updates to the subscriber only', async () => {
    const [a, seenA] = await open('subscriber');
    const [b, seenB] = await open('bystander', 'bob');
    const uri = 'demo://resource/dynamic/text/1';
    await a.subscribeResource({ uri });
    await b.callTool({ name: 'ev__toggle-subscriber-updates', arguments: {} });
    await a.callTool({ name: 'ev__toggle-subscriber-updates', arguments: {} });
    await until('a resources/updated notification', () => seenA.updated.includes(uri));
    assert.deepEqual(seenB.updated, [], 'b subscribed to nothing');
    await a.unsubscribeResource({ uri });
  });

  it("keeps one client's upstream session state from other sessions and subjects", async () => {
    const [a] = await open('creator');
    const [sameSubject] = await open('other-session');
    const [otherSubject] = await open('other-subject', 'bob');
    for (const upstream of ['ev', 'evh']) {
      const name = `secret-of-a-${upstream}.gz`;
      const uri = `demo://resource/session/${name}`;
      const made = await a.callTool({
        name: `${upstream}__gzip-file-as-resource`,
        arguments: { name, data: 'data:text/plain;base64,c2VjcmV0', outputType: 'resourceLink' },
      });
      assert.ok(JSON.stringify(made.content).includes(uri), 'a made its session resource');
      // Give a list_changed from the upstream time to arrive and be applied.
      await new Promise((r) => setTimeout(r, 500));
      for (const [label, other] of [
        ['another session of the same subject', sameSubject],
        ['another subject', otherSubject],
      ] as const) {
        const listed = (await other.listResources()).resources.map((r) => r.uri);
        assert.ok(!listed.includes(uri), `${upstream}: listed to ${label}`);
        await assert.rejects(other.readResource({ uri }), `${upstream}: read by ${label}`);
      }
    }
  });

  it('gives each auth subject its own stdio process, and with isolation: session each session, ended with it', async () => {
    const before = stdioUpstreams();
    const [carol] = await open('carol', 'carol');
    const [carolAgain] = await open('carol-again', 'carol');
    const [dave] = await open('dave', 'dave');
    for (const client of [carol, carolAgain, dave]) {
      await client.callTool({ name: 'ev__echo', arguments: { message: 'hi' } });
    }
    assert.equal(stdioUpstreams(), before + 2, "a process for each subject: carol's sessions share one");

    await carol.callTool({ name: 'evs__echo', arguments: { message: 'hi' } });
    await carolAgain.callTool({ name: 'evs__echo', arguments: { message: 'hi' } });
    assert.equal(stdioUpstreams(), before + 4, 'a process for each session');
    // Ending a session (DELETE) ends its upstream process.
    for (const client of [carol, carolAgain]) {
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
    }
    await until('the sessions’ processes to exit', () => stdioUpstreams() === before + 2, 10_000);
  });
  /** A session-scoped resource of server-everything, made by the client's call; its URI. */
  async function sessionResource(client: Client, upstream: string, label: string): Promise<string> {
    const name = `${label}-${randomUUID()}.txt.gz`;
    await client.callTool({
      name: `${upstream}__gzip-file-as-resource`,
      arguments: { name, data: 'data:text/plain;base64,c2VjcmV0', outputType: 'resourceLink' },
    });
    return `demo://resource/session/${name}`;
  }

  for (const upstream of ['ev', 'evh', 'evs']) {
    it(`serves a session resource of ${upstream} to the client whose call made it: listed, read, subscribed`, async () => {
      // A subject of its own: its ev process has not been asked for subscription updates yet.
      const [owner, seen] = await open(`owner-${upstream}`, 'erin');
      const [sameSubject] = await open(`same-subject-${upstream}`, 'erin');
      // Both have a connection of their own (or, ev, their subject's) before the resource is made.
      await sameSubject.callTool({ name: `${upstream}__echo`, arguments: { message: 'hi' } });
      const uri = await sessionResource(owner, upstream, `own-${upstream}`);

      const listed = (await owner.listResources()).resources.find((r) => r.uri === uri);
      assert.ok(listed, `${uri} is not listed to its owner`);
      assert.match(listed.name, new RegExp(`^${upstream}__`));
      const read = await owner.readResource({ uri });
      assert.equal(read.contents.length, 1);
      assert.equal(read.contents[0]?.uri, uri);
      await until('the owner told its resource list changed', () => seen.resourceListChanges > 0);

      await owner.subscribeResource({ uri });
      await owner.callTool({ name: `${upstream}__toggle-subscriber-updates`, arguments: {} });
      try {
        await until(`resources/updated for ${uri}`, () => seen.updated.includes(uri));
      } finally {
        await owner.callTool({ name: `${upstream}__toggle-subscriber-updates`, arguments: {} });
      }
      await owner.unsubscribeResource({ uri });

      assert.ok(!(await sameSubject.listResources()).resources.some((r) => r.uri === uri));
      await assert.rejects(sameSubject.readResource({ uri }), /Resource not found|unknown resource/i);
    });
  }

  it("passes a client's logging/setLevel to its own upstream connection, before and after it opens", async () => {
    const subscribeLogged = (uri: string) =>
      lookout.logLines.some((line) => line.includes(`Received Subscribe Resource request for URI: ${uri}`));
    // Set before the client's connection to evh opens: given to it when it opens.
    const [early] = await open('quiet-early');
    await early.setLoggingLevel('error');
    const earlyUri = await sessionResource(early, 'evh', 'quiet-early');
    await early.subscribeResource({ uri: earlyUri });
    // Set once the connection is open: passed on at once.
    const [late] = await open('quiet-late');
    const lateUri = await sessionResource(late, 'evh', 'quiet-late');
    await late.setLoggingLevel('error');
    await late.subscribeResource({ uri: lateUri });
    // The control: at the default level the upstream logs the subscription, and the client is sent it.
    const [loud, seenLoud] = await open('loud');
    const loudUri = await sessionResource(loud, 'evh', 'loud');
    await loud.subscribeResource({ uri: loudUri });
    await until("the upstream's log of the loud subscription", () => subscribeLogged(loudUri));
    await until('the log message relayed to its client', () =>
      seenLoud.logs.some((data) => data.includes(loudUri)),
    );
    assert.equal(
      subscribeLogged(earlyUri),
      false,
      'the level set before the connection opened was not passed',
    );
    assert.equal(subscribeLogged(lateUri), false, 'the level set on an open connection was not passed');
  });

  it('relays URL-mode elicitation and its completion to the client that was asked', async () => {
    const [a, seenA] = await open('url-a');
    const [b, seenB] = await open('url-b', 'bob');
    const [answerA, answerB] = await Promise.all([
      a.callTool({ name: 'link__open_link', arguments: { label: 'a' } }),
      b.callTool({ name: 'link__open_link', arguments: { label: 'b' } }),
    ]);
    const idA = /^accept (a-\S+)$/.exec(text(answerA))?.[1];
    const idB = /^accept (b-\S+)$/.exec(text(answerB))?.[1];
    assert.ok(idA && idB, `${text(answerA)} / ${text(answerB)}`);
    assert.deepEqual(seenA.urls, ['https://example.com/flow/a']);
    assert.deepEqual(seenB.urls, ['https://example.com/flow/b']);
    await until('both completions', () => seenA.completed.length > 0 && seenB.completed.length > 0);
    assert.deepEqual(seenA.completed, [idA]);
    assert.deepEqual(seenB.completed, [idB]);

    // server-everything's URL elicitation, by request and by error (-32042), through Lookout.
    const opened = await a.callTool({
      name: 'evh__trigger-url-elicitation',
      arguments: { url: 'https://example.com/everything' },
    });
    assert.match(text(opened), /completed the URL elicitation flow/);
    assert.ok(seenA.urls.includes('https://example.com/everything'));
    await assert.rejects(
      a.callTool({
        name: 'evh__trigger-url-elicitation',
        arguments: { url: 'https://example.com/needed', errorPath: true },
      }),
      (error: { code?: number; data?: { elicitations?: { mode?: string }[] } }) =>
        error.code === -32042 && error.data?.elicitations?.[0]?.mode === 'url',
    );
  });

  it("completes an upstream resource template's variables", async () => {
    const [client] = await open('template-completer');
    for (const upstream of ['ev', 'evh']) {
      const templates = (await client.listResourceTemplates()).resourceTemplates;
      const template = templates.find(
        (t) => t.name.startsWith(`${upstream}__`) && t.uriTemplate.includes('{resourceId}'),
      );
      assert.ok(template, `${upstream} serves a template with {resourceId}`);
      const { completion } = await client.complete({
        ref: { type: 'ref/resource', uri: template.uriTemplate },
        argument: { name: 'resourceId', value: '7' },
      });
      assert.deepEqual(completion.values, ['7']);
    }
  });
});
