import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { it } from 'node:test';
import { RandomIds } from '../../src/telemetry/random-ids.ts';

it('draws lowercase hex trace and span ids of the W3C lengths, all distinct, across many batches', () => {
  const ids = new RandomIds();
  const traceIds = new Set<string>();
  const spanIds = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const traceId = ids.traceId();
    const spanId = ids.spanId();
    assert.match(traceId, /^[0-9a-f]{32}$/);
    assert.match(spanId, /^[0-9a-f]{16}$/);
    traceIds.add(traceId);
    spanIds.add(spanId);
  }
  assert.equal(traceIds.size, 20_000);
  assert.equal(spanIds.size, 20_000);
});

it('draws again rather than give an all-zero id, which W3C Trace Context makes invalid', () => {
  let fills = 0;
  // The first batch is all zeros; the next ones are random.
  const ids = new RandomIds((bytes) => (fills++ === 0 ? bytes.fill(0) : randomFillSync(bytes)));
  const traceId = ids.traceId();
  assert.notEqual(traceId, '0'.repeat(32));
  assert.match(traceId, /^[0-9a-f]{32}$/);
  assert.equal(fills, 2, 'the zero batch was used up, then a new one drawn');
  fills = 0;
  const spanIds = new RandomIds((bytes) => (fills++ === 0 ? bytes.fill(0) : randomFillSync(bytes)));
  assert.notEqual(spanIds.spanId(), '0'.repeat(16));
});
