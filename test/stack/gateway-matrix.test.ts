/**
 * The gateway matrix (issue 24): real MCP servers from the npm registry behind a real `lookout`
 * process, driven by the real clients users bring.
 *
 * Servers: server-everything, -memory, -filesystem and -sequential-thinking over stdio, launched
 * as `npx -y <package>` with a cold npm cache (a fresh `npm_config_cache` per run: real downloads
 * from the registry) and as installed bins (devDependencies), plus server-everything over
 * Streamable HTTP in a process of its own. Clients: the 1.x and 2.x TypeScript SDK clients, the Go
 * SDK client (`npm run tools` builds it), `mcp-remote` (as a stdio server, driven by the 1.x
 * client) and the Inspector CLI. Rows: every upstream's tools listed within 60 s of start, a call on
 * each server, and the relay round trips (sampling, elicitation, roots, completion, subscriptions,
 * two clients isolated) through server-everything.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { freePort } from '../../support/ports.ts';
import {
  bin,
  type ClientEnv,
  goSdk,
  inspectorCli,
  type MatrixClient,
  mcpRemote,
  type SessionReport,
  sdkV1,
  sdkV2,
  type ToolCall,
  textOf,
} from '../support/matrix-clients.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { waitFor } from '../support/services.ts';

/** The issue's bound: every upstream's tools are listed this long after `lookout` is started. */
const toolsListedWithinMs = 60_000;
/** A session resource lives on its creator's upstream connection; Lookout reads through its catalog. */
const sessionResourceTodo = {
  todo: "a resource a client's own call created is not readable through Lookout yet, even by that client",
};

/** Marks every process this file starts (Lookout passes it on to its children): the leftover check. */
const runId = `matrix-${randomUUID()}`;
const fileText = `read through Lookout ${runId}\n`;
/** The run's temp directory (configs, npm caches, the filesystem server's root), made in `before`. */
let work = '';
let filesDir = '';

/** What a user's shell passes on: home (npm's own config), proxies and CA certificates, if set. */
function userEnv(): Record<string, string> {
  const env: Record<string, string> = { HOME: process.env.HOME ?? tmpdir(), MATRIX_RUN_ID: runId };
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(https?_proxy|no_proxy|NODE_EXTRA_CA_CERTS|npm_config_registry)$/i.test(key))
      env[key] = value;
  }
  return env;
}
/** The client processes' environment, filled in `before` (their state goes to the temp directory). */
const clientEnv: ClientEnv = {};

function makeWorkDir(): void {
  work = mkdtempSync(join(tmpdir(), 'lookout-matrix-'));
  filesDir = join(work, 'files');
  mkdirSync(filesDir);
  writeFileSync(join(filesDir, 'hello.txt'), fileText);
  Object.assign(clientEnv, {
    ...userEnv(),
    PATH: process.env.PATH ?? '',
    MCP_REMOTE_CONFIG_DIR: join(work, 'mcp-auth'),
    MCP_CATALOG_PATH: join(work, 'inspector-catalog.json'),
  });
}

interface ServerRow {
  upstream: string;
  /** A tool that must be listed, unprefixed. */
  listed: string;
  calls(client: string): ToolCall[];
  check(report: SessionReport, client: string): void;
}

const cellId = (client: string) => client.replace(/\W+/g, '-');

function everythingRow(upstream: string): ServerRow {
  return {
    upstream,
    listed: 'get-sum',
    calls: (client) => [
      { name: `${upstream}__echo`, arguments: { message: `hello from ${client}` } },
      { name: `${upstream}__get-sum`, arguments: { a: 19, b: 23 } },
    ],
    check({ calls: [echo, sum] }, client) {
      assert.equal(echo?.error, undefined);
      assert.match(echo?.text ?? '', new RegExp(`hello from ${client}`));
      assert.equal(sum?.error, undefined);
      assert.match(sum?.text ?? '', /\b42\b/);
    },
  };
}

