/**
 * The relay rows of the gateway matrix, as scripts any client can run: each step is one request of
 * a session (sessions are named; each is a client of its own, open until the script ends) and gives
 * one outcome. A session's client answers sampling, form elicitation and roots with its own name,
 * and keeps the resource updates it is sent.
 */
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { toolPath } from '../../support/tools.ts';
import { type ClientEnv, run, textOf } from './matrix-clients.ts';

type CompletionRef = { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string };

/** One request of a script; `session` names the client that makes it (`main` by default). */
export type RelayStep = { session?: string } & (
  | { call: string; arguments?: Record<string, unknown> }
  | { complete: { ref: CompletionRef; argument: { name: string; value: string } } }
  | { subscribe: string }
  | { awaitUpdate: string; timeoutMs: number }
  | { read: string }
  | { listResources: true }
);

export interface StepOutcome {
  /** A tool result's text, and whether it was a tool error. */
  text?: string;
  isError?: boolean;
  /** Completion values. */
  values?: string[];
  /** Listed resource URIs. */
  uris?: string[];
  /** How many contents a read gave. */
  contents?: number;
  /** Whether the awaited resource update came. */
  updated?: boolean;
  /** A protocol error instead of an answer. */
  error?: string;
}

/** What a session's client answers, by its name: the relay rows look for these. */
export const answers = {
  sampled: (session: string) => `sampled by ${session}`,
  elicited: (session: string) => `elicited from ${session}`,
  root: (session: string) => `file:///matrix/${session}`,
};

/** The calls a script makes of one session, whatever the client. */
interface RelaySession {
  call(name: string, args: Record<string, unknown>): Promise<unknown>;
  complete(params: { ref: CompletionRef; argument: { name: string; value: string } }): Promise<{
    completion: { values: string[] };
  }>;
  subscribeResource(params: { uri: string }): Promise<unknown>;
  readResource(params: { uri: string }): Promise<{ contents: unknown[] }>;
  listResources(): Promise<{ resources: { uri: string }[] }>;
  readonly updates: string[];
  close(): Promise<void>;
}

const relayCapabilities = { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } };

function sampling(session: string) {
  return {
    model: 'matrix-model',
    role: 'assistant' as const,
    content: { type: 'text' as const, text: answers.sampled(session) },
  };
}

const elicitation = (session: string) => ({
  action: 'accept' as const,
  content: { name: answers.elicited(session), check: true },
});

const roots = (session: string) => ({ roots: [{ uri: answers.root(session), name: `root of ${session}` }] });

async function sdkV1Session(url: string, session: string): Promise<RelaySession> {
  return sdkV1SessionOver(new StreamableHTTPClientTransport(new URL(url)), session);
}

async function sdkV1SessionOver(transport: Transport, session: string): Promise<RelaySession> {
  const client = new Client(
    { name: `matrix-relay-${session}`, version: '1.0.0' },
    { capabilities: relayCapabilities },
  );
  const updates: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, () => sampling(session));
  client.setRequestHandler(ElicitRequestSchema, () => elicitation(session));
  client.setRequestHandler(ListRootsRequestSchema, () => roots(session));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  await client.connect(transport);
  return {
    call: (name, args) => client.callTool({ name, arguments: args }),
    complete: (params) => client.complete(params),
    subscribeResource: (params) => client.subscribeResource(params),
    readResource: (params) => client.readResource(params),
    listResources: () => client.listResources(),
    updates,
    close: () => client.close(),
  };
}

async function sdkV2Session(url: string, session: string): Promise<RelaySession> {
  const client = new ClientV2(
    { name: `matrix-relay-${session}`, version: '1.0.0' },
    { capabilities: relayCapabilities },
  );
  const updates: string[] = [];
  client.setRequestHandler('sampling/createMessage', () => sampling(session));
  client.setRequestHandler('elicitation/create', () => elicitation(session));
  client.setRequestHandler('roots/list', () => roots(session));
  client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
  await client.connect(new TransportV2(new URL(url)));
  return {
    call: (name, args) => client.callTool({ name, arguments: args }),
    complete: (params) => client.complete(params),
    subscribeResource: (params) => client.subscribeResource(params),
    readResource: (params) => client.readResource(params),
    listResources: () => client.listResources(),
    updates,
    close: () => client.close(),
  };
}

async function step(session: RelaySession, s: RelayStep): Promise<StepOutcome> {
  if ('call' in s) {
    const result = await session.call(s.call, s.arguments ?? {});
    return {
      text: textOf((result as { content?: { type: string; text?: string }[] }).content),
      isError: (result as { isError?: boolean }).isError === true,
    };
  }
  if ('complete' in s) return { values: (await session.complete(s.complete)).completion.values };
  if ('subscribe' in s) {
    await session.subscribeResource({ uri: s.subscribe });
    return {};
  }
  if ('awaitUpdate' in s) {
    const deadline = Date.now() + s.timeoutMs;
    while (!session.updates.includes(s.awaitUpdate) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return { updated: session.updates.includes(s.awaitUpdate) };
  }
  if ('read' in s) return { contents: (await session.readResource({ uri: s.read })).contents.length };
  return { uris: (await session.listResources()).resources.map((resource) => resource.uri) };
}

/** Runs a script with one kind of TypeScript client; every session it opened is closed at the end. */
async function runScript(
  open: (url: string, session: string) => Promise<RelaySession>,
  url: string,
  steps: RelayStep[],
): Promise<StepOutcome[]> {
  const sessions = new Map<string, RelaySession>();
  const outcomes: StepOutcome[] = [];
  try {
    for (const s of steps) {
      const name = s.session ?? 'main';
      let session = sessions.get(name);
      if (!session) {
        session = await open(url, name);
        sessions.set(name, session);
      }
      outcomes.push(await step(session, s).catch((error: Error) => ({ error: String(error) })));
    }
  } finally {
    await Promise.all([...sessions.values()].map((session) => session.close()));
  }
  return outcomes;
}

export const relayWithSdkV1 = (url: string, steps: RelayStep[]) => runScript(sdkV1Session, url, steps);
export const relayWithSdkV2 = (url: string, steps: RelayStep[]) => runScript(sdkV2Session, url, steps);

/** `mcp-remote` (as a stdio server in front of Lookout) driven by the 1.x client, which answers back through it. */
export function relayWithMcpRemote(
  command: string,
  env: Record<string, string>,
): (url: string, steps: RelayStep[]) => Promise<StepOutcome[]> {
  const open = (url: string, session: string) =>
    sdkV1SessionOver(
      new StdioClientTransport({ command, args: [url, '--transport', 'http-only'], env, stderr: 'pipe' }),
      session,
    );
  return (url, steps) => runScript(open, url, steps);
}

/**
 * The Go SDK client running a relay script, at protocol 2025-11-25: at its default, 2026-07-28,
 * Lookout does not relay the upstreams' requests to it yet.
 */
export function goSdkRelay(env: ClientEnv): (url: string, steps: RelayStep[]) => Promise<StepOutcome[]> {
  return async (url, steps) => {
    const args = ['--relay', url, '2025-11-25'];
    return JSON.parse(await run(toolPath('mcp-go-client'), args, env, JSON.stringify(steps), 90_000));
  };
}
