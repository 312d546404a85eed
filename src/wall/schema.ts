/** The Standard Schema v1 interface (standardschema.dev), implemented by zod, valibot and arktype. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    /**
     * Checks a dependency's response, synchronously or not. The wall returns `value` (the parsed output) to
     * the caller; on `issues` the call fails with `INVALID_RESPONSE` (not retryable) and the response goes
     * to the dependency's `quarantine` hook. A throw, a rejection or a malformed result fails the call with
     * `CALLBACK_FAILED`.
     */
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** What a Standard Schema validator returns: the parsed `value` on success, or the `issues` that failed. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

/** One reason a value failed validation, as a Standard Schema validator reports it; passed to a dependency's `quarantine` hook. */
export interface StandardIssue {
  /** What is wrong, for people; shown (up to 3 issues) in the `INVALID_RESPONSE` error message. */
  readonly message: string;
  /** Where in the value: keys from the root, e.g. `['items', 0, 'price']`; absent for the value itself. */
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
