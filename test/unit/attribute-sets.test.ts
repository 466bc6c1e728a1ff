import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AttributeSets } from '../../src/telemetry/attribute-sets.ts';

it('builds a set once per combination of parts and hands out that one, frozen', () => {
  let built = 0;
  const sets = new AttributeSets((a, b, c, d) => {
    built++;
    return { a, b, c, ...(d !== undefined && { d }) };
  });
  const first = sets.get('tools/call', 'echo', 200, undefined);
  assert.equal(sets.get('tools/call', 'echo', 200, undefined), first);
  assert.deepEqual(first, { a: 'tools/call', b: 'echo', c: 200 });
  assert.ok(Object.isFrozen(first));
  const failed = sets.get('tools/call', 'echo', 200, '-32602');
  assert.notEqual(failed, first);
  assert.deepEqual(failed, { a: 'tools/call', b: 'echo', c: 200, d: '-32602' });
  assert.equal(sets.get('tools/call', 'echo', 200, '-32602'), failed);
  assert.equal(built, 2);
});

it('past its limit, builds new combinations per call instead of keeping them', () => {
  const sets = new AttributeSets((a) => ({ a }), 2);
  const kept = sets.get('one', undefined, undefined, undefined);
  sets.get('two', undefined, undefined, undefined);
  const third = sets.get('three', undefined, undefined, undefined);
  assert.deepEqual(third, { a: 'three' });
  assert.notEqual(sets.get('three', undefined, undefined, undefined), third, 'not kept');
  assert.equal(sets.get('one', undefined, undefined, undefined), kept, 'the kept ones still are');
});
