/**
 * DNS-rebinding defence, as a pure check. On a loopback bind only loopback Host names (and configured
 * ones) are answered, and an Origin must be a loopback origin (or a configured one): a rebinding page
 * reaches 127.0.0.1 under a foreign Host and Origin. On other binds the configured allow-lists apply.
 */
import { isIPv4 } from 'node:net';

const loopbackNames = new Set(['localhost', '[::1]', '::1']);

/** localhost, ::1, or an IPv4 address in 127.0.0.0/8 — exactly: `127.0.0.1.evil.example` is a DNS name. */
export function isLoopbackAddress(host: string): boolean {
  return loopbackNames.has(host) || (isIPv4(host) && host.startsWith('127.'));
}

/** The host part of a Host header value or an origin's authority, without the port. */
function hostnameOf(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1).toLowerCase();
  const colon = authority.indexOf(':');
  return (colon === -1 ? authority : authority.slice(0, colon)).toLowerCase();
}

export interface HostPolicy {
  readonly loopbackOnly: boolean;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
}

export type HostVerdict = { ok: true } | { ok: false; reason: string };

function hostAllowed(host: string, policy: HostPolicy): boolean {
  const name = hostnameOf(host);
  const listed = policy.allowedHosts.some(
    (h) => h.toLowerCase() === host.toLowerCase() || h.toLowerCase() === name,
  );
  if (policy.loopbackOnly) return isLoopbackAddress(name) || listed;
  return policy.allowedHosts.length === 0 || listed;
}

/**
 * MCP requires a server to refuse a request whose Origin is present and not allowed. Without an
 * allow-list, a non-loopback bind accepts only its own origin (the Origin's host is the Host header):
 * a page served from anywhere else is a cross-site caller.
 */
function originAllowed(origin: string, host: string, policy: HostPolicy): boolean {
  if (policy.allowedOrigins.includes(origin)) return true;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false;
  }
  if (policy.loopbackOnly) return isLoopbackAddress(hostnameOf(originHost));
  return policy.allowedOrigins.length === 0 && originHost.toLowerCase() === host.toLowerCase();
}

export function checkHostAndOrigin(
  host: string | undefined,
  origin: string | undefined,
  policy: HostPolicy,
): HostVerdict {
  if (host === undefined || !hostAllowed(host, policy)) {
    return { ok: false, reason: `Host ${JSON.stringify(host ?? '')} is not allowed` };
  }
  if (origin !== undefined && !originAllowed(origin, host, policy)) {
    return { ok: false, reason: `Origin ${JSON.stringify(origin)} is not allowed` };
  }
  return { ok: true };
}
