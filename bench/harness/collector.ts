import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolPath } from '../../support/tools.ts';
import { type Pinned, spawnPinned } from './processes.ts';

/** What the receiver has taken in so far, from the debug exporter's one line per batch. */
export interface Received {
  spans: number;
  logRecords: number;
  dataPoints: number;
}

export const collectorDescription =
  'otelcol-lookout (npm run tools), OTLP/HTTP receiver on loopback → debug exporter (verbosity basic: one log line per batch, nothing stored or forwarded)';

/**
 * The real collector binary as the OTLP receiver every instrumented target exports to. Its debug
 * exporter logs one JSON line per batch with the item counts, which is how the bench checks that
 * telemetry really arrived.
 */
export class Collector {
  readonly received: Received = { spans: 0, logRecords: 0, dataPoints: 0 };
  #process: Pinned | undefined;
  readonly port: number;
  readonly #dir: string;
  readonly #cpu: string;

  constructor(port: number, dir: string, cpu: string) {
    this.port = port;
    this.#dir = dir;
    this.#cpu = cpu;
  }

  /** The receiver's process id once started. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const config = join(this.#dir, 'collector.yaml');
    writeFileSync(
      config,
      [
        'receivers:',
        '  otlp:',
        '    protocols:',
        `      http: { endpoint: "127.0.0.1:${this.port}" }`,
        'exporters:',
        '  debug: { verbosity: basic }',
        'service:',
        '  telemetry:',
        '    metrics: { level: none }',
        '    logs: { encoding: json, sampling: { enabled: false } }',
        '  pipelines:',
        '    traces: { receivers: [otlp], exporters: [debug] }',
        '    metrics: { receivers: [otlp], exporters: [debug] }',
        '    logs: { receivers: [otlp], exporters: [debug] }',
        '',
      ].join('\n'),
    );
    let ready: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const collector = spawnPinned(toolPath('otelcol-lookout'), ['--config', config], {
      cpu: this.#cpu,
      cwd: this.#dir,
      onStderrLine: (line) => this.#read(line, ready),
    });
    this.#process = collector;
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`collector ${why}:\n${collector.stderrTail()}`));
      const timer = setTimeout(() => fail('not ready after 15 s'), 15_000);
      const onExit = (code: number | null) => fail(`exited (${code})`);
      collector.child.once('exit', onExit);
      void started.then(() => {
        clearTimeout(timer);
        collector.child.off('exit', onExit);
        resolve();
      });
    });
  }

  #read(line: string, ready: () => void): void {
    if (!line.startsWith('{')) return;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (String(entry.msg ?? '').startsWith('Everything is ready')) ready();
    this.received.spans += Number(entry.spans ?? 0);
    this.received.logRecords += Number(entry['log records'] ?? 0);
    this.received.dataPoints += Number(entry['data points'] ?? 0);
  }

  snapshot(): Received {
    return { ...this.received };
  }

  async stop(): Promise<void> {
    await this.#process?.stop();
  }
}

export function difference(after: Received, before: Received): Received {
  return {
    spans: after.spans - before.spans,
    logRecords: after.logRecords - before.logRecords,
    dataPoints: after.dataPoints - before.dataPoints,
  };
}
