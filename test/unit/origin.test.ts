import assert from 'node:assert/strict';
import { it } from 'node:test';
import { checkLoopbackHostAndOrigin } from '../../src/http/origin.ts';

it('accepts loopback hosts and origins, with or without a port', () => {
  for (const host of ['localhost', 'localhost:8787', '127.0.0.1:1', '[::1]:8787', 'LOCALHOST']) {
    assert.deepEqual(checkLoopbackHostAndOrigin(host, undefined), { ok: true }, host);
  }
  assert.deepEqual(checkLoopbackHostAndOrigin('localhost:8787', 'http://127.0.0.1:3000'), { ok: true });
});

it('refuses foreign hosts and origins (DNS rebinding)', () => {
  for (const [host, origin] of [
    ['evil.example.com', undefined],
    ['localhost.evil.example.com', undefined],
    [undefined, undefined],
    ['localhost:8787', 'https://evil.example.com'],
    ['localhost:8787', 'null'],
  ] as const) {
    assert.equal(checkLoopbackHostAndOrigin(host, origin).ok, false, `${host} ${origin}`);
  }
});
