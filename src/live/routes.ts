import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import express, { type Router } from 'express';
import { adminGuard, checkAccess, liveAccess, tokenCookie } from '../http/admin-access.ts';
import type { Authenticator } from '../http/auth.ts';
import { replyError } from '../http/reply.ts';
import type { Health } from '../lifecycle/health.ts';
import type { Logger } from '../logging/logger.ts';
import type { LogRing } from '../logging/ring.ts';
import { nameHttpRoute } from '../telemetry/http-route.ts';
import type { LiveTelemetry } from '../telemetry/live-telemetry.ts';
import type { UpstreamStatus } from '../upstreams/upstream-types.ts';
import { Snapshots } from './snapshot.ts';
import { SpanRing } from './span-ring.ts';
import { LiveStream } from './stream.ts';

export interface LiveViewOptions {
  readonly listenerIsLoopback: boolean;
  readonly authenticator: Authenticator;
  readonly logger: Logger;
  readonly logRing: LogRing;
  readonly health: Health;
  readonly upstreams: () => readonly UpstreamStatus[];
  /** Absent when telemetry does not run (library use, OTEL_SDK_DISABLED): no plots, spans or sampling then. */
  readonly telemetry: LiveTelemetry | undefined;
  readonly sampling: () => unknown;
  /** Jaeger's UI, for a link from a trace to it. */
  readonly jaegerUrl: string | undefined;
}

export interface LiveView {
  readonly router: Router;
  readonly stream: LiveStream;
  close(): void;
}

const keptSpans = 4096;
const windowSeconds = 60;
const tickMs = 1000;
const traceIdPattern = /^[0-9a-f]{32}$/;

const contentTypes = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
type Asset = { readonly body: Buffer; readonly type: string };

/** The page and its script and styles, from this folder; uPlot from its package. Read once, served from memory. */
function loadAssets(): Map<string, Asset> {
  const own = (file: string) => readFileSync(new URL(`./assets/${file}`, import.meta.url));
  const require = createRequire(import.meta.url);
  const uplot = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`));
  return new Map([
    ['/', { body: own('index.html'), type: contentTypes.html }],
    ['/live/app.js', { body: own('app.js'), type: contentTypes.js }],
    ['/live/app.css', { body: own('app.css'), type: contentTypes.css }],
    ['/live/uplot.js', { body: uplot('uPlot.iife.min.js'), type: contentTypes.js }],
    ['/live/uplot.css', { body: uplot('uPlot.min.css'), type: contentTypes.css }],
  ]);
}

const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * The live view: a page at `/` showing Lookout's calls, traces, upstreams and sampling as they happen.
 * Undefined where it is off (a non-loopback listener without auth).
 */
export function createLiveView(options: LiveViewOptions): LiveView | undefined {
  const access = liveAccess(options.listenerIsLoopback, options.authenticator.enabled);
  if (access === 'off') return undefined;
  const spans = new SpanRing(keptSpans);
  const snapshots = new Snapshots(
    {
      telemetry: options.telemetry,
      sampling: options.sampling,
      upstreams: options.upstreams,
      health: options.health,
      spans,
    },
    windowSeconds,
  );
  // Kept spans go to the ring only while a page is open: unwatched, a span costs the live view nothing.
  const stream = new LiveStream(snapshots, tickMs, options.logger, {
    started: () => options.telemetry?.observeKeptSpans(spans),
    stopped: () => {
      options.telemetry?.observeKeptSpans(undefined);
      spans.clear();
    },
  });
  const assets = loadAssets();
  const router = express.Router();

  const guard = adminGuard(access, options.authenticator);

  // A browser cannot send a bearer header with a page load: `/?access_token=…` checks the token once,
  // keeps it in an HttpOnly cookie for the page's own requests, and drops it from the address bar.
  router.get('/', async (req, res, next) => {
    nameHttpRoute('/');
    const token = req.query.access_token;
    if (access !== 'admin' || typeof token !== 'string') return next();
    const verdict = await checkAccess(access, options.authenticator, `Bearer ${token}`);
    if (!verdict.ok) return next();
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true ? '; Secure' : '';
    res
      .status(303)
      .set({
        location: '/',
        'set-cookie': `${tokenCookie}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${secure}`,
        'cache-control': 'no-store',
      })
      .end();
  });

  for (const [path, asset] of assets) {
    router.get(path, guard, (_req, res) => {
      nameHttpRoute(path);
      res
        .status(200)
        .set({ ...securityHeaders, 'content-type': asset.type })
        .send(asset.body);
    });
  }

  router.get('/live/events', guard, (req, res) => {
    nameHttpRoute('/live/events');
    if (stream.full) {
      replyError(res, 'OVERLOADED', {
        detail: 'too many live view pages open',
        headers: { 'retry-after': 5 },
      });
      return;
    }
    stream.add(res);
    req.socket.setNoDelay(true);
  });

  // The id goes in the query: a path per trace would be a sampling key per trace.
  router.get('/live/trace', guard, (req, res) => {
    nameHttpRoute('/live/trace');
    const traceId = String(req.query.id ?? '');
    if (!traceIdPattern.test(traceId)) {
      res.status(400).set(securityHeaders).json({ error: 'a trace id is 32 lowercase hex digits' });
      return;
    }
    const jaeger = options.jaegerUrl?.replace(/\/+$/, '');
    res
      .status(200)
      .set(securityHeaders)
      .json({
        traceId,
        spans: spans.trace(traceId),
        logs: options.logRing.query({ traceId, limit: 200 }).reverse(),
        ...(jaeger !== undefined && { jaegerUrl: `${jaeger}/trace/${traceId}` }),
      });
  });

  return { router, stream, close: () => stream.close() };
}
