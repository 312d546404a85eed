/**
 * Dependencies point one way. Every src/ folder may import only the folders listed for it below (the
 * floors of docs/architecture.md: a folder imports only folders on lower floors), and the folder graph has
 * no cycle. Static, type-only and dynamic imports all count; test files do not.
 */
import { describe, expect, it } from 'vitest';
import { findCycle, folderEdges, type ImportEdge } from './import-graph.js';

const LOWER_FLOORS = ['core', 'health', 'drift', 'policies', 'stores', 'timeline', 'telemetry', 'degrade', 'chaos', 'config', 'wall', 'http', 'integrity'];

/** What each folder may import. Keep in step with docs/architecture.md ("What each folder may import"). */
export const ALLOWED_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  core: [],
  health: ['core'],
  drift: ['core'],
  policies: ['core'],
  stores: ['core'],
  timeline: ['core', 'stores'],
  telemetry: ['core', 'health'],
  degrade: ['core', 'policies'],
  chaos: ['core', 'timeline'],
  config: ['core'],
  wall: ['core', 'health', 'drift', 'policies', 'stores', 'timeline', 'telemetry', 'degrade', 'chaos', 'config'],
  http: ['core', 'policies', 'degrade', 'chaos', 'wall'],
  integrity: ['core', 'policies', 'stores', 'wall', 'http'],
  // the top floor: tools, framework adapters and entry points built on everything below
  adapters: LOWER_FLOORS,
  audit: LOWER_FLOORS,
  dashboard: LOWER_FLOORS,
  cli: [...LOWER_FLOORS, 'audit', 'dashboard'],
  testing: LOWER_FLOORS,
  '.': [...LOWER_FLOORS, 'adapters', 'audit', 'dashboard', 'testing'],
};

function describeEdge(e: ImportEdge): string {
  return `src/${e.file}:${e.line} imports '${e.specifier}' (${e.from} → ${e.to})`;
}

describe('architecture', () => {
  const edges = folderEdges();

  it('sees the imports it checks (the graph is not empty)', () => {
    expect(edges.some((e) => e.from === 'wall' && e.to === 'core')).toBe(true);
    expect(edges.some((e) => e.from === 'http' && e.to === 'wall')).toBe(true);
  });

  it('every src/ folder is in the allowed-imports map', () => {
    const folders = new Set(edges.flatMap((e) => [e.from, e.to]));
    expect([...folders].filter((f) => !(f in ALLOWED_IMPORTS))).toEqual([]);
  });

  it('every folder imports only the folders allowed for it', () => {
    const forbidden = edges.filter((e) => !(ALLOWED_IMPORTS[e.from] ?? []).includes(e.to)).map(describeEdge);
    expect(forbidden).toEqual([]);
  });

  it('the folder graph has no cycle', () => {
    expect(findCycle(edges)?.join(' → ')).toBeUndefined();
  });

  it('the allowed-imports map itself has no cycle', () => {
    const mapEdges = Object.entries(ALLOWED_IMPORTS).flatMap(([from, tos]) => tos.map((to) => ({ from, to, file: '', line: 0, specifier: '' })));
    expect(findCycle(mapEdges)).toBeUndefined();
  });

  it('findCycle finds a cycle when there is one', () => {
    const e = (from: string, to: string): ImportEdge => ({ from, to, file: '', line: 0, specifier: '' });
    expect(findCycle([e('wall', 'chaos'), e('chaos', 'http'), e('http', 'wall'), e('http', 'core')])).toEqual(['chaos', 'http', 'wall', 'chaos']);
    expect(findCycle([e('wall', 'core'), e('http', 'wall')])).toBeUndefined();
  });
});
