/**
 * What the command-line tools share (`vigil`, `npm run admin`): one exit-code scheme, usage errors
 * as messages with exit 2 (commander's exitOverride), numbers checked as they are parsed, a closed
 * pipe (`vigil devices list | head`) ending quietly, and stack traces only with `--debug`.
 *   0 done · 1 the operation failed · 2 invalid input · 3 not authorized · 4 not found · 5 unreachable
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';

import { EXIT } from '../errors.ts';

export { EXIT };

/** An expected failure: a message for a person, and its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export function cliProgram(name: string): Command {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok); // the reader went away (| head): nothing left to say
    throw err;
  });
  return new Command(name)
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${name}: ${str.replace(/^error: /, '')}`) });
}

/** Print the failure the way a person reads it (and the stack with --debug), then exit with its code. */
export function failWith(program: Command, err: unknown): never {
  const name = program.name();
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.invalid);
  const debug = program.opts<{ debug?: boolean }>().debug;
  if (err instanceof CliError) {
    console.error(`${name}: ${err.message}`);
    for (const d of err.details) if (!err.message.includes(d.message)) console.error(`  ${d.path}: ${d.message}`);
    if (debug) console.error(err.stack);
    process.exit(err.exitCode);
  }
  console.error(`${name}: ${(err as Error)?.message ?? String(err)}`);
  if (debug) console.error((err as Error)?.stack);
  process.exit(EXIT.failed);
}

/** Run the program; every error ends as a message and an exit code. */
export async function runProgram(program: Command): Promise<void> {
  try {
    await program.parseAsync();
  } catch (err) {
    failWith(program, err);
  }
}

/** A commander argument parser for an integer in [min, max]. */
export const intArg =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };

/** A commander argument parser for a number in [min, max]. */
export const numArg =
  (min: number, max: number) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}`);
    return n;
  };

/** JSON given on the command line or in a file, or a specific invalid-input error naming where it came from. */
export function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`${what} is not valid JSON: ${(err as Error).message}`, EXIT.invalid);
  }
}
