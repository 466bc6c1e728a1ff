import assert from 'node:assert/strict';
import { it } from 'node:test';
import { checkHostAndOrigin, type HostPolicy } from '../../src/http/origin.ts';

const loopback: HostPolicy = { loopbackOnly: true, allowedHosts: [], allowedOrigins: [] };

it('on a loopback bind: accepts loopback hosts and origins, with or without a port', () => {
  for (const host of ['localhost', 'localhost:8787', '127.0.0.1:1', '[::1]:8787', 'LOCALHOST']) {
    assert.deepEqual(checkHostAndOrigin(host, undefined, loopback), { ok: true }, host);
  }
  assert.deepEqual(checkHostAndOrigin('localhost:8787', 'http://127.0.0.1:3000', loopback), { ok: true });
});

it('on a loopback bind: refuses foreign hosts and origins (DNS rebinding)', () => {
  for (const [host, origin] of [
    ['evil.example.com', undefined],
    ['localhost.evil.example.com', undefined],
    ['127.0.0.1.evil.example:8787', undefined],
    ['localhost:8787', 'http://127.0.0.1.nip.io:8787'],
    [undefined, undefined],
    ['localhost:8787', 'https://evil.example.com'],
    ['localhost:8787', 'null'],
  ] as const) {
    assert.equal(checkHostAndOrigin(host, origin, loopback).ok, false, `${host} ${origin}`);
  }
});

it('allow-lists widen a loopback bind and restrict any other', () => {
  const tunnel: HostPolicy = {
    loopbackOnly: true,
    allowedHosts: ['mcp.example.com'],
    allowedOrigins: ['https://app.example.com'],
  };
  assert.equal(checkHostAndOrigin('mcp.example.com', 'https://app.example.com', tunnel).ok, true);
  assert.equal(checkHostAndOrigin('mcp.example.com', 'https://other.example.com', tunnel).ok, false);
  const open: HostPolicy = { loopbackOnly: false, allowedHosts: [], allowedOrigins: [] };
  assert.equal(checkHostAndOrigin('anything.example', undefined, open).ok, true);
  // Without an allow-list, only the server's own origin: MCP requires refusing an invalid Origin.
  assert.equal(checkHostAndOrigin('anything.example', 'https://anything.example', open).ok, true);
  assert.equal(checkHostAndOrigin('anything.example:8787', 'http://anything.example:8787', open).ok, true);
  assert.equal(checkHostAndOrigin('anything.example', 'https://anywhere.example', open).ok, false);
  assert.equal(checkHostAndOrigin('anything.example:8787', 'http://anything.example:9999', open).ok, false);
  const listed: HostPolicy = {
    loopbackOnly: false,
    allowedHosts: ['mcp.example.com:443'],
    allowedOrigins: ['https://app.example.com'],
  };
  assert.equal(checkHostAndOrigin('mcp.example.com:443', undefined, listed).ok, true);
  assert.equal(checkHostAndOrigin('10.0.0.5:8787', undefined, listed).ok, false);
  assert.equal(checkHostAndOrigin('mcp.example.com', 'https://evil.example', listed).ok, false);
});
