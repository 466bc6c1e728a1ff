/** How the era comparison names one era's side of a target: `lookout-full (2026-07-28)`. */
export function eraSideName(target: string, era: 'legacy' | 'modern'): string {
  return `${target} (${era === 'modern' ? '2026-07-28' : '2025-11-25'})`;
}
