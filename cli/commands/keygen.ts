// `optinfer keygen`: a new Solana CLI keypair file, for operators without the Solana CLI installed.
import { existsSync } from 'node:fs';
import { Keypair } from '@solana/web3.js';
import { saveKeypair } from '../../common/keys.ts';
import { OptinferError } from '../../state/errors.ts';

export function keygenCommand(o: { out: string; force: boolean }): number {
  if (existsSync(o.out) && !o.force) {
    throw new OptinferError(
      'INVALID_INPUT',
      `${o.out} already exists; not overwriting a key (pass --force to replace it)`,
    );
  }
  const k = Keypair.generate();
  saveKeypair(o.out, k);
  process.stdout.write(`${k.publicKey.toBase58()}\n`);
  return 0;
}
