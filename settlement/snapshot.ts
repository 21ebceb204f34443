// Persistence for the in-process chain: the program's accounts, the node's wallets and the slot, written to a
// file after every transaction (atomically: a temporary file renamed over the old one), read back on start.
// This is what lets `optinfer dev` on LiteSVM restart, or survive kill -9, with its chain state intact.
import { existsSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import type { PublicKey } from '@solana/web3.js';
import { address as kitAddress, lamports as kitLamports } from '@solana/kit';
import { OptinferError } from '../state/errors.ts';
import type { LiteSvmSender } from './sender.ts';

interface StoredAccount {
  address: string;
  lamports: string;
  owner: string;
  data: string;
}

interface Snapshot {
  version: 1;
  programId: string;
  slot: string;
  accounts: StoredAccount[];
}

function stored(a: {
  address: string;
  lamports: bigint;
  programAddress: string;
  data: ArrayLike<number>;
}): StoredAccount {
  return {
    address: a.address,
    lamports: a.lamports.toString(),
    owner: a.programAddress,
    data: Buffer.from(Uint8Array.from(a.data)).toString('base64'),
  };
}

/** Saves the chain after every transaction the sender commits; `wallets` are the non-program accounts to keep. */
export class LiteSvmSnapshot {
  saves = 0;

  constructor(
    private readonly sender: LiteSvmSender,
    readonly file: string,
    private readonly wallets: () => PublicKey[],
  ) {}

  /** Restores a saved chain into the sender; false when there is no file yet. */
  restore(): boolean {
    if (!existsSync(this.file)) return false;
    let s: Snapshot;
    try {
      s = JSON.parse(readFileSync(this.file, 'utf8')) as Snapshot;
    } catch (cause) {
      throw new OptinferError('INVALID_CONFIG', `chain snapshot ${this.file}: not readable JSON`, undefined, {
        cause,
      });
    }
    if (s.version !== 1 || s.programId !== this.sender.programId.toBase58()) {
      throw new OptinferError(
        'INVALID_CONFIG',
        `chain snapshot ${this.file}: expected version 1 of program ${this.sender.programId.toBase58()}, got version ${s.version} of ${s.programId}`,
      );
    }
    for (const a of s.accounts) {
      const data = Buffer.from(a.data, 'base64');
      this.sender.svm.setAccount({
        address: kitAddress(a.address),
        lamports: kitLamports(BigInt(a.lamports)),
        programAddress: kitAddress(a.owner),
        executable: false,
        data,
        space: BigInt(data.length),
      });
    }
    this.sender.svm.warpToSlot(BigInt(s.slot));
    return true;
  }

  save(): void {
    const svm = this.sender.svm;
    const accounts: StoredAccount[] = svm
      .getProgramAccounts(kitAddress(this.sender.programId.toBase58()))
      .map((a) => stored({ ...a, lamports: BigInt(a.lamports) }));
    for (const w of this.wallets()) {
      const a = svm.getAccount(kitAddress(w.toBase58()));
      if (a.exists) accounts.push(stored({ ...a, lamports: BigInt(a.lamports) }));
    }
    const snap: Snapshot = {
      version: 1,
      programId: this.sender.programId.toBase58(),
      slot: svm.getClock().slot.toString(),
      accounts,
    };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(snap));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.file);
    this.saves++;
  }
}
