import type {
  CallToolResult,
  CompleteResult,
  GetPromptResult,
  LoggingLevel,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { LookoutError } from '../errors/catalog.ts';
import type {
  Completer,
  Definition,
  HandlerContext,
  PromptDefinition,
  ResourceDefinition,
  ResourceTemplateDefinition,
  Subscribable,
} from './api.ts';
import {
  compilePrompt,
  compileTool,
  contentsOf,
  type PromptEntry,
  resourceDescriptorOf,
  type TemplateEntry,
  type ToolEntry,
  templateEntryOf,
} from './compile.ts';

/** What a group (an upstream) contributes to the catalog. */
export interface GroupContents {
  readonly tools: readonly ToolEntry[];
  readonly resources: readonly ResourceDefinition[];
  readonly templates: readonly ResourceTemplateDefinition[];
  readonly prompts: readonly PromptEntry[];
  /**
   * Resources served to one caller only, beyond the group's list: those its own connection to the
   * upstream gained from its calls (session-scoped resources).
   */
  readonly ownResources?: (caller: HandlerContext) => Promise<readonly ResourceDefinition[]>;
  /** The caller chose a log level: the group's connections serving it are told. */
  readonly setLogLevel?: (level: LoggingLevel, caller: HandlerContext) => Promise<void>;
}

interface GroupNames {
  readonly tools: string[];
  readonly resources: string[];
  readonly templates: TemplateEntry[];
  readonly prompts: string[];
  readonly ownResources: GroupContents['ownResources'];
  readonly setLogLevel: GroupContents['setLogLevel'];
}

const completionLimit = 100;

type ListName = 'tools' | 'resources' | 'prompts';
const listNames: readonly ListName[] = ['tools', 'resources', 'prompts'];

/** Sets a key unless it is taken; says whether it was set. */
function claim<V>(map: Map<string, V>, key: string, value: V): boolean {
  if (map.has(key)) return false;
  map.set(key, value);
  return true;
}

/** Tools, resources and prompts served by one Lookout, each compiled once when registered. */
export class Catalog {
  readonly #tools = new Map<string, ToolEntry>();
  /** What each group (an upstream) claimed, so it can be replaced together. */
  readonly #groups = new Map<string, GroupNames>();
  readonly #resources = new Map<string, ResourceDefinition>();
  readonly #templates: TemplateEntry[] = [];
  readonly #prompts = new Map<string, PromptEntry>();
  readonly #listeners = new Set<(list: ListName) => void>();
  #toolList: { tools: Tool[] } | undefined;

  /** Called after each change, so connected clients can be sent `notifications/<list>/list_changed`. */
  onChange(listener: (list: ListName) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(list: ListName): void {
    for (const listener of this.#listeners) listener(list);
  }

  add(definition: Definition): void {
    switch (definition.kind) {
      case 'tool':
        this.addTool(compileTool(definition));
        return;
      case 'resource':
        if (this.#resources.has(definition.uri)) throw new Error(`duplicate resource uri: ${definition.uri}`);
        this.#resources.set(definition.uri, definition);
        this.#changed('resources');
        return;
      case 'resourceTemplate':
        this.#templates.push(templateEntryOf(definition));
        this.#changed('resources');
        return;
      case 'prompt':
        if (this.#prompts.has(definition.name)) throw new Error(`duplicate prompt name: ${definition.name}`);
        this.#prompts.set(definition.name, compilePrompt(definition as PromptDefinition));
        this.#changed('prompts');
        return;
    }
  }

  /**
   * What every client is served of each list, as text to compare: `resources` holds the templates too.
   * (Resources a caller's own connections add are told of where they appear.)
   */
  #served(): Record<ListName, string> {
    return {
      tools: JSON.stringify(this.listTools().tools),
      resources: JSON.stringify([
        [...this.#resources.values()].map(resourceDescriptorOf),
        this.listResourceTemplates().resourceTemplates,
      ]),
      prompts: JSON.stringify(this.listPrompts().prompts),
    };
  }

  /**
   * Replaces what the groups (upstreams) serve in one step, telling clients once for each list that
   * changed: an upstream that re-reads its lists, or announces a change on each new connection (as
   * server-everything does), sends nobody a `list_changed` unless what they are served changed, or
   * `announce` says a change they are not served was made (on one client's own upstream connection).
   * The groups claim names in the order given; a tool or prompt name, or a resource URI, already served
   * by Lookout or by an earlier group is skipped and reported.
   */
  replaceGroups(groups: readonly (readonly [string, GroupContents])[], announce = false): string[] {
    const before = this.#served();
    for (const [group] of groups) this.#release(group);
    const skipped: string[] = [];
    for (const [group, contents] of groups) {
      const claimed: GroupNames = {
        tools: [],
        resources: [],
        templates: [],
        prompts: [],
        ownResources: contents.ownResources,
        setLogLevel: contents.setLogLevel,
      };
      for (const entry of contents.tools) {
        if (claim(this.#tools, entry.descriptor.name, entry)) claimed.tools.push(entry.descriptor.name);
        else skipped.push(`${group}: tool ${entry.descriptor.name}`);
      }
      for (const resource of contents.resources) {
        if (claim(this.#resources, resource.uri, resource)) claimed.resources.push(resource.uri);
        else skipped.push(`${group}: resource ${resource.uri}`);
      }
      for (const template of contents.templates) {
        const entry = templateEntryOf(template);
        this.#templates.push(entry);
        claimed.templates.push(entry);
      }
      for (const prompt of contents.prompts) {
        if (claim(this.#prompts, prompt.descriptor.name, prompt))
          claimed.prompts.push(prompt.descriptor.name);
        else skipped.push(`${group}: prompt ${prompt.descriptor.name}`);
      }
      this.#groups.set(group, claimed);
    }
    this.#toolList = undefined;
    const after = this.#served();
    for (const list of listNames) if (announce || after[list] !== before[list]) this.#changed(list);
    return skipped;
  }

  #release(group: string): void {
    const previous = this.#groups.get(group);
    if (!previous) return;
    for (const name of previous.tools) this.#tools.delete(name);
    for (const uri of previous.resources) this.#resources.delete(uri);
    for (const name of previous.prompts) this.#prompts.delete(name);
    for (const entry of previous.templates) this.#templates.splice(this.#templates.indexOf(entry), 1);
    this.#groups.delete(group);
  }

  addTool(entry: ToolEntry): void {
    const name = entry.descriptor.name;
    if (this.#tools.has(name)) throw new Error(`duplicate tool name: ${name}`);
    this.#tools.set(name, entry);
    this.#toolList = undefined;
    this.#changed('tools');
  }

  hasTool(name: string): boolean {
    return this.#tools.has(name);
  }

  hasPrompt(name: string): boolean {
    return this.#prompts.has(name);
  }

  get toolCount(): number {
    return this.#tools.size;
  }

  listTools(): { tools: Tool[] } {
    this.#toolList ??= { tools: [...this.#tools.values()].map((t) => t.descriptor) };
    return this.#toolList;
  }

  /** A tool's `tools/list` entry. */
  toolDescriptor(name: string): Tool | undefined {
    return this.#tools.get(name)?.descriptor;
  }

  /** Whether a tool runs as a task for clients that support them (the tasks extension). */
  taskSupportOf(name: string): 'optional' | 'required' | undefined {
    const support = (
      this.#tools.get(name)?.descriptor as { execution?: { taskSupport?: string } } | undefined
    )?.execution?.taskSupport;
    return support === 'optional' || support === 'required' ? support : undefined;
  }

  /** Whether a task tool asks its first questions in rounds of the call, before it becomes a task. */
  inputBeforeTask(name: string): boolean {
    return this.#tools.get(name)?.inputBeforeTask === true;
  }

  callTool(name: string, args: unknown, context: HandlerContext): Promise<CallToolResult> {
    const tool = this.#tools.get(name);
    if (!tool) throw new LookoutError('UNKNOWN_TOOL', name);
    return tool.call(args, context);
  }

  /** The resources every caller is served, then those the caller's own upstream connections serve it. */
  async listResources(caller: HandlerContext): Promise<{ resources: Resource[] }> {
    const own = (await this.#ownResources(caller)).filter((resource) => !this.#resources.has(resource.uri));
    return { resources: [...this.#resources.values(), ...own].map(resourceDescriptorOf) };
  }

  async #ownResources(caller: HandlerContext): Promise<ResourceDefinition[]> {
    const groups = [...this.#groups.values()].filter((group) => group.ownResources !== undefined);
    const lists = await Promise.all(groups.map((group) => group.ownResources?.(caller) ?? []));
    const seen = new Set<string>();
    return lists.flat().filter((resource) => !seen.has(resource.uri) && seen.add(resource.uri));
  }

  /** The resource a URI names for this caller: one every caller is served, else one of its own. */
  async #resourceFor(uri: string, caller: HandlerContext): Promise<ResourceDefinition | undefined> {
    return (
      this.#resources.get(uri) ?? (await this.#ownResources(caller)).find((resource) => resource.uri === uri)
    );
  }

  /** Passes a caller's `logging/setLevel` on to the groups (upstreams); Lookout's own logs honour it anyway. */
  async setLogLevel(level: LoggingLevel, caller: HandlerContext): Promise<void> {
    await Promise.all([...this.#groups.values()].map((group) => group.setLogLevel?.(level, caller)));
  }

  listResourceTemplates(): { resourceTemplates: ResourceTemplate[] } {
    return { resourceTemplates: this.#templates.map((t) => t.descriptor) };
  }

  async readResource(uri: string, context: HandlerContext): Promise<ReadResourceResult> {
    const resource = await this.#resourceFor(uri, context);
    if (resource) {
      const contents = contentsOf(await resource.read(context), uri, resource.mimeType);
      // 2026-07-28 results carry cache hints; the endpoint fills in the default for those without.
      const fresh = resource.uncacheable === true && context.era === 'modern';
      return { contents, ...(fresh && { ttlMs: 0, cacheScope: 'private' }) };
    }
    for (const { template, definition } of this.#templates) {
      const variables = template.match(uri);
      if (variables) {
        return {
          contents: contentsOf(await definition.read(uri, variables, context), uri, definition.mimeType),
        };
      }
    }
    throw new LookoutError('UNKNOWN_RESOURCE', uri, { uri });
  }

  /** The definition serving a URI, if any: a resource of its own, else the first template matching it. */
  async #subscribable(uri: string, caller: HandlerContext): Promise<Subscribable | undefined> {
    return (
      (await this.#resourceFor(uri, caller)) ?? this.#templates.find((t) => t.template.match(uri))?.definition
    );
  }

  /**
   * Passes a subscription on to where the resource comes from (an upstream); Lookout's own resources
   * are updated through `resourceUpdated`, which reads the session's subscriptions.
   */
  async subscribe(uri: string, context: HandlerContext, updated: (uri: string) => void): Promise<void> {
    await (await this.#subscribable(uri, context))?.subscribe?.(uri, context, updated);
  }

  async unsubscribe(uri: string, context: HandlerContext): Promise<void> {
    await (await this.#subscribable(uri, context))?.unsubscribe?.(uri, context);
  }

  listPrompts(): { prompts: Prompt[] } {
    return { prompts: [...this.#prompts.values()].map((p) => p.descriptor) };
  }

  getPrompt(
    name: string,
    args: Record<string, string> | undefined,
    context: HandlerContext,
  ): Promise<GetPromptResult> {
    const prompt = this.#prompts.get(name);
    if (!prompt) throw new LookoutError('UNKNOWN_PROMPT', name);
    return prompt.get(args, context);
  }

  async complete(
    ref: { type: string; name?: string; uri?: string },
    argument: { name: string; value: string },
    contextArguments: Record<string, string>,
    caller: HandlerContext,
  ): Promise<CompleteResult> {
    let completer: Completer | undefined;
    if (ref.type === 'ref/prompt' && ref.name !== undefined) {
      const prompt = this.#prompts.get(ref.name);
      if (!prompt) throw new LookoutError('UNKNOWN_PROMPT', ref.name);
      completer = prompt.complete?.[argument.name];
    } else if (ref.type === 'ref/resource' && ref.uri !== undefined) {
      const entry = this.#templates.find((t) => t.definition.uriTemplate === ref.uri);
      if (!entry && !this.#resources.has(ref.uri)) throw new LookoutError('UNKNOWN_RESOURCE', ref.uri);
      completer = entry?.definition.complete?.[argument.name];
    } else {
      throw new LookoutError('INVALID_COMPLETION_REF', ref.type);
    }
    const values = completer ? await completer(argument.value, { arguments: contextArguments, caller }) : [];
    return {
      completion: {
        values: values.slice(0, completionLimit),
        total: values.length,
        hasMore: values.length > completionLimit,
      },
    };
  }
}
