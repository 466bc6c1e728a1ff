/**
 * The real MCP clients of the gateway matrix behind one interface: a session that lists the tools and
 * makes tool calls in order. Each client is the published package or program users run.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { toolPath } from '../../support/tools.ts';
import { repo } from './stack.ts';

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface CallOutcome {
  isError: boolean;
  text: string;
  /** A protocol error instead of a result. */
  error?: string;
}

export interface SessionReport {
  tools: string[];
  calls: CallOutcome[];
}

export interface MatrixClient {
  readonly name: string;
  /** One session against `url`: lists every tool, then makes `calls` in order. */
  session(url: string, calls: ToolCall[]): Promise<SessionReport>;
}

/** The environment of the client processes: `marker` lets the leftover check find them. */
export type ClientEnv = Record<string, string>;

export const bin = (name: string) => join(repo, 'node_modules/.bin', name);

type ListingClient = {
  listTools(params?: { cursor?: string }): Promise<{ tools: { name: string }[]; nextCursor?: string }>;
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
};

async function runSession(client: ListingClient, calls: ToolCall[]): Promise<SessionReport> {
  const tools: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools.map((tool) => tool.name));
    cursor = page.nextCursor;
  } while (cursor);
  const outcomes: CallOutcome[] = [];
  for (const call of calls) {
    try {
      const result = (await client.callTool(call)) as {
        isError?: boolean;
        content?: { type: string; text?: string }[];
      };
      outcomes.push({ isError: result.isError === true, text: textOf(result.content) });
    } catch (error) {
      outcomes.push({ isError: true, text: '', error: String(error) });
    }
  }
  return { tools, calls: outcomes };
}

export function textOf(content: { type: string; text?: string }[] | undefined): string {
  return (content ?? [])
    .filter((part) => part.type === 'text')
    .map((part) => part.text)
    .join('\n');
}

/** The 1.x TypeScript SDK client over Streamable HTTP. */
export const sdkV1: MatrixClient = {
  name: 'sdk 1.x',
  async session(url, calls) {
    const client = new Client({ name: 'matrix-sdk-1', version: '1.0.0' }, { capabilities: {} });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    try {
      return await runSession(client, calls);
    } finally {
      await client.close();
    }
  },
};

/** The 2.x TypeScript client (@modelcontextprotocol/client), version negotiation left on auto. */
export const sdkV2: MatrixClient = {
  name: 'sdk 2.x',
  async session(url, calls) {
    const client = new ClientV2({ name: 'matrix-sdk-2', version: '1.0.0' }, { capabilities: {} });
    await client.connect(new TransportV2(new URL(url)));
    try {
      return await runSession(client as unknown as ListingClient, calls);
    } finally {
      await client.close();
    }
  },
};

/** `mcp-remote` as a stdio server (what desktop clients launch), driven by the 1.x client. */
export function mcpRemote(env: ClientEnv): MatrixClient {
  return {
    name: 'mcp-remote',
    async session(url, calls) {
      const client = new Client({ name: 'matrix-mcp-remote', version: '1.0.0' }, { capabilities: {} });
      await client.connect(
        new StdioClientTransport({
          command: bin('mcp-remote'),
          args: [url, '--transport', 'http-only'],
          env,
          stderr: 'pipe',
        }),
      );
      try {
        return await runSession(client, calls);
      } finally {
        await client.close();
      }
    },
  };
}

/** Runs a client program to its end: its stdout, or an error with its stderr. */
export function run(
  command: string,
  args: string[],
  env: ClientEnv,
  input: string | undefined,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/** The Go SDK's client (test/interop/go-client, built by `npm run tools`): one process per session. */
export function goSdk(env: ClientEnv): MatrixClient {
  return {
    name: 'go sdk',
    async session(url, calls) {
      const stdout = await run(toolPath('mcp-go-client'), [url], env, JSON.stringify(calls), 60_000);
      return JSON.parse(stdout) as SessionReport;
    },
  };
}

/**
 * The Inspector's CLI (`mcp-inspector --cli`): one process per request, as a script would use it,
 * so a session here is a sequence of processes.
 */
export function inspectorCli(env: ClientEnv): MatrixClient {
  const inspector = (url: string, args: string[]) =>
    run(bin('mcp-inspector'), ['--cli', url, '--transport', 'http', ...args], env, undefined, 60_000);
  return {
    name: 'inspector cli',
    async session(url, calls) {
      const listing = JSON.parse(await inspector(url, ['--method', 'tools/list'])) as {
        tools: { name: string }[];
      };
      const outcomes: CallOutcome[] = [];
      for (const call of calls) {
        try {
          const out = await inspector(url, [
            '--method',
            'tools/call',
            '--tool-name',
            call.name,
            '--tool-args-json',
            JSON.stringify(call.arguments),
          ]);
          const result = JSON.parse(out) as {
            isError?: boolean;
            content?: { type: string; text?: string }[];
          };
          outcomes.push({ isError: result.isError === true, text: textOf(result.content) });
        } catch (error) {
          outcomes.push({ isError: true, text: '', error: String(error) });
        }
      }
      return { tools: listing.tools.map((tool) => tool.name), calls: outcomes };
    },
  };
}