const serverRows: ServerRow[] = [
  everythingRow('everything'),
  {
    upstream: 'memory',
    listed: 'create_entities',
    calls: (client) => [
      {
        name: 'memory__create_entities',
        arguments: {
          entities: [
            { name: `entity-${cellId(client)}`, entityType: 'matrix', observations: [`made by ${client}`] },
          ],
        },
      },
      { name: 'memory__open_nodes', arguments: { names: [`entity-${cellId(client)}`] } },
    ],
    check({ calls: [create, read] }, client) {
      assert.equal(create?.error, undefined);
      assert.equal(create?.isError, false, create?.text);
      assert.equal(read?.isError, false, read?.text);
      assert.match(read?.text ?? '', new RegExp(`made by ${client}`));
    },
  },
  {
    upstream: 'files',
    listed: 'read_text_file',
    calls: () => [
      { name: 'files__list_directory', arguments: { path: filesDir } },
      { name: 'files__read_text_file', arguments: { path: join(filesDir, 'hello.txt') } },
    ],
    check({ calls: [list, read] }) {
      assert.equal(list?.isError, false, list?.text || list?.error);
      assert.match(list?.text ?? '', /\[FILE\] hello\.txt/);
      assert.equal(read?.isError, false, read?.text || read?.error);
      assert.equal(read?.text.trim(), fileText.trim());
    },
  },
  {
    upstream: 'thinking',
    listed: 'sequentialthinking',
    calls: () => [
      {
        name: 'thinking__sequentialthinking',
        arguments: {
          thought: 'One step is enough.',
          nextThoughtNeeded: false,
          thoughtNumber: 1,
          totalThoughts: 1,
        },
      },
    ],
    check({ calls: [step] }) {
      assert.equal(step?.isError, false, step?.text || step?.error);
      assert.match(step?.text ?? '', /"thoughtNumber":\s*1/);
    },
  },
  everythingRow('everything-http'),
];

type Launch = 'npx (cold cache)' | 'installed';

/** stdio servers as a desktop client's `mcpServers` file names them. */
function mcpServers(launch: Launch, cache: string) {
  const server = (pkg: string, bin: string, args: string[] = [], env: Record<string, string> = {}) =>
    launch === 'installed'
      ? { command: binPath(bin), args, env }
      : // Outside the repository, or npx would take the package from its node_modules.
        { command: 'npx', args: ['-y', pkg, ...args], env: { npm_config_cache: cache, ...env }, cwd: work };
  return {
    everything: server('@modelcontextprotocol/server-everything', 'mcp-server-everything', ['stdio']),
    memory: server('@modelcontextprotocol/server-memory', 'mcp-server-memory', [], {
      MEMORY_FILE_PATH: join(work, `memory-${launch === 'installed' ? 'installed' : 'npx'}.jsonl`),
    }),
    files: server('@modelcontextprotocol/server-filesystem', 'mcp-server-filesystem', [filesDir]),
    thinking: server(
      '@modelcontextprotocol/server-sequential-thinking',
      'mcp-server-sequential-thinking',
      [],
      {
        DISABLE_THOUGHT_LOGGING: 'true',
      },
    ),
  };
}
const binPath = bin;

interface Run {
  lookout: LookoutProcess;
  /** The run's own npm cache: empty at start. */
  cache: string;
  /** Per upstream: ms from spawning `lookout` until a client saw its tools listed. */
  listedAfterMs: Map<string, number>;
}

let everythingHttp: { stop(): Promise<void> } | undefined;
let everythingHttpUrl = '';
const runs = new Map<Launch, Run>();

