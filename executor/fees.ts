// Executor pay: claims the fees of this executor's jobs once their batch is finalized on chain (claim_fees), and logs what it earns.
import type { Keypair } from '@solana/web3.js';
import type { Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import { feeClaimed } from '../settlement/accounts.ts';
import type { SettlementClient } from '../settlement/client.ts';
import { claimsPerTransaction, type FeeClaim } from '../settlement/instructions.ts';
import { fromHex } from '../state/hash.ts';
import { decodeJobRecord, openingOf, verifyInclusion, type InclusionProof } from '../state/job.ts';
import type { JobId } from '../state/types.ts';

/** How often the executor looks for finalized batches holding its unclaimed fees. */
export const FEE_CLAIM_MS = 15_000;

export interface FeeClaimerDeps {
  client: SettlementClient;
  keypair: Keypair;
  /** The jobs this executor answered (its result store). */
  jobIds: () => Promise<JobId[]>;
  /** A job's inclusion proof from the sequencer (record, signature, siblings), undefined until it is batched. */
  proofs: (jobId: JobId) => Promise<InclusionProof | undefined>;
  log: Logger;
  metrics?: Metrics;
}

/**
 * Claims the fees of the executor's jobs in finalized batches, several jobs per transaction
 * (claimsPerTransaction), skipping jobs already claimed (the batch's claim bitmap on chain) and invalidated ones
 * (their fee goes back to the sequencer). A batch must be claimed before close_batch (one challenge window after
 * finalization): a closed batch pays nothing, and that loss is logged.
 */
export class FeeClaimer {
  /** Jobs settled for good: claimed, invalidated, another executor's record, or their batch closed. */
  private readonly done = new Set<string>();
  /** Lamports claimed since start. */
  earned = 0n;
  private running: Promise<bigint> = Promise.resolve(0n);

  constructor(private readonly d: FeeClaimerDeps) {}

  /** One pass (passes never overlap); returns the lamports it claimed. */
  pass(): Promise<bigint> {
    this.running = this.running.then(() => this.claimAll());
    return this.running;
  }

  private async claimAll(): Promise<bigint> {
    const { client, keypair, log } = this.d;
    const me = keypair.publicKey.toBase58();
    const byBatch = new Map<number, { id: JobId; proof: InclusionProof }[]>();
    for (const id of await this.d.jobIds()) {
      if (this.done.has(id)) continue;
      const proof = await this.d.proofs(id).catch(() => undefined);
      if (!proof) continue;
      if (decodeJobRecord(fromHex(proof.record)).executor !== me) {
        this.done.add(id);
        continue;
      }
      const list = byBatch.get(proof.batchIndex) ?? [];
      list.push({ id, proof });
      byBatch.set(proof.batchIndex, list);
    }
    let total = 0n;
    for (const [index, jobs] of byBatch) {
      const state = await client.batchState(BigInt(index));
      if (state.state === 'closed') {
        const lost = jobs.reduce((s, j) => s + decodeJobRecord(fromHex(j.proof.record)).fee, 0n);
        log.warn(
          { batch: index, jobs: jobs.length, lamports: lost.toString() },
          'fees lost: batch closed before they were claimed',
        );
        for (const j of jobs) this.done.add(j.id);
        continue;
      }
      if (state.state !== 'open' || state.batch.finalized === 0) continue;
      const b = state.batch;
      if (
        jobs.some(
          (j) => Buffer.from(fromHex(j.proof.batchRoot)).compare(b.root) !== 0 || !verifyInclusion(j.proof),
        )
      ) {
        log.warn({ batch: index }, 'sequencer proofs do not open the committed root; fees not claimed');
        continue;
      }
      // The program pays no executor of a batch whose tree's fee sum passes its escrow (EscrowShort). This
      // executor proves it (prove_short_escrow, until close_batch) unless someone did: the sequencer is
      // slashed once per batch, the bounty to the prover.
      const feeSum = BigInt(jobs[0].proof.feeSum);
      let toppedUp = 0n;
      let bounty = 0n;
      if (feeSum > b.feeTotal) {
        if (b.escrowShort === 0) {
          try {
            const r = await client.proveShortEscrow(keypair, openingOf(jobs[0].proof));
            const ev = r.events.find((e) => e.name === 'EscrowShortProven');
            bounty = ev?.name === 'EscrowShortProven' ? ev.data.bounty : 0n;
            toppedUp = ev?.name === 'EscrowShortProven' ? ev.data.toppedUp : 0n;
          } catch (e) {
            log.warn({ batch: index, err: (e as Error).message }, 'short escrow not proven; retrying');
            continue;
          }
        }
      }
      if (toppedUp > 0n) {
        // The batch's fault reserve covered the shortfall: the escrow now reaches the tree's sum.
        log.warn(
          { batch: index, feeSum: feeSum.toString(), toppedUp: toppedUp.toString() },
          'short escrow proven and topped up from the batch fault reserve; claiming',
        );
      } else if (feeSum > b.feeTotal) {
        log.warn(
          {
            batch: index,
            feeSum: feeSum.toString(),
            escrow: b.feeTotal.toString(),
            lamports: jobs.reduce((s, j) => s + decodeJobRecord(fromHex(j.proof.record)).fee, 0n).toString(),
            bounty: bounty.toString(),
          },
          'fees lost: the sequencer escrowed less than its batch tree sums to',
        );
        for (const j of jobs) this.done.add(j.id);
        continue;
      }
      const data = await client.sender.getAccountData(client.pdas.batch(index));
      const invalid = new Set(b.invalidated > 0 ? await client.invalidatedJobs(index) : []);
      const todo = jobs.filter((j) => {
        const settled = (data && feeClaimed(data, j.proof.index)) || invalid.has(j.proof.index);
        if (settled) this.done.add(j.id);
        return !settled;
      });
      const per = claimsPerTransaction(b.jobCount, b.invalidated > 0);
      for (let i = 0; i < todo.length; i += per) {
        const chunk = todo.slice(i, i + per);
        const claims: FeeClaim[] = chunk.map(({ proof: p }) => openingOf(p));
        try {
          const r = await client.claimFees(keypair, index, claims);
          const ev = r.events.find((e) => e.name === 'FeesClaimed');
          const paid = ev?.name === 'FeesClaimed' ? ev.data.amount : 0n;
          total += paid;
          this.earned += paid;
          for (const j of chunk) this.done.add(j.id);
          (this.d.metrics ?? noopMetrics).inc('fees_claimed_lamports_total', {}, Number(paid));
          log.info(
            {
              batch: index,
              jobs: chunk.length,
              lamports: paid.toString(),
              earned: this.earned.toString(),
            },
            'fees claimed',
          );
        } catch (e) {
          log.warn(
            { batch: index, jobs: chunk.length, err: (e as Error).message },
            'fee claim failed; retrying',
          );
        }
      }
    }
    return total;
  }
}
