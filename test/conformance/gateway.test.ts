import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Lookout } from '../../src/main.ts';
import { startTestLookout, upstreamsReady } from '../support/lookout.ts';
import { runRequirements, warmUp } from './harness.ts';

const fixtureUpstream = fileURLToPath(new URL('fixture-upstream.ts', import.meta.url));

/** The fixture served over HTTP by a second process: its URL once it listens. */
async function httpFixture(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fixtureUpstream, '--http'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const found = out.match(/^listening (\S+)$/m);
      if (found?.[1]) resolve(found[1]);
    });
    child.once('exit', (code) => reject(new Error(`fixture upstream exited (${code}) before listening`)));
  });
  return { child, url };
}

/** The gateway speaks 2025 (`era: legacy`) and 2026-07-28 (`era: modern`) to the fixture, over stdio and HTTP. */
const upstreams = [
  { transport: 'stdio', era: 'legacy' },
  { transport: 'http', era: 'legacy' },
  { transport: 'stdio', era: 'modern' },
  { transport: 'http', era: 'modern' },
] as const;

for (const { transport, era } of upstreams) {
  describe(`conformance through the gateway, the fixture upstream over ${transport} (${era})`, () => {
    let fixture: ChildProcess | undefined;
    let lookout: Lookout;

    before(async () => {
      const upstream =
        transport === 'stdio'
          ? { transport, command: process.execPath, args: [fixtureUpstream, '--stdio'] }
          : await httpFixture().then(({ child, url }) => {
              fixture = child;
              return { transport, url };
            });
      lookout = await startTestLookout({
        upstreams: [{ name: 'fixture', prefix: false, era, health: { intervalSeconds: 0 }, ...upstream }],
        // The upstream's own built-in tools clash with Lookout's: the warning says so, and is expected.
        log: { level: 'error', format: 'json' },
      });
      await upstreamsReady(lookout, 60_000);
      await warmUp(lookout.url);
    });
    after(async () => {
      await lookout?.close();
      if (fixture) {
        fixture.stdin?.end();
        await once(fixture, 'exit');
      }
    });

    it(`speaks ${era === 'modern' ? '2026-07-28' : '2025-11-25'} to the upstream, as the live view shows`, async () => {
      const res = await fetch(new URL('/live/events', lookout.url));
      const reader = res.body?.getReader();
      const first = new TextDecoder().decode((await reader?.read())?.value);
      await reader?.cancel();
      const snapshot = JSON.parse(first.split('\n')[1]?.slice('data: '.length) ?? '') as {
        upstreams: { protocolVersion?: string }[];
      };
      assert.equal(snapshot.upstreams[0]?.protocolVersion, era === 'modern' ? '2026-07-28' : '2025-11-25');
    });

    for (const revision of ['2026-07-28', '2025-11-25']) {
      const baseline = `baseline-gateway-${transport}${era === 'modern' ? '-modern' : ''}-${revision}.yml`;
      it(`runs every server scenario conformance requires for ${revision}, against ${baseline}`, {
        timeout: 300_000,
      }, async () => {
        const { code, output } = await runRequirements(lookout.url, revision, baseline);
        const summary = output.match(/Total: (\d+) passed, (\d+) failed/);
        process.stdout.write(
          `conformance ${revision} through the gateway (${transport}, ${era}): ${summary?.[0]}\n`,
        );
        assert.ok(summary, output);
        assert.ok(Number(summary[1]) >= 70, `at least one check per required scenario:\n${output}`);
        // Exit 0: every failure is one the baseline names (with its reason), and every one it names fails.
        assert.equal(code, 0, output);
      });
    }
  });
}
