import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { options } from '../../src/config/options.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const docs = join(repo, 'docs');

it('the config reference lists every key with its environment variable and flag', () => {
  const reference = readFileSync(join(docs, 'configuration.md'), 'utf8');
  for (const o of options) {
    const row = reference
      .split('\n')
      .find((line) => line.startsWith('|') && line.split('|')[1]?.trim() === `\`${o.key}\``);
    assert.ok(row, `docs/configuration.md has a row for ${o.key}`);
    assert.ok(row.includes(`\`${o.env}\``), `${o.key} row names ${o.env}`);
    assert.ok(row.includes(`\`--${o.flag}\``), `${o.key} row names --${o.flag}`);
  }
});

it('the README is a front page of at most 20 KB', () => {
  const size = statSync(join(repo, 'README.md')).size;
  assert.ok(size <= 20 * 1024, `README.md is ${size} bytes`);
});

it('every topic has its page in docs/, and the README links each', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const topics = [
    'endpoint-and-errors',
    'tools',
    'gateway',
    'security',
    'telemetry',
    'sampling',
    'configuration',
    'operations',
    'observability-stack',
    'performance',
    'load-tests-and-perf-gate',
    'architecture',
  ];
  for (const topic of topics) {
    assert.ok(existsSync(join(docs, `${topic}.md`)), `docs/${topic}.md exists`);
    assert.ok(readme.includes(`](docs/${topic}.md)`), `the README links docs/${topic}.md`);
  }
  assert.ok(readme.includes('](CONTRIBUTING.md)'), 'the README links CONTRIBUTING.md');
});

it('every relative link in the README, CONTRIBUTING.md and docs/ points at a file that exists', () => {
  const pages = [
    'README.md',
    'CONTRIBUTING.md',
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  for (const page of pages) {
    const text = readFileSync(join(repo, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:/.test(target) || target.startsWith('#')) continue;
      const path = join(repo, dirname(page), target.split('#')[0] as string);
      assert.ok(existsSync(path), `${page} links ${target}, which does not exist`);
    }
  }
});
