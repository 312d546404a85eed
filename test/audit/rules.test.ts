import { describe, expect, it } from 'vitest';
import { auditTopologies, RULES, type Topology } from '../../src/audit/index.js';
import { dep, op, topo } from './fixtures.js';

const NOW = Date.parse('2026-11-29T00:00:00Z');

function ruleIds(...ts: Topology[]): string[] {
  return auditTopologies(ts, { now: NOW }).result.findings.map((f) => f.ruleId);
}

/** For each rule: a topology that triggers it and a near miss that does not. */
const CASES: Record<string, { hit: () => Topology[]; miss: () => Topology[] }> = {
  BW001: {
    hit: () => [topo('s', [dep('db', { timeoutMs: null })], [op('checkout', ['db'], { deadlineMs: null })])],
    miss: () => [topo('s', [dep('db', { timeoutMs: 300 })], [op('checkout', ['db'], { deadlineMs: null })])],
  },
  BW002: {
    hit: () => [topo('s', [dep('db', { breaker: null })], [op('checkout', ['db'])])],
    miss: () => [topo('s', [dep('recs', { breaker: null, criticality: 'optional', fallback: 'value' })], [op('checkout', ['recs'])])],
  },
  BW003: {
    // 3 × 800ms + backoff > 2s deadline
    hit: () => [topo('s', [dep('db', { timeoutMs: 800, retry: { attempts: 3, backoff: { baseMs: 50, maxMs: 500 }, budget: { ratio: 0.1, minPerSecond: 10 } } })], [op('checkout', ['db'])])],
    // 2 × 800ms + 50ms = 1.65s fits
    miss: () => [topo('s', [dep('db', { timeoutMs: 800, retry: { attempts: 2, backoff: { baseMs: 50, maxMs: 500 }, budget: { ratio: 0.1, minPerSecond: 10 } } })], [op('checkout', ['db'])])],
  },
  BW004: {
    hit: () => [topo('s', [dep('db', { retry: { attempts: 3, backoff: { baseMs: 10, maxMs: 10 }, budget: null } })], [op('checkout', ['db'])])],
    miss: () => [topo('s', [dep('db', { retry: { attempts: 3, backoff: { baseMs: 10, maxMs: 10 }, budget: { ratio: 0.1, minPerSecond: 10 } } })], [op('checkout', ['db'])])],
  },
  BW005: {
    hit: () => [topo('s', [dep('db', { concurrency: null })], [op('checkout', ['db'])])],
    miss: () => [topo('s', [dep('db', { concurrency: { limit: 1000, queue: 10_000, adaptive: false } })], [op('checkout', ['db'])])],
  },
  BW006: {
    hit: () => [topo('s', [dep('recs', { criticality: 'optional', fallback: 'empty' })], [op('checkout', ['recs'])])],
    miss: () => [topo('s', [dep('recs', { criticality: 'optional', fallback: 'empty', cache: { freshMs: 1000, staleMs: 60_000 } })], [op('checkout', ['recs'])])],
  },
  BW007: {
    hit: () => [topo('s', [dep('email', { criticality: 'deferrable', deferred: { maxQueue: 100, durable: false } })], [op('checkout', ['email'])])],
    miss: () => [topo('s', [dep('email', { criticality: 'deferrable', deferred: { maxQueue: 100, durable: true } })], [op('checkout', ['email'])])],
  },
  BW008: {
    hit: () => [topo('s', [dep('db'), dep('old')], [op('checkout', ['db'])], { observedWindowMs: 3_600_000 })],
    // without an observed window nothing is judged dead
    miss: () => [topo('s', [dep('db'), dep('old')], [op('checkout', ['db'])])],
  },
  BW009: {
    hit: () => [topo('s', [dep('db'), dep('cache')], [op('checkout', ['db', 'cache'], { declared: ['db'] })])],
    miss: () => [topo('s', [dep('db'), dep('cache')], [op('checkout', ['db', 'cache'], { declared: ['db', 'cache'] })])],
  },
  BW010: {
    hit: () => [topo('s', [dep('db')], [op('checkout', ['db'])], { features: [{ name: 'new-ui', owner: 'web', expires: '2026-11-01' }] })],
    miss: () => [topo('s', [dep('db')], [op('checkout', ['db'])], { features: [{ name: 'new-ui', owner: 'web', expires: '2027-01-01' }] })],
  },
  BW011: {
    hit: () => [topo('s', [dep('db')], [op('checkout', ['db'])], { features: [{ name: 'new-ui', expires: '2027-01-01' }] })],
    miss: () => [topo('s', [dep('db')], [op('checkout', ['db'])], { features: [{ name: 'new-ui', owner: 'web', expires: '2027-01-01' }] })],
  },
  BW012: {
    hit: () => [topo('s', [dep('db')], [op('checkout', ['db']), op('refund', ['db'])])],
    miss: () => [topo('s', [dep('db'), dep('ledger')], [op('checkout', ['db']), op('refund', ['ledger'])])],
  },
  BW013: {
    // 60 calls an hour = 0.5 per 30 s window, the breaker needs 20
    hit: () => [topo('s', [dep('db', { observed: { calls: 60 } })], [op('checkout', ['db'])], { observedWindowMs: 3_600_000 })],
    // 7200 calls an hour = 60 per window
    miss: () => [topo('s', [dep('db', { observed: { calls: 7200 } })], [op('checkout', ['db'])], { observedWindowMs: 3_600_000 })],
  },
  BW014: {
    hit: () => {
      const d = dep('db');
      delete d.runbook;
      return [topo('s', [d], [op('checkout', ['db'])])];
    },
    miss: () => [topo('s', [dep('db')], [op('checkout', ['db'])])],
  },
  BW015: {
    hit: () => [topo('s', [dep('db', { validate: false })], [op('checkout', ['db'])])],
    // a dependency that is another audited service is judged by that service's own boundaries
    miss: () => [
      topo('web', [dep('api', { validate: false })], [op('home', ['api'], { deadlineMs: 2000 })]),
      topo('api', [dep('db')], [op('get', ['db'], { deadlineMs: 250 })]),
    ],
  },
};

