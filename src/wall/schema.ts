/** The Standard Schema v1 interface (standardschema.dev), implemented by zod, valibot and arktype. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

export function isStandardSchema(v: unknown): v is StandardSchemaV1 {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return false;
  const s = (v as Record<string, unknown>)['~standard'];
  return s !== null && typeof s === 'object' && typeof (s as { validate?: unknown }).validate === 'function';
}

/** "path.to.field: message; other: message" for error messages. */
export function formatIssues(issues: ReadonlyArray<StandardIssue>, max = 3): string {
  const parts = issues.slice(0, max).map((i) => {
    const path = (i.path ?? []).map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
  if (issues.length > max) parts.push(`… ${issues.length - max} more`);
  return parts.join('; ');
}
