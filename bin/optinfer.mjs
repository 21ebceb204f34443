#!/usr/bin/env node
// Entry point for `npx optinfer`: loads the TypeScript sources through tsx and runs the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A command is done when main returns; a JSON-RPC websocket left open by a confirmation must not keep it alive.
setTimeout(() => process.exit(code), 200).unref();
