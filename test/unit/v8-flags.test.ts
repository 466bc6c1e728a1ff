import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runtimeV8Flags } from '../../src/cli/v8-flags.ts';

describe('V8 flags set at start-up', () => {
  it('turns allocation-site pretenuring off', () => {
    assert.deepEqual(runtimeV8Flags([]), ['--no-allocation-site-pretenuring']);
    assert.deepEqual(runtimeV8Flags(['--single-threaded-gc', '--inspect']), [
      '--no-allocation-site-pretenuring',
    ]);
  });

  it("leaves it to node's command line when that chose, in either spelling", () => {
    for (const chosen of [
      '--allocation-site-pretenuring',
      '--no-allocation-site-pretenuring',
      '--no-allocation_site_pretenuring',
    ]) {
      assert.deepEqual(runtimeV8Flags(['--single-threaded-gc', chosen]), [], chosen);
    }
  });
});
