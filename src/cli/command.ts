/**
 * The shape of a `blastwall` subcommand, shared by the command table in main.ts and every command file.
 */

/** Where a command writes: `out` for its result (stdout), `err` for diagnostics (stderr). */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** One subcommand: its one-line summary, its usage text (printed by `--help`) and what it does. */
export interface CliCommand {
  summary: string;
  usage: string;
  /** Returns the exit code: 0 done, 1 failed, 2 bad usage (throw `UsageError` for that). */
  run: (argv: string[], io: CliIo) => number | Promise<number>;
}

/** A mistake in the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}
