#!/usr/bin/env node
/**
 * The blastwall command. Each subcommand lives in its own file and is registered in COMMANDS below.
 */
import { readFileSync } from 'node:fs';
import { type CliCommand, type CliIo, UsageError } from './command.js';
import { TimelineFileError } from './timeline-reader.js';
import { postmortemCommand, timelineCommand } from './read-commands.js';
import { auditCommand } from './audit.js';
import { drillCommand } from './drill.js';
import { dashboardCommand } from './dashboard.js';

export { parseTime } from './args.js';

/** The subcommands, in the order `blastwall --help` lists them. Register a new one with one line here. */
const COMMANDS: Record<string, CliCommand> = {
  timeline: timelineCommand,
  postmortem: postmortemCommand,
  audit: auditCommand,
  drill: drillCommand,
  dashboard: dashboardCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return `Usage: blastwall <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

  blastwall <command> --help   the options of a command
  blastwall --version          the installed version`;
}

/** The version in the package.json next to this file's directory (src/cli or dist/cli, both two levels down). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
};

/** Runs one command line (without `node` and the script); resolves to the exit code. */
export async function run(argv: string[], io: Partial<CliIo> | ((line: string) => void) = {}): Promise<number> {
  const out = typeof io === 'function' ? io : (io.out ?? defaultIo.out);
  const err = typeof io === 'function' ? defaultIo.err : (io.err ?? defaultIo.err);
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic !== undefined && Object.hasOwn(COMMANDS, topic)) out(COMMANDS[topic]!.usage);
    else out(usage());
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    out(version());
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    err(`blastwall: unknown command \`${name}\`\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, { out, err });
  } catch (e) {
    if (e instanceof UsageError) {
      err(`blastwall ${name}: ${e.message}\n\n${command.usage}`);
      return 2;
    }
    if (e instanceof TimelineFileError) {
      err(`blastwall ${name}: ${e.message}`);
      return 1;
    }
    err(`blastwall ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

const isMain = process.argv[1] !== undefined && /cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (isMain) process.exitCode = await run(process.argv.slice(2));
