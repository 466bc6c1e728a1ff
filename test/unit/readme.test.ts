import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { options } from '../../src/config/options.ts';

it('the README config reference lists every key with its environment variable and flag', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const o of options) {
    const row = readme
      .split('\n')
      .find((line) => line.startsWith('|') && line.split('|')[1]?.trim() === `\`${o.key}\``);
    assert.ok(row, `README has a row for ${o.key}`);
    assert.ok(row.includes(`\`${o.env}\``), `${o.key} row names ${o.env}`);
    assert.ok(row.includes(`\`--${o.flag}\``), `${o.key} row names --${o.flag}`);
  }
});
