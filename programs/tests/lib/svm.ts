// Test harness: loads the built SBF program into LiteSVM and sends web3.js-built transactions to it.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { LiteSVM, TransactionMetadata, FailedTransactionMetadata } from 'litesvm';
import { getTransactionDecoder, address as kitAddress, lamports as kitLamports } from '@solana/kit';
import { BorshCoder, type Idl } from '@coral-xyz/anchor';
import {
  Keypair,
  PublicKey,
  Transaction,
  TransactionInstruction,
  ComputeBudgetProgram,
  type AccountMeta,
} from '@solana/web3.js';
import { u16, u32, u64 } from '../../../state/le.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROGRAMS = path.resolve(HERE, '../..');
/** The deployed build (what programs/deploy/optinfer.so ships) and its committed IDL. */
export const SO_PATH = path.join(PROGRAMS, 'target/deploy/optinfer.so');
export const IDL_PATH = path.join(PROGRAMS, 'idl/optinfer.json');
/**
 * The VM test build: the same program plus the test-only `check` instruction (cargo feature
 * `check`), and its IDL; programs/scripts/build.sh writes both.
 */
export const TEST_SO_PATH = path.join(PROGRAMS, 'target/test/optinfer.so');
export const TEST_IDL_PATH = path.join(PROGRAMS, 'target/test/optinfer.json');

type ProgramIdl = Idl & { errors: { code: number; name: string }[] };
export const idl = JSON.parse(readFileSync(IDL_PATH, 'utf8')) as ProgramIdl;
export const coder = new BorshCoder(idl);
export const PROGRAM_ID = new PublicKey(idl.address);
export const errorName = (code: number) => idl.errors.find((e) => e.code === code)?.name ?? `code ${code}`;

let testCoderCache: BorshCoder | undefined;
/**
 * Coder of the test build's IDL. Read on first use, so suites on the deployed build run without
 * it, and refused unless it is the committed IDL plus `check`: every other instruction, account and
 * discriminator must be the deployed program's.
 */
export function testCoder(): BorshCoder {
  if (testCoderCache) return testCoderCache;
  const stale = 'run npm run build:program (programs/scripts/build.sh writes it)';
  if (!existsSync(TEST_IDL_PATH)) throw new Error(`${TEST_IDL_PATH} missing: ${stale}`);
  const t = JSON.parse(readFileSync(TEST_IDL_PATH, 'utf8')) as ProgramIdl;
  const rest = { ...t, instructions: t.instructions.filter((i) => i.name !== 'check') };
  if (
    rest.instructions.length !== t.instructions.length - 1 ||
    JSON.stringify(rest) !== JSON.stringify(idl)
  ) {
    throw new Error(`${TEST_IDL_PATH} is not the committed IDL plus check: ${stale}`);
  }
  testCoderCache = new BorshCoder(t);
  return testCoderCache;
}

/** The test build's `check` instruction: the program's pure functions on `data`, result in return data. */
export function checkInstruction(
  kind: number,
  data: Buffer,
  keys: AccountMeta[] = [],
): TransactionInstruction {
  return new TransactionInstruction({
    programId: PROGRAM_ID,
    keys,
    data: testCoder().instruction.encode('check', { kind, data }),
  });
}

/** Which binary a Harness runs: the deployed program, or the test build with `check`. */
export type Build = 'deploy' | 'test';

export interface TxResult {
  ok: boolean;
  cu: number;
  logs: string[];
  size: number;
  /** Custom program error name when the program failed with one. */
  error?: string;
  raw?: string;
  returnData: Buffer;
  events: { name: string; data: Record<string, unknown> }[];
}

export class Harness {
  svm: LiteSVM;
  slot = 1n;
  txs: TxResult[] = [];
  /** Encodes this build's instructions (the test build's IDL has `check`). */
  readonly coder: BorshCoder;

  constructor(readonly build: Build = 'deploy') {
    const so = build === 'test' ? TEST_SO_PATH : SO_PATH;
    if (!existsSync(so)) throw new Error(`${so} missing: run npm run build:program`);
    this.coder = build === 'test' ? testCoder() : coder;
    this.svm = new LiteSVM();
    this.svm.addProgramFromFile(kitAddress(PROGRAM_ID.toBase58()), so);
    this.svm.warpToSlot(this.slot);
  }

  fund(lamports = 100_000_000_000n): Keypair {
    const k = Keypair.generate();
    this.svm.airdrop(kitAddress(k.publicKey.toBase58()), kitLamports(lamports));
    return k;
  }

  balance(pk: PublicKey): bigint {
    return BigInt(this.svm.getBalance(kitAddress(pk.toBase58())) ?? 0n);
  }

