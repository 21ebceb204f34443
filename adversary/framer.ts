// The framing sequencer and its accomplice: commits a batch naming a bonded executor with a result it never signed, then disputes it.
import { SystemProgram, TransactionInstruction, type Keypair, type PublicKey } from '@solana/web3.js';
import { createHash } from 'node:crypto';
import { ED25519_PROGRAM_ID, type SettlementClient } from '../settlement/index.ts';
import { fromHex, hashHex } from '../state/hash.ts';
import {
  Batch,
  encodeJobRecord,
  resultDigestOf,
  signResult,
  openingOf,
  type InclusionProof,
  type JobRecord,
} from '../state/job.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';

/** How the accomplice tried to open the dispute on the framed record, and what the cluster said. */
export interface FramingAttempt {
  /**
   * 'forged': the ordinary open_dispute transaction, whose Ed25519 check reads the victim's key and the
   * forged signature (the Ed25519 program refuses it); 'no-check': open_dispute alone; 'framer-key': an
   * Ed25519 check that passes, the sequencer's key over the framed record's digest, before open_dispute.
   */
  how: 'forged' | 'no-check' | 'framer-key';
  ok: boolean;
  /** The refusal's code (PROGRAM_BAD_RESULT_SIGNATURE, PROGRAM_MISSING_RESULT_SIGNATURE, ...). */
  code?: string;
  /** The index of the instruction that failed, when the cluster said. */
  instruction?: number;
  message?: string;
}

export interface Framed {
  batchIndex: bigint;
  /** Position of the framed record in the batch. */
  position: number;
  proof: InclusionProof;
  record: JobRecord;
}

const sha = (s: string) => hashHex<Hash32>(createHash('sha256').update(s).digest());

/**
 * Attack 2 of issue 13 ("the sequencer frames any executor"), played with the sequencer's own key. The
 * sequencer process numbers its batches itself, so the framer commits its batch outside it, at the next free
 * index, once the sequencer has committed everything it holds (a batch the sequencer later tried at the same
 * index would be a SETTLEMENT_CONFLICT, never an overwrite). The batch holds filler records signed by the
 * sequencer under its own name and one record naming `victim` with an output digest the victim never
 * produced; the sequencer cannot sign for the victim, so that record carries the sequencer's signature.
 * The accomplice, bonded as a challenger, then tries every way it has to open a dispute on it.
 */
export class FramingSequencer {
  readonly attempts: FramingAttempt[] = [];

  constructor(
    private readonly client: SettlementClient,
    private readonly sequencer: Keypair,
    readonly accomplice: Keypair,
  ) {}

  /** Funds the accomplice from the sequencer's wallet and bonds it with `bond` lamports. */
  async recruit(bond: bigint, fee = 100_000_000n): Promise<void> {
    await this.client.sender.send(
      [
        SystemProgram.transfer({
          fromPubkey: this.sequencer.publicKey,
          toPubkey: this.accomplice.publicKey,
          lamports: bond + fee,
        }),
      ],
      [this.sequencer],
      { label: 'fund the accomplice' },
    );
    await this.client.bond(this.accomplice, bond);
  }

  /**
   * Commits the framing batch at the next batch index: `jobs` records, the framed one at `position`, on a
   * registered model (so nothing but the signature can refuse the dispute).
   */
  async commit(p: {
    victim: PublicKey;
    modelId: ModelId;
    inputDigest: Hash32;
    jobs?: number;
    position?: number;
  }): Promise<Framed> {
    const jobs = p.jobs ?? 3;
    const position = p.position ?? 1;
    const index = (await this.client.config()).nextBatchIndex;
    const seqId = this.sequencer.publicKey.toBase58() as ExecutorId;
    const records: JobRecord[] = Array.from({ length: jobs }, (_, k) => {
      const framed = k === position;
      const r = {
        jobId: sha(`framing ${index} ${k}`) as string as JobId,
        modelId: p.modelId,
        inputDigest: p.inputDigest,
        // An output the victim never produced.
        outputDigest: sha(framed ? 'an output the victim never produced' : `filler ${k}`),
        executor: framed ? (p.victim.toBase58() as ExecutorId) : seqId,
        fee: 1_000n,
      };
      // The only key it has: its own. On the framed record that is a signature the victim did not make.
      return signResult(r, this.sequencer.secretKey);
    });
    const batch = new Batch(Number(index) as BatchIndex, records);
    await this.client.commitBatch(this.sequencer, {
      index,
      root: fromHex(batch.root, 32),
      jobCount: jobs,
      feeTotal: batch.feeSum,
    });
    return { batchIndex: index, position, proof: batch.proof(position), record: records[position] };
  }

  /** The accomplice tries each way of opening a dispute on the framed record; every outcome is recorded. */
  async dispute(f: Framed): Promise<FramingAttempt[]> {
    const args = { challenger: this.accomplice.publicKey, ...openingOf(f.proof) };
    const open = this.client.ix.openDispute(args);
    await this.attempt('forged', () => this.client.openDispute(this.accomplice, f.proof));
    await this.attempt('no-check', () =>
      this.client.sender.send([open], [this.accomplice], { label: 'open_dispute without Ed25519' }),
    );
    const digest = resultDigestOf(encodeJobRecord(f.record));
    await this.attempt('framer-key', () =>
      this.client.sender.send(
        [selfContainedCheck(this.sequencer.publicKey.toBytes(), fromHex(f.record.signature), digest), open],
        [this.accomplice],
        { label: "open_dispute after an Ed25519 check of the framer's key" },
      ),
    );
    return this.attempts;
  }

  private async attempt(how: FramingAttempt['how'], f: () => Promise<unknown>): Promise<void> {
    try {
      await f();
      this.attempts.push({ how, ok: true });
    } catch (e) {
      const err = e as { code?: string; message?: string; details?: { instruction?: number } };
      this.attempts.push({
        how,
        ok: false,
        code: err.code,
        instruction: err.details?.instruction,
        message: err.message,
      });
    }
  }
}

/**
 * An Ed25519 check carrying key, signature and message in its own data: the sequencer's signature over the
 * framed record's digest verifies under the sequencer's key, which is what a framer can make pass.
 */
function selfContainedCheck(pubkey: Uint8Array, signature: Uint8Array, message: Uint8Array) {
  const data = Buffer.alloc(16 + 32 + 64 + message.length);
  data[0] = 1;
  [48, 0xffff, 16, 0xffff, 112, message.length, 0xffff].forEach((v, k) => data.writeUInt16LE(v, 2 + 2 * k));
  data.set(pubkey, 16);
  data.set(signature, 48);
  data.set(message, 112);
  return new TransactionInstruction({ programId: ED25519_PROGRAM_ID, keys: [], data });
}
