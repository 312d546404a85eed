import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseTopology, TOPOLOGY_SCHEMA } from '../../src/audit/index.js';
import { dep, op } from './fixtures.js';

const schema = JSON.parse(readFileSync(new URL('../../docs/schemas/topology-v1.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true }).compile(schema);

const doc = (over: Record<string, unknown> = {}) => ({
  schema: TOPOLOGY_SCHEMA,
  service: 'shop',
  observedWindowMs: 60_000,
  dependencies: [dep('db', { source: { file: 'src/wall.ts', line: 3 }, observed: { calls: 10 } }), dep('recs', { criticality: 'optional', fallback: 'empty', cache: { freshMs: 10, staleMs: 100 } })],
  operations: [op('checkout', ['db', 'recs'], { declared: ['db', 'recs'], capability: 'customers can pay' })],
  features: [{ name: 'new-ui', owner: 'web', expires: '2027-01-01' }],
  modeRules: [{ name: 'db-down', mode: 'read-only', firesOn: [{ dependency: 'db', state: 'unavailable' }] }],
  ...over,
});

describe('the published JSON Schema and the reader agree', () => {
  it('a full document is valid for both', () => {
    expect(validate(doc())).toBe(true);
    expect(() => parseTopology(doc())).not.toThrow();
  });

  const bad: [string, Record<string, unknown>][] = [
    ['unknown version', { schema: 'blastwall.topology/v2' }],
    ['negative timeout', { dependencies: [{ ...dep('db'), timeoutMs: -1 }] }],
    ['unknown criticality', { dependencies: [{ ...dep('db'), criticality: 'vital' }] }],
    ['unknown field', { dependencies: [{ ...dep('db'), timeout: 5 }] }],
    ['priority not in the list', { operations: [op('checkout', [], { priority: 'urgent' as never })] }],
    ['missing service', { service: undefined }],
  ];
  for (const [name, over] of bad) {
    it(`${name}: refused by both`, () => {
      const d = JSON.parse(JSON.stringify(doc(over))) as unknown;
      expect(validate(d)).toBe(false);
      expect(() => parseTopology(d)).toThrow();
    });
  }
});
