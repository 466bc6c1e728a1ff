import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/**
 * A `tools/call` result as an upstream sent it, relayed as is: the client it goes to validates it
 * against the tool's schemas itself. Parsing it here too (the SDK client's `CallToolResultSchema`, and
 * its output-schema check) cost a deep copy and a schema walk per call and refused content a newer
 * client would understand. Only what Lookout reads of it is checked: that it is an object.
 */
export const relayedToolResult = z.custom<CallToolResult>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  { message: 'a tools/call result must be an object' },
);
