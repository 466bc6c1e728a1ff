import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../support/ports.ts';
import { checkEcho, openSession } from './mcp.ts';
import { cpuSecondsOf, type Pinned, spawnPinned, waitFor } from './processes.ts';

/** What the targets need from the run: where things are and where telemetry goes. */
export interface BenchContext {
  readonly root: string;
  /** A scratch directory for config files. */
  readonly dir: string;
  readonly serverCpu: string;
  readonly loadCpu: string;
  /** The OTLP receiver's base URL. */
  readonly otlpEndpoint: string;
  /** A loopback port nothing listens on: the "collector down" endpoint. */
  readonly closedPort: number;
}

/** A server the bench measures. */
export interface TargetSpec {
  readonly name: string;
  readonly description: string;
  /** Node arguments (script included), given the port to listen on and the context. */
  readonly args: (port: number, ctx: BenchContext) => string[];
  readonly env?: (ctx: BenchContext) => Record<string, string>;
  /** Whether clients open a session (initialize) first. */
  readonly sessions: boolean;
  /** The protocol era the load speaks: 2025-11-25 (default) or 2026-07-28, which has no sessions. */
  readonly era?: 'legacy' | 'modern';
  /** Lookout is ready when /health/ready says 200; a baseline when it answers HTTP at all. */
  readonly readiness: 'health' | 'listening';
  /** Whether it exports telemetry to the receiver (spans per request are then reported). */
  readonly exports: boolean;
}

export interface RunningTarget {
  readonly spec: TargetSpec;
  readonly process: Pinned;
  readonly port: number;
  readonly url: string;
  readonly session: string;
  /** Milliseconds from spawn to ready, and the CPU time the process had used by then. */
  readonly readyMs: number;
  readonly readyCpuMs: number;
  stop(): Promise<void>;
}

/** The one upstream of a gateway target: a Streamable HTTP server at a URL, or a stdio child Lookout starts. */
export type GatewayUpstream = { readonly url: string } | { readonly stdio: readonly string[] };

/** Lookout with every request traced: the config file's one sampling rule is `always`. */
export function fullTelemetryConfig(ctx: BenchContext, upstream?: GatewayUpstream): string {
  const lines = [
    'log: { level: info, format: json }',
    'telemetry:',
    '  sampling:',
    '    rules:',
    '      - { sample: always }',
  ];
  if (upstream && 'url' in upstream) {
    lines.push('upstreams:', `  - { name: up, transport: http, url: "${upstream.url}", required: true }`);
  } else if (upstream) {
    const [command, ...args] = upstream.stdio;
    lines.push(
      'upstreams:',
      `  - { name: up, transport: stdio, command: ${JSON.stringify(command)}, args: ${JSON.stringify(args)}, required: true }`,
    );
  }
  const file = join(
    ctx.dir,
    upstream ? `lookout-gateway-${'url' in upstream ? 'http' : 'stdio'}.yaml` : 'lookout-full.yaml',
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const lookout = (config: (ctx: BenchContext) => string) => (port: number, ctx: BenchContext) => [
  'dist/cli.js',
  '--config',
  config(ctx),
  '--port',
  String(port),
];

/** Lookout's OTLP exports go to `endpoint` (the receiver, or a closed port). */
const otlpTo = (endpoint: string) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });

