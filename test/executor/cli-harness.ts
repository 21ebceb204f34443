// Runs the trace and verify commands in a child process exactly as cli/main.ts wires them, for the CLI tests.
import { traceCommand } from '../../cli/commands/trace.ts';
import { verifyCommand } from '../../cli/commands/verify.ts';

const [command, ...rest] = process.argv.slice(2);
const opts: Record<string, string> = {};
for (let i = 0; i < rest.length; i += 2) opts[rest[i].replace(/^--/, '')] = rest[i + 1];
const code =
  command === 'trace'
    ? await traceCommand(opts as { model: string; input: string })
    : await verifyCommand(opts as { model: string; input: string; claim: string });
process.exitCode = code;
