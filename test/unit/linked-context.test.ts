import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createContextKey, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { LinkedContext } from '../../src/telemetry/linked-context.ts';

const a = createContextKey('test.a');
const b = createContextKey('test.b');
const c = createContextKey('test.c');

describe('LinkedContext', () => {
  it('reads what the API context reads after the same sets and deletes', () => {
    const base = ROOT_CONTEXT.setValue(a, 'base-a').setValue(c, 'base-c');
    const steps: ((ctx: ReturnType<typeof LinkedContext.over>) => typeof ctx)[] = [
      (ctx) => ctx.setValue(b, 1),
      (ctx) => ctx.setValue(a, 'shadowed'),
      (ctx) => ctx.deleteValue(c),
      (ctx) => ctx.setValue(c, undefined),
      (ctx) => ctx.setValue(c, 'again'),
      (ctx) => ctx.deleteValue(a),
    ];
    let linked = LinkedContext.over(base);
    let plain = base;
    for (const step of steps) {
      linked = step(linked);
      plain = step(plain);
      for (const key of [a, b, c]) assert.equal(linked.getValue(key), plain.getValue(key), String(key));
      assert.ok(linked instanceof LinkedContext, 'a context made from a linked one is linked');
    }
  });

  it('leaves the context it was made from unchanged, and carries a span as trace.setSpan sets it', () => {
    const root = LinkedContext.over(ROOT_CONTEXT);
    const span = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    const withSpan = trace.setSpan(root, span);
    assert.equal(trace.getSpan(withSpan), span);
    assert.equal(trace.getSpan(root), undefined);
    assert.equal(LinkedContext.over(withSpan), withSpan, 'a linked context is not wrapped again');
  });
});
