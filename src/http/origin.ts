/**
 * DNS-rebinding defence, as a pure check: a server bound to a loopback address answers only requests
 * whose Host (and Origin, when the browser sends one) names a loopback host. The MCP transport spec
 * asks servers to validate Origin; a rebinding page reaches 127.0.0.1 under a foreign Host.
 */
const loopbackNames = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackAddress(host: string): boolean {
  return loopbackNames.has(host) || host.startsWith('127.');
}

/** The host part of a Host header value or an origin's authority, without the port. */
function hostnameOf(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1).toLowerCase();
  const colon = authority.indexOf(':');
  return (colon === -1 ? authority : authority.slice(0, colon)).toLowerCase();
}

export type HostVerdict = { ok: true } | { ok: false; reason: string };

export function checkLoopbackHostAndOrigin(
  host: string | undefined,
  origin: string | undefined,
): HostVerdict {
  if (host === undefined || !isLoopbackAddress(hostnameOf(host))) {
    return { ok: false, reason: `Host ${JSON.stringify(host ?? '')} is not a loopback name` };
  }
  if (origin === undefined) return { ok: true };
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return { ok: false, reason: 'Origin is not a URL' };
  }
  if (!isLoopbackAddress(hostnameOf(originHost))) {
    return { ok: false, reason: `Origin ${JSON.stringify(origin)} is not a loopback origin` };
  }
  return { ok: true };
}
