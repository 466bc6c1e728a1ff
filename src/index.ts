export { z } from 'zod';
export { loadConfig } from './config/load.ts';
export type { LookoutConfig } from './config/schema.ts';
export { LookoutError } from './errors/catalog.ts';
export type { Lookout, StartOptions } from './main.ts';
export { startLookout } from './main.ts';
export type {
  Completer,
  Definition,
  HandlerContext,
  PromptDefinition,
  ResourceDefinition,
  ResourceTemplateDefinition,
  ToolDefinition,
} from './tools/api.ts';
export { definePrompt, defineResource, defineResourceTemplate, defineTool, ToolError } from './tools/api.ts';
