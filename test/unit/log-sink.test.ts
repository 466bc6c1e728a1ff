import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config/schema.ts';
import { createLogging } from '../../src/logging/logger.ts';

const loggerModule = fileURLToPath(new URL('../../src/logging/logger.ts', import.meta.url));

/** A stream that records each write it gets. */
function recordingStream(): { stream: Writable; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, writes };
}

const logSettings = { log: { level: 'info', format: 'json', ringBufferSize: 10 } } as const;
const jsonConfig = configSchema.parse(logSettings);

describe('log sink', () => {
  it('keeps in its ring what a record says, not the metadata object the caller passed', async () => {
    const { stream } = recordingStream();
    const { logger, ring } = createLogging(jsonConfig, { stream });
    const held = new Map([['big', 'x'.repeat(1000)]]);
    logger.info('with metadata', { outcome: 'ok', [Symbol('caller state')]: held });
    const kept = ring.query({ limit: 1 })[0] as object;
    assert.equal((kept as { outcome?: string }).outcome, 'ok');
    assert.deepEqual(
      Object.getOwnPropertySymbols(kept),
      [],
      "symbol keys (winston's splat among them) are not kept",
    );
  });

  it('stamps each line with the ISO 8601 time it was written, and keeps a timestamp the caller gave', async () => {
    const { stream, writes } = recordingStream();
    const { logger } = createLogging(jsonConfig, { stream });
    const stamps: [number, number][] = [];
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      logger.info('timed', { i });
      stamps.push([before, Date.now()]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    logger.info('given', { timestamp: '2026-01-01T00:00:00.000Z' });
    await nextTurn();
    const lines = writes
      .join('')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { timestamp: string; message: string });
    for (const [i, [before, after]] of stamps.entries()) {
      const line = lines[i];
      assert.ok(line);
      assert.match(line.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const at = Date.parse(line.timestamp);
      assert.ok(at >= before && at <= after, `${line.timestamp} within [${before}, ${after}]`);
    }
    assert.equal(lines[3]?.timestamp, '2026-01-01T00:00:00.000Z');
  });

  it("writes one event-loop turn's lines in one write, complete and in order", async () => {
    const { stream, writes } = recordingStream();
    const { logger, ring } = createLogging(jsonConfig, { stream });
    for (let i = 0; i < 100; i++) logger.info('line', { i });
    assert.equal(ring.query({ limit: 1 })[0]?.i, 99, 'the ring has every record at once');
    await nextTurn();
    assert.equal(writes.length, 1);
    const lines = (writes[0] ?? '').trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('writes at once when 64 kB are held, without waiting for the turn to end', () => {
    const { stream, writes } = recordingStream();
    const { logger } = createLogging(jsonConfig, { stream });
    const filler = 'x'.repeat(1000);
    for (let i = 0; i < 100; i++) logger.info('big', { filler });
    assert.ok(writes.length >= 1, 'written before the turn ended');
    assert.ok(
      writes.every((w) => w.endsWith('\n')),
      'only whole lines',
    );
  });

  it('writes the lines held when the process exits right after logging them', () => {
    const script = [
      `import { createLogging } from ${JSON.stringify(loggerModule)};`,
      `const { logger } = createLogging(${JSON.stringify(logSettings)});`,
      "logger.info('last words');",
      'process.exit(0);',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.match(out, /"message":"last words"/);
  });
});
