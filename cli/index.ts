import './threadpool.js';
import { Command, CommanderError } from 'commander';
import { makeSidecarCommand } from './commands/sidecar.js';
import { makeTokensCommand } from './commands/tokens.js';
import { makeSubjectsCommand } from './commands/subjects.js';
import { makeVerifyCommand } from './commands/verify.js';
import { makeSecretCommand } from './commands/secret.js';
import { makeConfigCommand } from './commands/config.js';
import { makeClusterCommand } from './commands/cluster.js';
import { makeStoreCommand } from './commands/store.js';
import { CliError, processIo, type Io } from './output.js';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';
import { TokensyncError } from '../sidecar/errors/tokensync-error.js';
import { VERSION } from '../sidecar/version.js';
import { describeBinding } from '../sidecar/store/zookeeper/binding-patch.js';

/** The whole CLI. Tests pass their own Io and call exitOverride() to keep the process alive. */
export function buildProgram(io: Io = processIo): Command {
  const program = new Command('tokensync')
    .description('keep authentication tokens in sync across a cluster (DIRECTORY or ZooKeeper shared store)')
    // which native binding a ZOOKEEPER store would load, read from files: the binding itself stays unloaded
    .version(`tokensync ${VERSION} (${describeBinding()})`);
  (program as unknown as { io: Io }).io = io;
  program
    .addCommand(makeSidecarCommand())
    .addCommand(makeTokensCommand())
    .addCommand(makeSubjectsCommand())
    .addCommand(makeVerifyCommand())
    .addCommand(makeSecretCommand())
    .addCommand(makeConfigCommand())
    .addCommand(makeStoreCommand())
    .addCommand(makeClusterCommand());
  // Usage errors exit 2 (commander's default is 1, which we keep for "tried and failed").
  const exitTwo = (cmd: Command) => {
    cmd.exitOverride((err) => {
      throw err;
    });
    cmd.configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(commanderErrorLine(s, cmd)),
    });
    cmd.commands.forEach(exitTwo);
  };
  exitTwo(program);
  return program;
}

/**
 * Commander's own error ("error: unknown command 'lst'" and a "(Did you mean ...?)" line) in the documented
 * one-line form: `tokensync: <what>`, with the hint and where to find the usage on the same line.
 */
export function commanderErrorLine(text: string, command: Command): string {
  const what = text
    .replace(/^error:\s*/, '')
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim()
    .replace(/\(Did you mean/, '(did you mean');
  const path: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) path.unshift(c.name());
  return `tokensync: ${what} (add --help for usage: ${path.join(' ')} --help)`;
}

const COMMANDER_DONE = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** Exit code for an error: 2 for bad usage or configuration, 1 for anything that was tried and failed. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CommanderError) return COMMANDER_DONE.has(err.code) ? 0 : 2;
  if (err instanceof TokensyncError) return EXIT_CODES[err.code];
  return 1;
}

/** What went wrong, on one line: never a stack trace. */
function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const code = exitCodeOf(err);
    if (!(err instanceof CommanderError) && !(err instanceof CliError && err.reported)) io.err(`tokensync: ${oneLine(err)}`);
    return code;
  }
}
