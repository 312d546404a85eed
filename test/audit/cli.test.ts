import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { TOPOLOGY_SCHEMA } from '../../src/audit/index.js';
import { dep, op } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-audit-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

const good = { schema: TOPOLOGY_SCHEMA, service: 'shop', dependencies: [dep('db', { timeoutMs: null, source: { file: join(process.cwd(), 'src/x.ts'), line: 7 } })], operations: [op('checkout', ['db'], { deadlineMs: null })] };

let closedPort = 0;
beforeAll(async () => {
  // a port that was just free: nothing listens there
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  closedPort = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
});

describe('blastwall audit: bad input is one line and exit code 2', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['malformed JSON', () => [file('bad.json', '{"schema": ')], /bad\.json: not valid JSON/],
    ['an unknown schema version', () => [file('v9.json', { ...good, schema: 'blastwall.topology/v9' })], /unknown topology schema .*blastwall\.topology\/v9.*this blastwall reads 'blastwall\.topology\/v1'/],
    ['a bad field', () => [file('field.json', { ...good, dependencies: [{ ...dep('db'), timeoutMs: -5 }] })], /expected `dependencies\[0\]\.timeoutMs` to be a finite number ≥ 1, got `-5` \(number\)/],
    ['an edge to an undeclared dependency', () => [file('edge.json', { ...good, operations: [op('checkout', ['nope'])] })], /`operations\[0\]\.calls\[0\]` to be the name of a declared dependency/],
    ['a missing file', () => [join(dir, 'missing.json')], /missing\.json: cannot read \(no such file\)/],
    ['an unreachable --url', () => ['--url', `http://127.0.0.1:${closedPort}/blastwall/topology`], /unreachable \(ECONNREFUSED\)/],
    ['a module that exports no wall', () => ['--module', file('nowall.mjs', 'export const answer = 42;\n')], /exports no wall .*`answer`/],
  ];
  for (const [name, argv, message] of cases) {
    it(name, async () => {
      const r = await cli('audit', ...argv());
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }

  it('bad usage names the option', async () => {
    const r = await cli('audit', file('ok.json', good), '--fail-on', 'fatal');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Expected `--fail-on` to be error, warning or note, got `fatal`/);
  });
});

describe('blastwall audit: outputs and exit codes', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ...good, service: 'remote' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blastwall/topology`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('--fail-on sets the exit code, and a baseline accepts what is known', async () => {
    const p = file('fail.json', good);
    expect((await cli('audit', p)).code).toBe(0);
    expect((await cli('audit', p, '--fail-on', 'error')).code).toBe(1);
    const base = join(dir, 'baseline.json');
    expect((await cli('audit', p, '--write-baseline', base)).code).toBe(0);
    expect((await cli('audit', p, '--fail-on', 'note', '--baseline', base)).code).toBe(0);
  });

  it('joins a file and a URL into one audit', async () => {
    const r = await cli('audit', file('join.json', good), '--url', url, '--format', 'json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { services: string[] };
    expect(doc.services.sort()).toEqual(['remote', 'shop']);
  });

  it('writes SARIF 2.1.0 that validates against the SARIF JSON schema', async () => {
    const out = join(dir, 'audit.sarif');
    const r = await cli('audit', file('sarif.json', good), '--format', 'sarif', '--out', out, '--root', process.cwd());
    expect(r.code).toBe(0);
    const sarif = JSON.parse(readFileSync(out, 'utf8')) as { runs: { results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[] };
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8')) as Record<string, unknown>;
    const ajv = new AjvDraft04.default({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats.default(ajv); // the schema's `uri` formats are checked, not ignored with a warning
    const validate = ajv.compile(schema);
    const valid = validate(sarif);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // the validator is not a rubber stamp: a result with an unknown level is refused
    const broken = JSON.parse(JSON.stringify(sarif)) as { runs: { results: { level?: string }[] }[] };
    const first = broken.runs[0]?.results[0];
    if (first !== undefined) first.level = 'fatal';
    expect(validate(broken)).toBe(false);
    const r001 = sarif.runs[0]?.results.find((x) => x.ruleId === 'BW001');
    expect(r001?.locations[0]?.physicalLocation.artifactLocation.uri).toBe('src/x.ts');
    expect(r001?.locations[0]?.physicalLocation.region.startLine).toBe(7);
  });
});
