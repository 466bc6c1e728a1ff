import { z } from 'zod';
import { type LogRing, logLevelNames } from '../logging/ring.ts';
import { defineTool } from './api.ts';

/** One session as the operations tools show it. */
export interface SessionSummary {
  readonly id: string;
  readonly protocolVersion: string;
  readonly ageSeconds: number;
  readonly idleSeconds: number;
  readonly inflight: number;
  readonly standaloneStream: boolean;
}

/** What the operations tools read about the sessions; the MCP layer's session registry provides it. */
export interface SessionOverview {
  readonly size: number;
  readonly max: number;
  summaries(): SessionSummary[];
}

export interface BuiltinDeps {
  readonly version: string;
  readonly startedAt: number;
  readonly sessions: SessionOverview;
  readonly stateless: boolean;
  readonly toolCount: () => number;
  readonly logRing: LogRing;
  /** The telemetry's sampling state, when telemetry runs. */
  readonly telemetryStatus: () => unknown;
}

/** Built-in tools that show every client's data (log records, sessions): admin-only by default under auth. */
export const adminOnlyTools: ReadonlySet<string> = new Set(['lookout.logs.query', 'lookout.sessions']);

/** Lookout's own tools: `echo` for smoke tests and benchmarks, and read-only operations tools. */
export function builtinTools(deps: BuiltinDeps) {
  return [
    defineTool({
      name: 'echo',
      title: 'Echo',
      description: 'Returns the given text unchanged.',
      input: z.object({ text: z.string().describe('Text to return') }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      handler: ({ text }) => text,
    }),
    defineTool({
      name: 'lookout.health',
      title: 'Lookout health',
      description: "Lookout's status: version, uptime, sessions and tools served.",
      input: z.object({}),
      output: z.object({
        status: z.literal('ok'),
        version: z.string(),
        uptimeSeconds: z.number(),
        sessions: z.number(),
        tools: z.number(),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: () => ({
        status: 'ok' as const,
        version: deps.version,
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
        sessions: deps.sessions.size,
        tools: deps.toolCount(),
      }),
    }),
    defineTool({
      name: 'lookout.sessions',
      title: 'Lookout sessions',
      description:
        'The MCP sessions Lookout holds: count, limit, and per session its age, idle time and work in flight.',
      input: z.object({ limit: z.int().min(1).max(1000).default(100).describe('Most sessions to list') }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: ({ limit }) => {
        const summaries = deps.sessions.summaries();
        return JSON.stringify({
          mode: deps.stateless ? 'stateless' : 'sessions',
          count: summaries.length,
          max: deps.sessions.max,
          // Ids are shortened: a full id is a bearer credential for its session.
          sessions: summaries.slice(0, limit).map((s) => ({ ...s, id: `${s.id.slice(0, 8)}…` })),
        });
      },
    }),
    defineTool({
      name: 'lookout.logs.query',
      title: 'Lookout logs',
      description: "Lookout's recent log records, newest first, filtered by level and trace id.",
      input: z.object({
        level: z
          .enum(logLevelNames as [string, ...string[]])
          .optional()
          .describe('Least severe level to include'),
        traceId: z
          .string()
          .regex(/^[0-9a-f]{32}$/)
          .optional()
          .describe('Only records of this trace'),
        limit: z.int().min(1).max(1000).default(100).describe('Most records to return'),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: ({ level, traceId, limit }) =>
        JSON.stringify({
          records: deps.logRing.query({
            ...(level !== undefined && { level }),
            ...(traceId !== undefined && { traceId }),
            limit,
          }),
        }),
    }),
    defineTool({
      name: 'lookout.telemetry.status',
      title: 'Lookout telemetry status',
      description:
        'The head sampler: per sampling key its arrival rate, current probability, and traces sampled and dropped.',
      input: z.object({}),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: () => JSON.stringify(deps.telemetryStatus()),
    }),
  ];
}