/** server-everything's own Streamable HTTP mode, in a process of its own; ready when it says it listens. */
async function startEverythingHttp(): Promise<void> {
  const port = await freePort();
  const child = spawn(binPath('mcp-server-everything'), ['streamableHttp'], {
    env: { ...userEnv(), PATH: process.env.PATH ?? '', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = once(child, 'exit');
  everythingHttp = {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  await waitFor(
    'server-everything (streamableHttp) listening',
    async () => {
      if (child.exitCode !== null) throw new Error(`it exited: ${output.join('')}`);
      return output.join('').includes(`listening on port ${port}`) ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  everythingHttpUrl = `http://127.0.0.1:${port}/mcp`;
}

async function startRun(launch: Launch, t: TestContext): Promise<Run> {
  const cache = mkdtempSync(join(work, 'npm-cache-'));
  const config = join(work, `lookout-${launch === 'installed' ? 'installed' : 'npx'}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        ...mcpServers(launch, cache),
        'everything-http': { type: 'streamable-http', url: everythingHttpUrl },
      },
    }),
  );
  const started = Date.now();
  const lookout = await spawnLookout(
    ['--config', config],
    { ...userEnv(), LOOKOUT_TELEMETRY: 'false' },
    {
      killAfterMs: 10 * 60_000,
    },
  );
  const listedAfterMs = new Map<string, number>();
  const client = new Client({ name: 'matrix-watch', version: '1.0.0' }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(lookout.url)));
  try {
    await waitFor(
      `every upstream's tools listed (${launch})`,
      async () => {
        const { tools } = await client.listTools();
        for (const row of serverRows) {
          if (
            !listedAfterMs.has(row.upstream) &&
            tools.some((tool) => tool.name === `${row.upstream}__${row.listed}`)
          )
            listedAfterMs.set(row.upstream, Date.now() - started);
        }
        return listedAfterMs.size === serverRows.length ? true : undefined;
      },
      { timeoutMs: toolsListedWithinMs + 30_000, intervalMs: 200 },
    ).catch((error: Error) => {
      const missing = serverRows.map((row) => row.upstream).filter((name) => !listedAfterMs.has(name));
      throw new Error(
        `${error.message}; not listed: ${missing.join(', ')}\n${lookout.lines.slice(-30).join('\n')}`,
      );
    });
  } finally {
    await client.close();
  }
  t.diagnostic(
    `${launch}: tools listed after ${[...listedAfterMs].map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`).join(', ')}`,
  );
  return { lookout, cache, listedAfterMs };
}

/** A 1.x client that can answer sampling, elicitation and roots, and keeps the resource updates it gets. */
async function relayClient(url: string, name: string) {
  const client = new Client(
    { name, version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } },
  );
  const updates: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    model: 'matrix-model',
    role: 'assistant' as const,
    content: { type: 'text' as const, text: `sampled by ${name}` },
  }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept' as const,
    content: { name: `elicited from ${name}`, check: true },
  }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: `file:///matrix/${name}`, name: `root of ${name}` }],
  }));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (notification) => {
    updates.push(notification.params.uri);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return { client, updates };
}

async function callText(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    content?: { type: string; text?: string }[];
  };
  const text = textOf(result.content);
  assert.notEqual(result.isError, true, `${name} answered a tool error: ${text}`);
  return text;
}

/** A session-scoped resource of server-everything (gzip-file-as-resource), made in the client's session. */
async function sessionResource(client: Client, upstream: string, label: string): Promise<string> {
  const name = `${label}-${randomUUID()}.txt.gz`;
  await callText(client, `${upstream}__gzip-file-as-resource`, {
    name,
    data: `data:text/plain;base64,${Buffer.from(`secret of ${label}`).toString('base64')}`,
    outputType: 'resourceLink',
  });
  return `demo://resource/session/${name}`;
}

/**
 * A resource of `upstream` to subscribe to: one of its static documents from Lookout's list; when
 * another upstream holds those URIs (everything-http's are everything's), one made in the session.
 */
async function subscribable(client: Client, upstream: string): Promise<string> {
  const { resources } = await client.listResources();
  const own = resources.find(
    (resource) =>
      resource.name.startsWith(`${upstream}__`) &&
      resource.uri.startsWith('demo://resource/static/document/'),
  );
  return own?.uri ?? (await sessionResource(client, upstream, 'subscribed'));
}

const listsResource = async (client: Client, uri: string) =>
  (await client.listResources()).resources.some((resource) => resource.uri === uri);

/** Processes still carrying this run's marker in their environment. */
function leftovers(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`MATRIX_RUN_ID=${runId}`))
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim()}`);
    } catch {
      // The process ended while being looked at.
    }
  }
  return found;
}

const clients: MatrixClient[] = [
  sdkV1,
  sdkV2,
  goSdk(clientEnv),
  mcpRemote(clientEnv),
  inspectorCli(clientEnv),
];
const launches: Launch[] = ['installed', 'npx (cold cache)'];

describe('gateway matrix: real servers and clients through a lookout process', {
  timeout: 8 * 60_000,
}, () => {
  before(async () => {
    makeWorkDir();
    await startEverythingHttp();
  });

  after(async () => {
    try {
      for (const run of runs.values()) if (run.lookout.child.exitCode === null) await run.lookout.stop();
      await everythingHttp?.stop();
      await waitFor(
        'no process of the matrix left',
        async () => (leftovers().length === 0 ? true : undefined),
        {
          timeoutMs: 10_000,
        },
      ).catch(() => {
        // Reported, then ended, so that a failing run leaves nothing behind either.
        const left = leftovers();
        for (const line of left) {
          try {
            process.kill(Number(line.split(' ')[0]), 'SIGKILL');
          } catch {
            // It ended meanwhile.
          }
        }
        throw new Error(`processes left behind (killed now):\n${left.join('\n')}`);
      });
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  for (const launch of launches) {
    describe(`stdio servers launched ${launch === 'installed' ? 'from installed bins' : 'by npx -y'}`, () => {
      it(`every upstream's tools are listed within ${toolsListedWithinMs / 1000} s of start`, async (t) => {
        const run = await startRun(launch, t);
        runs.set(launch, run);
        for (const [upstream, ms] of run.listedAfterMs)
          assert.ok(ms <= toolsListedWithinMs, `${upstream}'s tools were listed after ${ms} ms`);
        if (launch !== 'installed') {
          const installs = readdirSync(join(run.cache, '_npx'));
          assert.equal(
            installs.length,
            4,
            `npx installed ${installs.length} packages into the fresh cache, not 4`,
          );
        }
      });

      for (const client of clients) {
        for (const row of serverRows) {
          it(`${client.name} · ${row.upstream}: tools listed, calls answered`, {
            timeout: 120_000,
          }, async () => {
            const run = runs.get(launch);
            assert.ok(run, 'lookout did not start');
            const report = await client.session(run.lookout.url, row.calls(client.name));
            for (const other of serverRows)
              assert.ok(
                report.tools.includes(`${other.upstream}__${other.listed}`),
                `${client.name} does not list ${other.upstream}__${other.listed}`,
              );
            row.check(report, client.name);
          });
        }
      }

      if (launch === 'installed') {
        for (const upstream of ['everything', 'everything-http']) {
          describe(`relay through ${upstream}`, { timeout: 60_000 }, () => {
            const url = () => {
              const run = runs.get(launch);
              assert.ok(run, 'lookout did not start');
              return run.lookout.url;
            };
            it("sampling: the upstream's request reaches the client and its answer comes back", async () => {
              const { client } = await relayClient(url(), 'sampler');
              try {
                const text = await callText(client, `${upstream}__trigger-sampling-request`, {
                  prompt: 'hi',
                });
                assert.match(text, /sampled by sampler/);
              } finally {
                await client.close();
              }
            });
            it("elicitation (form): the client's answer reaches the upstream", async () => {
              const { client } = await relayClient(url(), 'elicitee');
              try {
                const text = await callText(client, `${upstream}__trigger-elicitation-request`);
                assert.match(text, /elicited from elicitee/);
              } finally {
                await client.close();
              }
            });
            it('roots: the upstream lists the roots of the client that called', async () => {
              const { client } = await relayClient(url(), 'rooted');
              try {
                const text = await callText(client, `${upstream}__get-roots-list`);
                assert.match(text, /file:\/\/\/matrix\/rooted/);
              } finally {
                await client.close();
              }
            });
            it("completion: an upstream prompt's argument is completed", async () => {
              const { client } = await relayClient(url(), 'completer');
              try {
                const { completion } = await client.complete({
                  ref: { type: 'ref/prompt', name: `${upstream}__completable-prompt` },
                  argument: { name: 'department', value: 'Eng' },
                });
                assert.deepEqual(completion.values, ['Engineering']);
              } finally {
                await client.close();
              }
            });
            it(
              'subscription: updates of a subscribed resource reach the subscriber',
              // everything-http's static resources share stdio everything's URIs, so it subscribes to a session resource.
              upstream === 'everything-http' ? sessionResourceTodo : {},
              async () => {
                const { client, updates } = await relayClient(url(), 'subscriber');
                try {
                  const uri = await subscribable(client, upstream);
                  await client.subscribeResource({ uri });
                  await callText(client, `${upstream}__toggle-subscriber-updates`);
                  try {
                    await waitFor(
                      `notifications/resources/updated for ${uri}`,
                      async () => (updates.includes(uri) ? true : undefined),
                      { timeoutMs: 15_000 },
                    );
                  } finally {
                    await callText(client, `${upstream}__toggle-subscriber-updates`);
                  }
                } finally {
                  await client.close();
                }
              },
            );
            it(
              'two clients isolated: a session resource of one is neither listed nor read by the other',
              sessionResourceTodo,
              async () => {
                const owner = await relayClient(url(), 'owner');
                const other = await relayClient(url(), 'other');
                try {
                  const uri = await sessionResource(owner.client, upstream, 'owned');
                  // Its owner reads it (once Lookout knows where it lives): the control for the other's failure.
                  const read = await waitFor(
                    `${uri} read by its owner`,
                    () => owner.client.readResource({ uri }),
                    {
                      timeoutMs: 10_000,
                    },
                  );
                  assert.equal(read.contents.length, 1);
                  assert.equal(
                    await listsResource(other.client, uri),
                    false,
                    `${uri} is listed for another client`,
                  );
                  await assert.rejects(
                    other.client.readResource({ uri }),
                    `${uri} was read by another client`,
                  );
                } finally {
                  await owner.client.close();
                  await other.client.close();
                }
              },
            );
          });
        }
      }

      it('lookout stops at SIGTERM and takes its children with it', async () => {
        const run = runs.get(launch);
        assert.ok(run, 'lookout did not start');
        const code = await run.lookout.stop();
        assert.equal(code, 0);
        const left = () => leftovers().filter((line) => !line.includes('streamableHttp'));
        await waitFor('children gone', async () => (left().length === 0 ? true : undefined), {
          timeoutMs: 10_000,
        }).catch(() => {
          throw new Error(`left after lookout stopped:\n${left().join('\n')}`);
        });
      });
    });
  }
});