describe('audit rules', () => {
  it('every rule that reads a topology has a case', () => {
    const topologyRules = RULES.filter((r) => r.id !== 'BW016').map((r) => r.id);
    expect(Object.keys(CASES).sort()).toEqual(topologyRules.sort());
  });

  for (const [id, c] of Object.entries(CASES)) {
    it(`${id}: fires on its topology and not on the near miss`, () => {
      expect(ruleIds(...c.hit())).toContain(id);
      expect(ruleIds(...c.miss())).not.toContain(id);
    });
  }

  it('a finding names its source location when the declaration was captured', () => {
    const t = topo('s', [dep('db', { timeoutMs: null, source: { file: 'src/wall.ts', line: 12 } })], [op('checkout', ['db'], { deadlineMs: null })]);
    const f = auditTopologies([t], { now: NOW }).result.findings.find((x) => x.ruleId === 'BW001');
    expect(f?.source).toEqual({ file: 'src/wall.ts', line: 12 });
    expect(f?.why.length).toBeGreaterThan(10);
    expect(f?.fix).toMatch(/timeout/);
  });

  it('a baseline accepts known findings and lets new ones through', () => {
    const t = topo('s', [dep('db', { breaker: null })], [op('checkout', ['db'])]);
    const first = auditTopologies([t], { now: NOW }).result;
    const baseline = new Set(first.findings.map((f) => f.fingerprint));
    const same = auditTopologies([t], { now: NOW, baseline }).result;
    expect(same.findings).toEqual([]);
    expect(same.accepted.length).toBe(first.findings.length);
    const worse = topo('s', [dep('db', { breaker: null, timeoutMs: null })], [op('checkout', ['db'], { deadlineMs: null })]);
    expect(auditTopologies([worse], { now: NOW, baseline }).result.findings.map((f) => f.ruleId)).toEqual(['BW001']);
  });
});
