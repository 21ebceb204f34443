// The TypeScript client of the optinfer program: one import for the node's roles.
export {
  IDL,
  IDL_PATH,
  CODER,
  PROGRAM_ID,
  DECLARED_PROGRAM_ID,
  INSTRUCTION_DISCRIMINATORS,
  loadIdl,
} from './idl.ts';
export type { OptinferIdl } from './idl.ts';
export { Pdas, pdas, SEEDS } from './pdas.ts';
export * from './instructions.ts';
export * from './accounts.ts';
export * from './events.ts';
export * from './errors.ts';
export * from './sender.ts';
export * from './client.ts';
export * from './connect.ts';
export * from './reclaim.ts';
