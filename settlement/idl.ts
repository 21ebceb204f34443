// The program's committed IDL (programs/idl/optinfer.json), its coder and its program id, loaded once.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { BorshCoder, type Idl } from '@coral-xyz/anchor';
import { PublicKey } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';

export const IDL_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../programs/idl/optinfer.json',
);

/** The program id declared in the program (`declare_id!`) and written into the IDL. */
export const DECLARED_PROGRAM_ID = 'GjvfTiKdZ3ok4BNNrBKst25dVdfmXaEarnwtbpMqsEEk' as const;

export interface IdlErrorEntry {
  code: number;
  name: string;
  msg?: string;
}
export interface IdlAccountMeta {
  name: string;
  writable?: boolean;
  signer?: boolean;
  optional?: boolean;
  address?: string;
}
/** The parts of the IDL this client reads, on top of anchor's own `Idl` type. */
export type OptinferIdl = Idl & {
  address: typeof DECLARED_PROGRAM_ID;
  errors: IdlErrorEntry[];
};

export function loadIdl(file = IDL_PATH): OptinferIdl {
  const idl = JSON.parse(readFileSync(file, 'utf8')) as OptinferIdl;
  if (idl.address !== DECLARED_PROGRAM_ID) {
    throw new OptinferError(
      'INTERNAL',
      `${file}: program address ${idl.address}, expected ${DECLARED_PROGRAM_ID}`,
    );
  }
  return idl;
}

export const IDL: OptinferIdl = loadIdl();
/** Borsh coder over the IDL; field names are the IDL's (snake_case), not camelCased. */
export const CODER = new BorshCoder(IDL);
export const PROGRAM_ID = new PublicKey(IDL.address);

/** Instruction names in the IDL, with their one-byte discriminators (`#[discrim = N]`). */
export const INSTRUCTION_DISCRIMINATORS: Readonly<Record<string, number>> = Object.fromEntries(
  IDL.instructions.map((i) => [i.name, i.discriminator[0]]),
);