export const targets = {
  expressEcho: {
    name: 'express-echo',
    description: 'raw Express JSON-RPC echo (no MCP, no telemetry)',
    args: () => ['bench/baselines/express-echo.ts'],
    sessions: false,
    readiness: 'listening',
    exports: false,
  },
  expressEchoOtel: {
    name: 'express-echo-otel',
    description:
      "raw Express echo plus Lookout's per-call telemetry done directly with the OTel SDK: 2 spans, 2 histograms, 1 log record, OTLP to the receiver",
    args: () => ['bench/baselines/express-echo-otel.ts'],
    env: (ctx) => otlpTo(ctx.otlpEndpoint),
    sessions: false,
    readiness: 'listening',
    exports: true,
  },
  sdkStateful: {
    name: 'sdk-stateful',
    description: 'MCP SDK stateful Streamable HTTP example (no telemetry)',
    args: () => ['bench/baselines/sdk-stateful.ts'],
    sessions: true,
    readiness: 'listening',
    exports: false,
  },
  sdkStatelessOtel: {
    name: 'sdk-stateless-otel',
    description: 'MCP SDK stateless example under auto-instrumentations-node/register, OTLP to the receiver',
    args: () => [
      '--experimental-loader=@opentelemetry/instrumentation/hook.mjs',
      '--import',
      '@opentelemetry/auto-instrumentations-node/register',
      'bench/baselines/sdk-stateless.ts',
    ],
    env: (ctx) => ({
      ...otlpTo(ctx.otlpEndpoint),
      OTEL_SERVICE_NAME: 'sdk-stateless',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_LOGS_EXPORTER: 'otlp',
      // No cloud metadata probes on a bench machine.
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
      NODE_NO_WARNINGS: '1',
    }),
    sessions: false,
    readiness: 'listening',
    exports: true,
  },
  sdk2Handler: {
    name: 'sdk2-handler',
    description:
      'MCP SDK 2.x createMcpHandler with a low-level Server per request, the echo as MCP 2026-07-28 requests (no telemetry)',
    args: () => ['bench/baselines/sdk2-handler.ts'],
    sessions: false,
    era: 'modern',
    readiness: 'listening',
    exports: false,
  },
  sdk2HandlerLegacy: {
    name: 'sdk2-handler-2025',
    description: 'the same createMcpHandler, the echo as 2025-11-25 requests (its stateless legacy leg)',
    args: () => ['bench/baselines/sdk2-handler.ts'],
    sessions: false,
    readiness: 'listening',
    exports: false,
  },
  lookoutFull: {
    name: 'lookout-full',
    description: 'Lookout, full telemetry: 100 % sampled, metrics, info logs, OTLP to the receiver',
    args: lookout(fullTelemetryConfig),
    env: (ctx) => otlpTo(ctx.otlpEndpoint),
    sessions: true,
    readiness: 'health',
    exports: true,
  },
  lookoutFullModern: {
    name: 'lookout-full-2026',
    description: 'Lookout, full telemetry, the same echo as MCP 2026-07-28 requests (no session)',
    args: lookout(fullTelemetryConfig),
    env: (ctx) => otlpTo(ctx.otlpEndpoint),
    sessions: false,
    era: 'modern',
    readiness: 'health',
    exports: true,
  },
  lookoutDefault: {
    name: 'lookout-default',
    description:
      'Lookout as shipped: adaptive head sampling (10 traces/s per key), metrics, info logs, OTLP to the receiver',
    args: (port) => ['dist/cli.js', '--log-level', 'info', '--log-format', 'json', '--port', String(port)],
    env: (ctx) => otlpTo(ctx.otlpEndpoint),
    sessions: true,
    readiness: 'health',
    exports: true,
  },
  lookoutOff: {
    name: 'lookout-off',
    description: 'Lookout, same config, OTEL_SDK_DISABLED=true',
    args: lookout(fullTelemetryConfig),
    env: () => ({ OTEL_SDK_DISABLED: 'true' }),
    sessions: true,
    readiness: 'health',
    exports: false,
  },
  lookoutCollectorDown: {
    name: 'lookout-collector-down',
    description: 'Lookout, full telemetry, OTLP endpoint on a closed port',
    args: lookout(fullTelemetryConfig),
    env: (ctx) => otlpTo(`http://127.0.0.1:${ctx.closedPort}`),
    sessions: true,
    readiness: 'health',
    exports: false,
  },
} satisfies Record<string, TargetSpec>;

/** Lookout as a gateway in front of one upstream named `up` (its echo is `up__echo`). */
export function gatewayTarget(upstream: GatewayUpstream): TargetSpec {
  const stdio = 'stdio' in upstream;
  return {
    ...targets.lookoutFull,
    name: stdio ? 'lookout-gateway-stdio' : 'lookout-gateway',
    description: `Lookout (full telemetry) in front of the ${stdio ? 'stdio' : 'Streamable HTTP'} upstream, tool up__echo`,
    args: lookout((ctx) => fullTelemetryConfig(ctx, upstream)),
  };
}

/** The stdio upstream of the gateway's stdio hop: the SDK's stdio echo server, run by Lookout's Node. */
export const stdioEchoUpstream = (ctx: BenchContext): GatewayUpstream => ({
  stdio: [process.execPath, join(ctx.root, 'bench/baselines/sdk-stdio.ts')],
});

/** Starts a target on `ctx.serverCpu`, waits until it is ready, opens a session, checks one echo. */
export async function startTarget(
  spec: TargetSpec,
  ctx: BenchContext,
  tool = 'echo',
): Promise<RunningTarget> {
  const port = await freePort();
  const since = performance.now();
  const process = spawnPinned(globalThis.process.execPath, spec.args(port, ctx), {
    cpu: ctx.serverCpu,
    cwd: ctx.root,
    env: { PORT: String(port), ...spec.env?.(ctx) },
  });
  try {
    const readyMs =
      spec.readiness === 'health'
        ? await waitFor(`http://127.0.0.1:${port}/health/ready`, (s) => s === 200, process, since)
        : await waitFor(`http://127.0.0.1:${port}/`, () => true, process, since);
    const readyCpuMs = cpuSecondsOf(process.pid) * 1000;
    const url = `http://127.0.0.1:${port}/mcp`;
    const session = spec.sessions ? await openSession(url) : '';
    await checkEcho(url, session, tool, spec.era);
    return { spec, process, port, url, session, readyMs, readyCpuMs, stop: () => process.stop() };
  } catch (error) {
    await process.stop();
    throw new Error(`${spec.name}: ${(error as Error).message}`);
  }
}
