/** Keys of `T` that the list `L` does not name. */
export type MissingOptions<T, L extends readonly PropertyKey[]> = Exclude<keyof T, L[number]>;

/**
 * The option names of an options type, listed once and checked both ways at compile time: every name is
 * a key of `T`, and every key of `T` is named (a missing one is a type error naming it). The list is what
 * the runtime check (`objectOption`) accepts, so the type and the check cannot drift apart.
 *
 *   export const RETRY_OPTION_NAMES = optionNames<RetryOptions>()('attempts', 'backoff', ...);
 */
export function optionNames<T>() {
  return <const L extends readonly (keyof T & string)[]>(
    ...names: [MissingOptions<T, L>] extends [never] ? L : L & { readonly missing: MissingOptions<T, L> }
  ): L => names;
}

/** `names` without `except` (e.g. the options the wall supplies itself), keeping the literal types. */
export function optionNamesWithout<const L extends readonly string[], const E extends readonly L[number][]>(names: L, except: E): readonly Exclude<L[number], E[number]>[] {
  return names.filter((n): n is Exclude<L[number], E[number]> => !(except as readonly string[]).includes(n));
}
