import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CanonicalStrings } from '../../src/telemetry/canonical-strings.ts';

it('hands back the value itself, whatever a property key would make of it', () => {
  const strings = new CanonicalStrings();
  for (const value of ['tools/call', '2026-07-28', '__proto__', '1', '007', 'größe', '', 'constructor']) {
    assert.equal(strings.of(value), value);
    assert.equal(strings.of(value), value, 'and the same the second time');
  }
});

it('makes span names of a method and a target, once and past its limit alike', () => {
  const strings = new CanonicalStrings(2);
  assert.equal(strings.spanName('tools/call', 'echo'), 'tools/call echo');
  assert.equal(strings.spanName('tools/call', 'echo'), 'tools/call echo');
  assert.equal(strings.spanName('prompts/get', '__proto__'), 'prompts/get __proto__');
  assert.equal(strings.spanName('tools/call', 'add'), 'tools/call add', 'past the limit');
  assert.equal(strings.of('past'), 'past');
});
