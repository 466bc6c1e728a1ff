import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { knownEnvironmentVariables, unknownEnvironmentWarnings } from '../../src/config/environment.ts';
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

describe('upstream locks and cache', () => {
  const load = (upstream: Record<string, unknown>) => {
    const configPath = join(mkdtempSync(join(tmpdir(), 'lookout-config-')), 'lookout.json');
    writeFileSync(
      configPath,
      JSON.stringify({ upstreams: [{ name: 'u', transport: 'stdio', command: 'srv', ...upstream }] }),
    );
    return loadConfig({ env: {}, configPath });
  };

  it('are off but for the upstream’s own cache hints by default', () => {
    const result = load({});
    assert.ok(result.ok);
    const [upstream] = result.config.upstreams;
    assert.deepEqual(upstream?.locks, { exclusive: false, tools: {}, waitSeconds: 30, maxHoldSeconds: 300 });
    assert.deepEqual(upstream?.cache, { ttlSeconds: 0, maxEntries: 1000, maxBytes: 16 * 1024 * 1024 });
  });

  it('name each bad key', () => {
    const result = load({
      locks: { tools: { write: '' }, waitSeconds: 0 },
      cache: { maxEntries: -1, ttl: 5 },
    });
    assert.ok(!result.ok);
    const errors = result.errors.join('\n');
    for (const key of [
      'upstreams.0.locks.tools.write',
      'upstreams.0.locks.waitSeconds',
      'upstreams.0.cache.maxEntries',
    ]) {
      assert.match(errors, new RegExp(`^${key.replaceAll('.', '\\.')}: `, 'm'), errors);
    }
    assert.match(errors, /ttl/, 'an unknown key is named');
  });
});

describe('unknown LOOKOUT_* variables', () => {
  it('names none of the variables Lookout reads, nor other prefixes', () => {
    const env = Object.fromEntries(knownEnvironmentVariables.map((name) => [name, 'x']));
    assert.deepEqual(unknownEnvironmentWarnings({ ...env, OTEL_SERVICE_NAME: 'x', LOOKOUTX: 'x' }), []);
  });

  it('names each unknown one, in order, with the closest known variable', () => {
    assert.deepEqual(unknownEnvironmentWarnings({ LOOKOUT_PROT: '1', LOOKOUT_LOGLEVEL: 'debug' }), [
      'LOOKOUT_LOGLEVEL is not a Lookout setting and is ignored; did you mean LOOKOUT_LOG_LEVEL?',
      'LOOKOUT_PROT is not a Lookout setting and is ignored; did you mean LOOKOUT_PORT?',
    ]);
  });

  it('are warnings of a config that loads', () => {
    const result = loadConfig({ env: { LOOKOUT_MAX_SESION: '5', LOOKOUT_PORT: '9000' } });
    assert.ok(result.ok);
    assert.equal(result.config.port, 9000);
    assert.deepEqual(result.warnings, [
      'LOOKOUT_MAX_SESION is not a Lookout setting and is ignored; did you mean LOOKOUT_MAX_SESSIONS?',
    ]);
  });
});
