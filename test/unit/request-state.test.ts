import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { eraOf } from '../../src/mcp/era.ts';
import { RequestStates, type StateBinding } from '../../src/mcp/request-state.ts';

const binding: StateBinding = {
  method: 'tools/call',
  name: 'deploy',
  args: { env: 'prod' },
  principal: 'alice',
};
const answers = { confirm: { action: 'accept', content: { ok: true } } };

describe('requestState sealing', () => {
  it('opens what it sealed for the same request', () => {
    const states = new RequestStates([randomBytes(32)], 60);
    assert.deepEqual(states.open(states.seal(binding, answers), binding), answers);
  });

  it("carries an upstream's own requestState beside the answers, sealed with them", () => {
    const states = new RequestStates([randomBytes(32)], 60);
    const sealed = states.seal(binding, answers, 'upstream-state');
    assert.deepEqual(states.openState(sealed, binding), { answers, relayed: 'upstream-state' });
    assert.equal(sealed.includes('upstream-state'), false);
    assert.equal(states.openState(states.seal(binding, answers), binding)?.relayed, undefined);
    assert.equal(states.openState(sealed, { ...binding, name: 'other' }), undefined);
  });

  it('refuses a state whose bytes were changed', () => {
    const states = new RequestStates([randomBytes(32)], 60);
    const sealed = states.seal(binding, answers);
    const flipped = `${sealed.slice(0, 20)}${sealed[20] === 'A' ? 'B' : 'A'}${sealed.slice(21)}`;
    assert.equal(states.open(flipped, binding), undefined);
    assert.equal(states.open(`${sealed}-TAMPERED`, binding), undefined);
    assert.equal(states.open('not a state', binding), undefined);
  });

  it('refuses a state presented for another tool, other arguments or another caller', () => {
    const states = new RequestStates([randomBytes(32)], 60);
    const sealed = states.seal(binding, answers);
    for (const other of [
      { ...binding, name: 'delete' },
      { ...binding, args: { env: 'dev' } },
      { ...binding, principal: 'mallory' },
      { ...binding, method: 'prompts/get' },
    ]) {
      assert.equal(states.open(sealed, other), undefined, JSON.stringify(other));
    }
  });

  it('refuses an expired state', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const states = new RequestStates([randomBytes(32)], 60);
    const sealed = states.seal(binding, answers);
    t.mock.timers.tick(61_000);
    assert.equal(states.open(sealed, binding), undefined);
  });

  it('opens states sealed under any of its keys, so replicas and key rotation agree', () => {
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const sealed = new RequestStates([oldKey], 60).seal(binding, answers);
    assert.deepEqual(new RequestStates([newKey, oldKey], 60).open(sealed, binding), answers);
    assert.equal(new RequestStates([newKey], 60).open(sealed, binding), undefined);
  });
});

describe('era routing', () => {
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };
  const call = (params: object) => ({ jsonrpc: '2.0', id: 1, method: 'tools/list', params });

  it('routes 2026-07-28 by header or by envelope, everything else to the legacy path', () => {
    assert.equal(eraOf(call({}), '2026-07-28'), 'modern');
    assert.equal(eraOf(call({ _meta: meta }), undefined), 'modern');
    assert.equal(eraOf(call({ _meta: meta }), 'v999'), 'modern');
    assert.equal(eraOf(call({}), '2025-11-25'), 'legacy');
    assert.equal(eraOf(call({}), undefined), 'legacy');
    assert.equal(eraOf(call({ _meta: { progressToken: 1 } }), '2025-06-18'), 'legacy');
    assert.equal(eraOf([call({ _meta: meta })], undefined), 'legacy');
  });
});
