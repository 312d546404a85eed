/**
 * A running wall's declarations and observations as a validated topology document. The conversion lives
 * with the wall (`src/wall/topology-document.ts`, also what the HTTP adapters serve), so the audit reads a
 * wall in this process and a topology fetched from another process the same way.
 */
import { isPlainObject } from '../core/validate.js';
import { topologyDocument } from '../wall/topology-document.js';
import { AuditInputError, parseTopology, TOPOLOGY_SCHEMA, type Topology } from './topology.js';

/** What the audit needs of a wall: its topology method. */
export interface AuditableWall {
  /**
   * The wall's declarations and observations: a `blastwall.topology/v1` document, or the raw
   * `wall.topology()` snapshot a wall returns (converted and validated by {@link topologyOfWall}).
   */
  topology(): unknown;
}

/** Whether `v` looks like a wall the audit can read (an object with a `topology()` method); it checks nothing else. */
export function isAuditableWall(v: unknown): v is AuditableWall {
  return v !== null && typeof v === 'object' && typeof (v as { topology?: unknown }).topology === 'function';
}

/** The validated topology document of a wall. */
export function topologyOfWall(wall: AuditableWall, origin = 'wall'): Topology {
  let raw: unknown;
  try {
    raw = wall.topology();
  } catch (e) {
    throw new AuditInputError(`${origin}: wall.topology() threw (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(raw)) throw new AuditInputError(`${origin}: wall.topology() did not return an object`);
  return parseTopology(raw.schema === TOPOLOGY_SCHEMA ? raw : topologyDocument(raw), origin);
}

export { topologyDocument };
