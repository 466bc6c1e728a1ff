import type { Client } from '@modelcontextprotocol/client';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';

/** Pages read of one list at most: an upstream whose cursor never ends is not followed forever. */
export const maxListPages = 100;

/** What an upstream serves. */
export interface UpstreamLists {
  readonly tools: Tool[];
  readonly resources: Resource[];
  readonly resourceTemplates: ResourceTemplate[];
  readonly prompts: Prompt[];
  /** The shortest `ttlMs` (above 0) the list answers gave: the lists are read again when it runs out. */
  readonly ttlMs?: number;
}

/** A list that stopped before its end: at the page cap, or at a cursor it had already given. */
export interface TruncatedList {
  readonly list: string;
  readonly pages: number;
  readonly reason: 'page cap' | 'repeated cursor';
}

async function allPages<T>(
  list: string,
  page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>,
  onTruncated: (truncated: TruncatedList) => void,
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    const answer = await page(cursor);
    items.push(...answer.items);
    cursor = answer.nextCursor;
    if (cursor === undefined) return items;
    if (seen.has(cursor) || pages >= maxListPages) {
      onTruncated({ list, pages, reason: seen.has(cursor) ? 'repeated cursor' : 'page cap' });
      return items;
    }
    seen.add(cursor);
  }
}

/** One page per request: the client's own list methods would walk (and cache) every page themselves. */
const params = (cursor: string | undefined) => (cursor === undefined ? {} : { cursor });

type Noted = <T extends object>(answer: T) => T;

/** Each list method and the field of its answer that holds the items. */
const listFields = {
  'tools/list': 'tools',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
  'prompts/list': 'prompts',
} as const;

/** Reads every page of one list. */
function listAll<T>(
  client: Client,
  method: keyof typeof listFields,
  timeoutMs: number,
  onTruncated: (truncated: TruncatedList) => void,
  noted: Noted = (answer) => answer,
): Promise<T[]> {
  return allPages(
    method,
    async (cursor) => {
      const answer = noted(
        (await client.request({ method, params: params(cursor) }, { timeout: timeoutMs })) as Record<
          string,
          unknown
        >,
      );
      return {
        items: answer[listFields[method]] as T[],
        nextCursor: answer.nextCursor as string | undefined,
      };
    },
    onTruncated,
  );
}

/** Reads every page of the resources the upstream lists. */
export function listResources(
  client: Client,
  timeoutMs: number,
  onTruncated: (truncated: TruncatedList) => void,
  noted?: Noted,
): Promise<Resource[]> {
  return listAll<Resource>(client, 'resources/list', timeoutMs, onTruncated, noted);
}

/** The tools and prompts one connection lists, as text to compare with what it listed before. */
export async function toolsAndPromptsOf(client: Client, timeoutMs: number): Promise<string> {
  const capabilities = client.getServerCapabilities() ?? {};
  const ignore = () => undefined;
  const tools = capabilities.tools ? await listAll<Tool>(client, 'tools/list', timeoutMs, ignore) : [];
  const prompts = capabilities.prompts
    ? await listAll<Prompt>(client, 'prompts/list', timeoutMs, ignore)
    : [];
  return JSON.stringify([tools, prompts]);
}

/** Reads every page of the tools, resources, templates and prompts the upstream says it has. */
export async function listEverything(
  client: Client,
  timeoutMs: number,
  onTruncated: (truncated: TruncatedList) => void,
): Promise<UpstreamLists> {
  let shortest: number | undefined;
  /** Notes an answer's `ttlMs`; 0 (the 2026-07-28 default) is no hint: the lists are kept until list_changed. */
  const noted = <T extends object>(answer: T): T => {
    const { ttlMs } = answer as { ttlMs?: unknown };
    if (Number.isSafeInteger(ttlMs) && (ttlMs as number) > 0) {
      shortest = Math.min(shortest ?? Number.POSITIVE_INFINITY, ttlMs as number);
    }
    return answer;
  };
  const capabilities = client.getServerCapabilities() ?? {};
  const read = <T>(method: keyof typeof listFields, offered: unknown): Promise<T[]> =>
    offered ? listAll<T>(client, method, timeoutMs, onTruncated, noted) : Promise.resolve([]);
  const tools = await read<Tool>('tools/list', capabilities.tools);
  const resources = await read<Resource>('resources/list', capabilities.resources);
  const resourceTemplates = await read<ResourceTemplate>('resources/templates/list', capabilities.resources);
  const prompts = await read<Prompt>('prompts/list', capabilities.prompts);
  return { tools, resources, resourceTemplates, prompts, ...(shortest !== undefined && { ttlMs: shortest }) };
}
