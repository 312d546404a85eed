/**
 * SARIF 2.1.0 output, as GitHub code scanning reads it: one run, the rules as reportingDescriptors, each
 * finding a result with a physical location (the declaration's file and line, relative to `root`) and a
 * stable `partialFingerprints` entry so alerts follow code moves.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULES, type Finding, type Severity } from './rules.js';
import type { AuditResult } from './report.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', note: 'note' };

/** A repository-relative URI with forward slashes (code scanning refuses absolute machine paths). */
export function artifactUri(file: string, root: string): string {
  let path = file;
  if (path.startsWith('file://')) path = fileURLToPath(path);
  if (isAbsolute(path)) path = relative(root, path);
  return path.split(sep).join('/');
}

function location(f: Finding, root: string): Record<string, unknown> {
  const file = f.source?.file ?? f.origin;
  const uri = file === undefined || /^https?:/.test(file) ? 'blastwall.topology.json' : artifactUri(file, root);
  return {
    physicalLocation: {
      artifactLocation: { uri },
      region: { startLine: f.source?.line ?? 1, ...(f.source?.column === undefined ? {} : { startColumn: f.source.column }) },
    },
    logicalLocations: [{ name: f.subject, fullyQualifiedName: `${f.service}/${f.subject}` }],
  };
}

/** Options of {@link toSarif}. */
export interface SarifOptions {
  /** Paths in locations are made relative to this directory. Default: the current directory. */
  root?: string;
  /** The tool version reported (`semanticVersion`). Default `'0.1.0'`. */
  version?: string;
}

/**
 * The findings as a SARIF 2.1.0 log (a JSON-ready object; `JSON.stringify` it), for GitHub code scanning:
 * every rule as a reporting descriptor, each finding (accepted ones left out) as a result located at its
 * declaration, relative to `root` (a finding without a file is placed in `blastwall.topology.json`), with a
 * stable fingerprint so alerts follow code moves.
 */
export function toSarif(result: AuditResult, options: SarifOptions = {}): Record<string, unknown> {
  const root = options.root ?? process.cwd();
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'blastwall-audit',
            informationUri: 'https://www.npmjs.com/package/blastwall',
            semanticVersion: options.version ?? '0.1.0',
            rules: RULES.map((r) => ({
              id: r.id,
              name: r.name,
              shortDescription: { text: r.summary },
              fullDescription: { text: r.summary },
              defaultConfiguration: { level: LEVEL[r.severity] },
              help: { text: `${r.summary} See docs/audit.md#${r.id.toLowerCase()}.` },
              properties: { tags: ['reliability', 'blast-radius'] },
            })),
          },
        },
        results: result.findings.map((f) => ({
          ruleId: f.ruleId,
          ruleIndex: RULES.findIndex((r) => r.id === f.ruleId),
          level: LEVEL[f.severity],
          message: { text: `${f.message}. Why: ${f.why} Fix: ${f.fix}` },
          locations: [location(f, root)],
          partialFingerprints: { blastwallFingerprint: f.fingerprint },
          properties: { service: f.service, subject: f.subject, ...(f.data === undefined ? {} : { data: f.data }) },
        })),
        columnKind: 'utf16CodeUnits',
      },
    ],
  };
}
