/**
 * The live view in a real browser: Debian's headless Chromium (`npm run tools` installs it) driven by
 * puppeteer-core, against a real `lookout` process with an upstream over HTTP. Screenshots of the views
 * go to test/artifacts/live-view/ (or $LOOKOUT_ARTIFACTS), for a person to look at.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { freePort } from '../../support/ports.ts';
import { toolPath } from '../../support/tools.ts';
import { connectClient } from '../support/lookout.ts';
import { type LookoutProcess, spawnLookout } from '../support/process.ts';
import { repo } from '../support/stack.ts';

const artifacts = process.env.LOOKOUT_ARTIFACTS ?? join(repo, 'test/artifacts/live-view');
const fixture = join(repo, 'test/fixtures/upstream-server.ts');
const jaegerUrl = 'http://jaeger.invalid:16686';

describe('the live view in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-live-'));
  let upstream: ChildProcess;
  let lookout: LookoutProcess;
  let browser: Browser;
  let page: Page;
  let client: Client;
  let base: string;
  const consoleErrors: string[] = [];

  before(async () => {
    const chromium = toolPath('chromium');
    mkdirSync(artifacts, { recursive: true });
    const upstreamPort = await freePort();
    upstream = spawn(process.execPath, [fixture, '--http', String(upstreamPort)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      upstream.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('listening')) resolve();
      });
      upstream.once('exit', (code) => reject(new Error(`upstream exited (${code}): ${stderr}`)));
    });
    const config = join(dir, 'lookout.json');
    writeFileSync(
      config,
      JSON.stringify({
        upstreams: [{ name: 'fx', transport: 'http', url: `http://127.0.0.1:${upstreamPort}/mcp` }],
        live: { jaegerUrl },
      }),
    );
    lookout = await spawnLookout(['--config', config], {}, { killAfterMs: 120_000 });
    base = new URL(lookout.url).origin;
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      // CI runs as root in a container, where Chromium's sandbox cannot start.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${(error as Error).message}`));
    page.on('requestfailed', (request) => {
      // The event stream is aborted when the page closes; anything else failing is a defect.
      if (!request.url().endsWith('/live/events')) consoleErrors.push(`request failed: ${request.url()}`);
    });
    client = await connectClient(lookout.url, 'live-view-test');
  });

  after(async () => {
    await client?.close();
    await browser?.close();
    await lookout?.stop();
    upstream?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const showView = async (name: string) => {
    await page.click(`nav button[data-view="${name}"]`);
    await page.waitForSelector(`#view-${name}.active`);
  };
  /** A table's rows as the texts of their cells. */
  const tableRows = (table: string) =>
    page.$$eval(`${table} tbody tr`, (rows) =>
      rows.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
  /** Waits, polling in the page, until a row of the table contains the text. */
  const rowAppears = (table: string, text: string, timeout: number) =>
    page.waitForFunction(
      `[...document.querySelectorAll(${JSON.stringify(`${table} tbody tr`)})].some((tr) => tr.textContent.includes(${JSON.stringify(text)}))`,
      { timeout, polling: 50 },
    );

  it('loads with no console error and shows the upstream as ready, 2025-era', {
    timeout: 30_000,
  }, async () => {
    const response = await page.goto(`${base}/`, { waitUntil: 'load' });
    assert.equal(response?.status(), 200);
    await page.waitForFunction("document.querySelector('#status').textContent.startsWith('ready')", {
      timeout: 10_000,
    });
    await showView('upstreams');
    await rowAppears('#upstreams', 'fx', 5_000);
    const [row] = await tableRows('#upstreams');
    assert.ok(row);
    assert.equal(row[0], 'fx');
    assert.equal(row[2], 'ready');
    assert.match(row[3] ?? '', /^\d{4}-\d{2}-\d{2} \(2025-era\)$/);
    assert.equal(row[4], '9', 'the fixture serves nine tools');
    assert.deepEqual(consoleErrors, []);
  });

  it('shows a call made by a client within 2 s, and opens its span tree with the upstream hop', {
    timeout: 30_000,
  }, async () => {
    await showView('calls');
    const result = await client.callTool({ name: 'fx__log_something', arguments: {} });
    assert.equal(result.isError, undefined);
    const answeredAt = Date.now();
    await rowAppears('#calls', 'fx__log_something', 2_000);
    const seenAfterMs = Date.now() - answeredAt;
    assert.ok(seenAfterMs <= 2_000, `the call appeared after ${seenAfterMs} ms`);
    await page.screenshot({ path: join(artifacts, '2-recent-calls.png') });

    const rows = await page.$$('#calls tbody tr');
    const texts = await tableRows('#calls');
    const index = texts.findIndex((cells) => cells[3] === 'fx__log_something');
    await rows[index]?.click();
    await page.waitForSelector('#trace:not([hidden]) .span-row', { timeout: 5_000 });
    const spans = await page.$$eval('.span-row', (spanRows) =>
      spanRows.map((r) => `${r.getAttribute('data-kind')} ${r.getAttribute('data-name')}`),
    );
    assert.deepEqual(spans, [
      'SERVER POST /mcp',
      'SERVER tools/call fx__log_something',
      // The upstream hop: the MCP client call and the HTTP request that carried it.
      'CLIENT tools/call log_something',
      'CLIENT POST',
    ]);
    const logs = (await tableRows('#logs')).map((cells) => cells.join(' '));
    assert.ok(
      logs.some((line) => line.includes('upstream log')),
      logs.join('\n'),
    );
    const jaeger = await page.$eval('#jaeger a', (a) => a.getAttribute('href'));
    assert.match(jaeger ?? '', /^http:\/\/jaeger\.invalid:16686\/trace\/[0-9a-f]{32}$/);
    await page.click('.span-row[data-kind="CLIENT"]');
    await page.waitForSelector('#span-detail:not([hidden])');
    await page.screenshot({ path: join(artifacts, '3-trace.png') });
    assert.deepEqual(consoleErrors, []);
  });

  it('plots calls per second, latency quantiles and error share per method and tool', {
    timeout: 30_000,
  }, async () => {
    for (let i = 0; i < 20; i++) await client.callTool({ name: 'fx__report_meta', arguments: {} });
    await client.callTool({ name: 'fx__fail', arguments: {} });
    await showView('operations');
    await page.waitForFunction(
      `[...document.querySelectorAll('#operations tbody tr')].some((tr) => tr.cells[1].textContent === 'fx__report_meta' && Number(tr.cells[3].textContent) >= 20)`,
      { timeout: 5_000 },
    );
    // More samples, for the plots to draw lines.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(await page.$$eval('.charts canvas', (canvases) => canvases.length), 4);
    // The latency chart follows the busiest method and tool, with a line per quantile.
    assert.equal(await page.$eval('#latency-key', (span) => span.textContent), 'tools/call fx__report_meta');
    const quantiles = await page.$$eval('#chart-latency .u-legend .u-series .u-label', (labels) =>
      labels.map((l) => l.textContent),
    );
    assert.deepEqual(quantiles.slice(-3), ['p50', 'p95', 'p99']);
    const failing = (await tableRows('#operations')).find((cells) => cells[1] === 'fx__fail');
    assert.equal(failing?.[4], '100.0 %');
    await page.screenshot({ path: join(artifacts, '1-operations.png') });
    await showView('upstreams');
    await page.waitForFunction(
      `[...document.querySelectorAll('#sampling tbody tr')].some((tr) => tr.cells[0].textContent === 'tools/call fx__report_meta' && Number(tr.cells[4].textContent) > 0)`,
      { timeout: 5_000 },
    );
    await page.screenshot({ path: join(artifacts, '4-upstreams-sampling.png') });
    assert.deepEqual(consoleErrors, []);
  });
});