  data(pk: PublicKey): Buffer | null {
    const a = this.svm.getAccount(kitAddress(pk.toBase58()));
    return a.exists ? Buffer.from(a.data) : null;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded Anchor accounts are untyped records
  fetch<T = Record<string, any>>(accountName: string, pk: PublicKey): T {
    const d = this.data(pk);
    if (!d) throw new Error(`account ${pk.toBase58()} missing`);
    return coder.accounts.decode(accountName, d) as T;
  }

  /**
   * Places a ProofBuffer account holding `body` directly into the VM (test-only shortcut; the
   * program checks owner and discriminator), for check-instruction inputs above one transaction.
   */
  putBuffer(body: Buffer): PublicKey {
    // Slab<ProofBuffer, u8>: [disc 8][dispute 32][owner 32][bump 1][len u32][bytes].
    const LEN_OFFSET = 8 + 32 + 32 + 1;
    const acc = idl.accounts!.find((a) => a.name === 'ProofBuffer')!;
    const data = Buffer.alloc(LEN_OFFSET + 4 + body.length);
    Buffer.from(acc.discriminator).copy(data, 0);
    data.writeUInt32LE(body.length, LEN_OFFSET);
    body.copy(data, LEN_OFFSET + 4);
    const pk = Keypair.generate().publicKey;
    this.svm.setAccount({
      address: kitAddress(pk.toBase58()),
      data,
      executable: false,
      lamports: kitLamports(this.svm.minimumBalanceForRentExemption(BigInt(data.length))),
      programAddress: kitAddress(PROGRAM_ID.toBase58()),
      space: BigInt(data.length),
    });
    return pk;
  }

  warp(slots: number | bigint) {
    this.slot += BigInt(slots);
    this.svm.warpToSlot(this.slot);
  }

  ix(name: string, args: Record<string, unknown>, keys: AccountMeta[]): TransactionInstruction {
    return new TransactionInstruction({
      programId: PROGRAM_ID,
      keys,
      data: this.coder.instruction.encode(name, args),
    });
  }

  send(ixs: TransactionInstruction[], signers: Keypair[], cuLimit = 1_400_000): TxResult {
    const tx = new Transaction();
    tx.add(ComputeBudgetProgram.setComputeUnitLimit({ units: cuLimit }));
    for (const i of ixs) tx.add(i);
    // A fresh blockhash per transaction, so resending the same instruction is a new transaction
    // and any rejection comes from the program, not from the duplicate-signature check.
    this.svm.expireBlockhash();
    tx.recentBlockhash = this.svm.latestBlockhash();
    tx.feePayer = signers[0].publicKey;
    tx.sign(...signers);
    const wire = tx.serialize();
    const kitTx = getTransactionDecoder().decode(wire);
    const res = this.svm.sendTransaction(kitTx as Parameters<LiteSVM['sendTransaction']>[0]);
    const meta = res instanceof FailedTransactionMetadata ? res.meta() : (res as TransactionMetadata);
    const logs = meta.logs();
    const out: TxResult = {
      ok: !(res instanceof FailedTransactionMetadata),
      cu: Number(meta.computeUnitsConsumed()),
      logs,
      size: wire.length,
      returnData: Buffer.from(meta.returnData().data()),
      events: [],
    };
    if (res instanceof FailedTransactionMetadata) {
      out.raw = res.toString();
      const m = logs.join('\n').match(/custom program error: 0x([0-9a-f]+)/);
      if (m) out.error = errorName(parseInt(m[1], 16));
    }
    for (const l of logs) {
      const m = l.match(/^Program data: (.+)$/);
      if (!m) continue;
      const ev = coder.events.decode(m[1]);
      if (ev) out.events.push(ev as unknown as TxResult['events'][number]);
    }
    this.txs.push(out);
    return out;
  }
}

export function pda(...seeds: (Buffer | Uint8Array | string)[]): PublicKey {
  return PublicKey.findProgramAddressSync(
    seeds.map((s) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s))),
    PROGRAM_ID,
  )[0];
}

export const PDA = {
  config: () => pda('config'),
  vault: () => pda('vault'),
  operator: (owner: PublicKey) => pda('operator', owner.toBuffer()),
  model: (modelId: Buffer) => pda('model', modelId),
  ops: (model: PublicKey, page: number) => pda('ops', model.toBuffer(), u16(page)),
  shapes: (model: PublicKey) => pda('shapes', model.toBuffer()),
  batch: (index: number | bigint) => pda('batch', u64(index)),
  dispute: (batch: PublicKey, job: number, challenger: PublicKey) =>
    pda('dispute', batch.toBuffer(), u32(job), challenger.toBuffer()),
  job: (batch: PublicKey, job: number) => pda('job', batch.toBuffer(), u32(job)),
  proof: (dispute: PublicKey, owner: PublicKey) => pda('proof', dispute.toBuffer(), owner.toBuffer()),
  deposit: (user: PublicKey) => pda('deposit', user.toBuffer()),
};
