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
 * two clients isolated) through server-everything, by each client that answers an upstream's
 * requests: the 1.x and 2.x TypeScript clients, the Go SDK client and `mcp-remote`.
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
} from '../support/matrix-clients.ts';
import {
  answers,
  goSdkRelay,
  type RelayStep,
  relayWithMcpRemote,
  relayWithSdkV1,
  relayWithSdkV2,
  type StepOutcome,
} from '../support/matrix-relay.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { waitFor } from '../support/services.ts';

/** The issue's bound: every upstream's tools are listed this long after `lookout` is started. */
const toolsListedWithinMs = 60_000;
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

interface RelayRow {
  name: string;
  steps: RelayStep[];
  check(outcomes: StepOutcome[]): void;
}

/** A tool call's text, which must be a result and no tool error. */
function resultText(outcome: StepOutcome | undefined): string {
  assert.equal(outcome?.error, undefined, outcome?.error);
  assert.equal(outcome?.isError, false, outcome?.text);
  return outcome?.text ?? '';
}

/** A step that makes a session-scoped resource of server-everything (gzip-file-as-resource); its URI. */
function makeSessionResource(upstream: string, session: string): [RelayStep, string] {
  const name = `${session}-${randomUUID()}.txt.gz`;
  const step: RelayStep = {
    session,
    call: `${upstream}__gzip-file-as-resource`,
    arguments: {
      name,
      data: `data:text/plain;base64,${Buffer.from(`secret of ${session}`).toString('base64')}`,
      outputType: 'resourceLink',
    },
  };
  return [step, `demo://resource/session/${name}`];
}

/** The relay round trips through server-everything, as scripts each relay client runs (sessions `main`, `owner`, `other`). */
function relayRows(upstream: string): RelayRow[] {
  const tool = (name: string) => `${upstream}__${name}`;
  const [makeSubscribed, subscribedSessionUri] = makeSessionResource(upstream, 'main');
  // everything-http's static resources share stdio everything's URIs (everything serves them), so
  // it subscribes to a resource made in the session.
  const subscribed =
    upstream === 'everything' ? 'demo://resource/static/document/architecture.md' : subscribedSessionUri;
  const [makeOwned, owned] = makeSessionResource(upstream, 'owner');
  return [
    {
      name: "sampling: the upstream's request reaches the client and its answer comes back",
      steps: [{ call: tool('trigger-sampling-request'), arguments: { prompt: 'hi' } }],
      check: ([sampled]) => assert.match(resultText(sampled), new RegExp(answers.sampled('main'))),
    },
    {
      name: "elicitation (form): the client's answer reaches the upstream",
      steps: [{ call: tool('trigger-elicitation-request') }],
      check: ([elicited]) => assert.match(resultText(elicited), new RegExp(answers.elicited('main'))),
    },
    {
      name: 'roots: the upstream lists the roots of the client that called',
      steps: [{ call: tool('get-roots-list') }],
      check: ([roots]) => assert.ok(resultText(roots).includes(answers.root('main')), roots?.text),
    },
    {
      name:
        upstream === 'everything'
          ? "completion: an upstream prompt's argument and resource template's variable are completed"
          : "completion: an upstream prompt's argument is completed",
      steps: [
        {
          complete: {
            ref: { type: 'ref/prompt', name: tool('completable-prompt') },
            argument: { name: 'department', value: 'Eng' },
          },
        },
        // A template keeps its URI, so everything-http's (the same as everything's) is everything's.
        ...(upstream === 'everything'
          ? [
              {
                complete: {
                  ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
                  argument: { name: 'resourceId', value: '7' },
                },
              } satisfies RelayStep,
            ]
          : []),
      ],
      check: ([prompt, template]) => {
        assert.deepEqual(prompt, { values: ['Engineering'] });
        if (upstream === 'everything') assert.deepEqual(template, { values: ['7'] });
      },
    },
    {
      name: 'subscription: updates of a subscribed resource reach the subscriber',
      steps: [
        ...(upstream === 'everything' ? [] : [makeSubscribed]),
        { subscribe: subscribed },
        { call: tool('toggle-subscriber-updates') },
        { awaitUpdate: subscribed, timeoutMs: 15_000 },
        { call: tool('toggle-subscriber-updates') },
      ],
      check: (outcomes) => {
        for (const outcome of outcomes) assert.equal(outcome.error, undefined, outcome.error);
        assert.deepEqual(outcomes.at(-2), { updated: true }, `no update of ${subscribed}`);
      },
    },
    {
      name: 'two clients isolated: a session resource is listed and read by its owner, by no other',
      steps: [
        makeOwned,
        { session: 'owner', read: owned },
        { session: 'owner', listResources: true },
        { session: 'other', listResources: true },
        { session: 'other', read: owned },
      ],
      check: ([made, ownerRead, ownerList, otherList, otherRead]) => {
        resultText(made);
        assert.deepEqual(ownerRead, { contents: 1 }, `${owned} not read by its owner`);
        assert.ok(ownerList?.uris?.includes(owned), `${owned} not listed to its owner`);
        assert.ok(otherList?.uris && !otherList.uris.includes(owned), `${owned} listed to another client`);
        assert.match(otherRead?.error ?? '', /not found/i, `${owned} read by another client`);
      },
    },
  ];
}

/** The clients of the relay rows: those that answer an upstream's requests (see docs/gateway.md). */
const relayClients = [
  { name: 'sdk 1.x', relay: relayWithSdkV1 },
  { name: 'sdk 2.x', relay: relayWithSdkV2 },
  { name: 'go sdk', relay: goSdkRelay(clientEnv) },
  { name: 'mcp-remote', relay: relayWithMcpRemote(bin('mcp-remote'), clientEnv) },
];

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
          for (const client of relayClients) {
            describe(`relay through ${upstream} · ${client.name}`, { timeout: 90_000 }, () => {
              for (const row of relayRows(upstream)) {
                it(row.name, async () => {
                  const run = runs.get(launch);
                  assert.ok(run, 'lookout did not start');
                  const outcomes = await client.relay(run.lookout.url, row.steps);
                  assert.equal(outcomes.length, row.steps.length, JSON.stringify(outcomes));
                  row.check(outcomes);
                });
              }
            });
          }
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
