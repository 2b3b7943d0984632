#!/usr/bin/env node
/**
 * The `smlm-rt` command. Each command lives in its own module exporting `register(program)`; to add one, import the
 * module and list it in COMMANDS. Failures print one line, `smlm-rt: error E_CODE: message`, and exit 1; usage
 * errors exit 2; Ctrl-C (E_ABORTED: the CLI aborts only on SIGINT) exits 130; SmlmErrors never print a stack trace.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { isSmlmError } from '../errors.js';
import { packageRoot } from '../model/registry.js';
import * as estimate from './estimate.js';
import * as evaluate from './evaluate.js';
import * as info from './info.js';
import { EXIT_INTERRUPTED } from './interrupt.js';
import * as localize from './localize.js';
import * as reconstruct from './reconstruct.js';
import * as simulate from './simulate.js';
import * as train from './train.js';

interface CommandModule {
  register(program: Command): void;
}

const COMMANDS: CommandModule[] = [reconstruct, info, evaluate, localize, estimate, simulate, train];

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

export function buildProgram(): Command {
  const program = new Command('smlm-rt')
    .description('deep-learning reconstruction of high-density SMLM stacks (Deep-STORM / U-Net, CPU or CUDA)')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`smlm-rt: ${text}`) });
  // Settings above are inherited by the commands registered below.
  for (const command of COMMANDS) command.register(program);
  return program;
}

/** Runs the CLI on `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with exitCode 0; everything else commander throws is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isSmlmError(err)) {
      // On a terminal the progress bar may have left the cursor mid-line.
      const lead = process.stderr.isTTY ? '\n' : '';
      process.stderr.write(`${lead}smlm-rt: error ${err.code}: ${err.message}\n`);
      return err.code === 'E_ABORTED' ? EXIT_INTERRUPTED : 1;
    }
    process.stderr.write(`smlm-rt: internal error (please report): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await main();
}
