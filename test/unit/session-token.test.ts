import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { SessionTokens } from '../../src/mcp/session-token.ts';

const claims = {
  protocolVersion: '2025-11-25',
  clientCapabilities: { sampling: {} },
  clientInfo: { name: 'c', version: '1' },
  createdAt: 1,
};

it('round-trips claims and refuses tampered, foreign and garbage ids', () => {
  const key = randomBytes(32);
  const tokens = new SessionTokens([key]);
  const id = tokens.issue(claims);
  assert.match(id, /^v1\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(tokens.open(id), claims);
  const flipped = `${id.slice(0, 20)}${id[20] === 'A' ? 'B' : 'A'}${id.slice(21)}`;
  assert.equal(tokens.open(flipped), undefined);
  assert.equal(new SessionTokens([randomBytes(32)]).open(id), undefined, 'another deployment cannot open it');
  for (const garbage of ['', 'v1.', 'v1.abc', 'nope', '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d'])
    assert.equal(tokens.open(garbage), undefined);
  assert.notEqual(tokens.issue(claims), id, 'every id is different');
});

it('rotates keys: the first key issues, every key opens', () => {
  const old = randomBytes(32);
  const fresh = randomBytes(32);
  const before = new SessionTokens([old]).issue(claims);
  const rotated = new SessionTokens([fresh, old]);
  assert.deepEqual(rotated.open(before), claims);
  assert.equal(new SessionTokens([old]).open(rotated.issue(claims)), undefined);
});
