import type { Subscribers } from './connection-pool.ts';

/** Adds a subscriber to `uri` on a connection; whether it is the first (the upstream is asked then). */
export function addSubscriber(
  subscribers: Subscribers,
  uri: string,
  key: string,
  updated: (uri: string) => void,
): boolean {
  const ofUri = subscribers.get(uri) ?? new Map();
  const first = ofUri.size === 0;
  ofUri.set(key, updated);
  subscribers.set(uri, ofUri);
  return first;
}

/** Removes a subscriber to `uri`; whether it was the last one (the upstream is told then). */
export function removeSubscriber(subscribers: Subscribers, uri: string, key: string): boolean {
  const ofUri = subscribers.get(uri);
  if (!ofUri?.delete(key) || ofUri.size > 0) return false;
  subscribers.delete(uri);
  return true;
}
