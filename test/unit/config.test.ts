import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, maskSecrets } from '../../src/config/load.ts';

describe('config loading', () => {
  it('gives the documented defaults with no input', () => {
    const result = loadConfig({ env: {} });
    assert.ok(result.ok);
    assert.equal(result.config.host, '127.0.0.1');
    assert.equal(result.config.port, 8787);
    assert.equal(result.config.mcp.stateless, false);
    assert.ok(Object.isFrozen(result.config.mcp), 'config is frozen');
  });

  it('reads booleans and lists from the environment', () => {
    const result = loadConfig({
      env: { LOOKOUT_STATELESS: 'true', LOOKOUT_TOOLS: './a.js, /b.js' },
      cwd: '/srv',
    });
    assert.ok(result.ok);
    assert.equal(result.config.mcp.stateless, true);
    assert.deepEqual(result.config.tools, ['/srv/a.js', '/b.js']);
  });

  it('names the flag a bad value came from', () => {
    const result = loadConfig({ env: {}, flags: { 'mcp.stateless': 'maybe' } });
    assert.ok(!result.ok);
    assert.match(
      result.errors[0] as string,
      /^mcp\.stateless: .*"maybe".*flag --stateless.*expected true or false/,
    );
  });

  it('masks secrets by key name', () => {
    const masked = maskSecrets({ headers: { authorization: 'Bearer x', accept: 'a' }, apiKey: 'k', port: 1 });
    assert.deepEqual(masked, { headers: { authorization: '***', accept: 'a' }, apiKey: '***', port: 1 });
  });
});
