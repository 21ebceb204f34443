// Executor pay: claims the fees of this executor's jobs once their batch is finalized on chain (claim_fees), keeps what it claimed or gave up on in its LevelDB, and logs what it earns.
import type { Keypair } from '@solana/web3.js';
import type { Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import { feeClaimed } from '../settlement/accounts.ts';
import type { SettlementClient } from '../settlement/client.ts';
import {
  claimsPerTransaction,
  DEFAULT_CU_PER_INSTRUCTION,
  type FeeClaim,
} from '../settlement/instructions.ts';
import { LAMPORTS_PER_SIGNATURE } from '../settlement/sender.ts';
import { fromHex } from '../state/hash.ts';
import { decodeJobRecord, openingOf, verifyInclusion, type InclusionProof } from '../state/job.ts';
import type { JobId } from '../state/types.ts';
import type { ClaimsView } from '../client/types.ts';

/** How often the executor looks for finalized batches holding its unclaimed fees. */
export const FEE_CLAIM_MS = 15_000;

/** Why a job's fee will not be claimed: another executor's record, proven wrong, lost, or not worth a transaction. */
export type UnclaimableReason =
  /** The committed record names another executor (the job was re-assigned). */
  | 'not-mine'
  /** The job was invalidated: its fee goes back to the sequencer, which pays its re-run. */
  | 'invalidated'
  /** The batch was closed (one window after finalization) before the claim: the fee went back to the sequencer. */
  | 'batch-closed'
  /** The sequencer escrowed less than its batch tree sums to: the program pays no executor of that batch. */
  | 'escrow-short'
  /** The claim transaction would have cost more than the fees it carried (FeeClaimerDeps.txCost). */
  | 'uneconomic';

/**
 * A job's fee as the claimer last saw it, one entry per job id in the executor's LevelDB (ResultStore.claimStore):
 * `due` until it is claimed or found unclaimable. Lamports are decimal strings.
 */
export type ClaimEntry =
  | {
      state: 'due';
      batch: number;
      index: number;
      fee: string;
      /** The inclusion proof as the sequencer served it: a restarted executor claims without asking again. */
      proof: InclusionProof;
      at: number;
    }
  | {
      state: 'claimed';
      batch: number;
      index: number;
      fee: string;
      /** The claim_fees transaction, or absent when the claim bitmap showed it paid (a claim whose write was lost). */
      tx?: string;
      at: number;
    }
  | {
      state: 'unclaimable';
      reason: UnclaimableReason;
      batch: number;
      index: number;
      fee: string;
      /** For 'uneconomic': the fees of the claim that was skipped and what its transaction would have cost. */
      claimFees?: string;
      txCost?: string;
      at: number;
    };

/** Where the claimer keeps its entries (the executor's LevelDB, ResultStore.claimStore); every save is atomic. */
export interface ClaimStore {
  load(): Promise<[string, ClaimEntry][]>;
  save(entries: [string, ClaimEntry][]): Promise<void>;
}

/** Jobs and lamports of one kind of entry. */
export interface FeeCount {
  jobs: number;
  lamports: bigint;
}

/** What the claimer's table holds, summed (optinfer earnings). */
export interface FeeSummary {
  /** Paid to this executor. */
  claimed: FeeCount;
  /** Batched, not yet claimed: waiting for finalization, or a claim that failed and is retried. */
  due: FeeCount;
  /** Not claimed because the transaction would have cost more than it paid. */
  skipped: FeeCount;
  /** Lost: the batch closed first, or its escrow was short. */
  lost: FeeCount;
  /** Invalidated jobs (their fee goes to the re-run's executor). */
  invalidated: FeeCount;
}

/**
 * What one claim_fees transaction costs its executor: one signature, plus the priority fee on the default
 * compute budget when the client sets one (claim_fees sends no compute-budget limit).
 */
export function claimTxCost(client: SettlementClient): bigint {
  const micro = BigInt(client.opts.priorityMicroLamports ?? 0);
  return LAMPORTS_PER_SIGNATURE + (micro * BigInt(DEFAULT_CU_PER_INSTRUCTION) + 999_999n) / 1_000_000n;
}

export interface FeeClaimerDeps {
  client: SettlementClient;
  keypair: Keypair;
  /** The jobs this executor answered (its result store). */
  jobIds: () => Promise<JobId[]>;
  /** A job's inclusion proof from the sequencer (record, signature, siblings), undefined until it is batched. */
  proofs: (jobId: JobId) => Promise<InclusionProof | undefined>;
  /** Where entries persist across restarts; without one they are kept in memory only. */
  store?: ClaimStore;
  /**
   * What one claim transaction costs (claimTxCost): a claim whose fees are below it is skipped, logged with the
   * figures, and recorded 'uneconomic'. Omitted: every claim is sent, whatever it costs.
   */
  txCost?: () => bigint;
  log: Logger;
  metrics?: Metrics;
}

interface Due {
  id: string;
  fee: bigint;
  proof: InclusionProof;
}

/**
 * Claims the fees of the executor's jobs in finalized batches, several jobs per transaction
 * (claimsPerTransaction), skipping jobs already claimed (the batch's claim bitmap on chain) and invalidated ones
 * (their fee goes back to the sequencer). A batch must be claimed before close_batch (one challenge window after
 * finalization): a closed batch pays nothing, and that loss is logged.
 *
 * Every job it learns of is written to its table (ClaimStore) with its inclusion proof while due, and as claimed or
 * unclaimable (with the reason) once settled, so a restarted executor neither claims again nor reports as lost
 * what it was paid, and claims what is due even if the sequencer no longer serves the proof. A claim confirmed on
 * chain whose write was lost is found in the claim bitmap and recorded claimed (unless its batch closed meanwhile,
 * one window later: it is then recorded 'batch-closed').
 */
export class FeeClaimer {
  private book: Map<string, ClaimEntry> | null = null;
  /** Short batches already logged (the top-up is retried every pass, logged once). */
  private readonly shortWarned = new Set<number>();
  /** Lamports claimed since start. */
  earned = 0n;
  private running: Promise<bigint> = Promise.resolve(0n);

  constructor(private readonly d: FeeClaimerDeps) {}

  /** One pass (passes never overlap); returns the lamports it claimed. */
  pass(): Promise<bigint> {
    this.running = this.running.then(() => this.claimAll());
    return this.running;
  }

  /** The table, as entries by job id (loaded from the store on first use). */
  async entries(): Promise<Map<string, ClaimEntry>> {
    if (!this.book) this.book = new Map((await this.d.store?.load()) ?? []);
    return this.book;
  }

  /** The table summed by kind. */
  async summary(): Promise<FeeSummary> {
    return summarize((await this.entries()).values());
  }

  /** Writes `list` to the store, then to the table in memory (a failed write leaves both as they were). */
  private async record(list: [string, ClaimEntry][]): Promise<void> {
    if (list.length === 0) return;
    await this.d.store?.save(list);
    const book = await this.entries();
    for (const [k, v] of list) book.set(k, v);
  }

  private async claimAll(): Promise<bigint> {
    const { client, keypair, log } = this.d;
    const me = keypair.publicKey.toBase58();
    const book = await this.entries();
    const now = Date.now();

    // New jobs, and jobs recorded as another executor's or invalidated (a re-run may come back to this executor in
    // a later batch), from the sequencer's proofs.
    const learned: [string, ClaimEntry][] = [];
    for (const id of await this.d.jobIds()) {
      const e = book.get(id);
      const recheck = e?.state === 'unclaimable' && (e.reason === 'not-mine' || e.reason === 'invalidated');
      if (e && !recheck) continue;
      const proof = await this.d.proofs(id).catch(() => undefined);
      if (!proof || (e && e.batch === proof.batchIndex && e.index === proof.index)) continue;
      const r = decodeJobRecord(fromHex(proof.record));
      const at = { batch: proof.batchIndex as number, index: proof.index, fee: r.fee.toString(), at: now };
      learned.push([
        id,
        r.executor === me
          ? { state: 'due', ...at, proof }
          : { state: 'unclaimable', reason: 'not-mine', ...at },
      ]);
    }
    await this.record(learned);

    const byBatch = new Map<number, Due[]>();
    for (const [id, e] of book) {
      if (e.state !== 'due') continue;
      const list = byBatch.get(e.batch) ?? [];
      list.push({ id, fee: BigInt(e.fee), proof: e.proof });
      byBatch.set(e.batch, list);
    }
    let total = 0n;
    for (const [index, jobs] of [...byBatch].sort((a, b) => a[0] - b[0])) {
      const settle = (js: Due[], reason: UnclaimableReason, extra: Partial<ClaimEntry> = {}) =>
        this.record(
          js.map((j) => [
            j.id,
            {
              state: 'unclaimable',
              reason,
              batch: index,
              index: j.proof.index,
              fee: j.fee.toString(),
              at: Date.now(),
              ...extra,
            } as ClaimEntry,
          ]),
        );
      const sum = (js: Due[]) => js.reduce((s, j) => s + j.fee, 0n);
      const state = await client.batchState(BigInt(index));
      if (state.state === 'closed') {
        log.warn(
          { batch: index, jobs: jobs.length, lamports: sum(jobs).toString() },
          'fees lost: batch closed before they were claimed',
        );
        await settle(jobs, 'batch-closed');
        continue;
      }
      if (state.state !== 'open' || state.batch.finalized === 0) continue;
      const b = state.batch;
      const bad = jobs.filter(
        (j) => Buffer.from(fromHex(j.proof.batchRoot)).compare(b.root) !== 0 || !verifyInclusion(j.proof),
      );
      if (bad.length) {
        // Asked again: the proofs the sequencer serves now replace the stored ones, for the next pass.
        log.warn(
          { batch: index, jobs: bad.length },
          'sequencer proofs do not open the committed root; fees not claimed',
        );
        const fresh: [string, ClaimEntry][] = [];
        for (const j of bad) {
          const p = await this.d.proofs(j.id as JobId).catch(() => undefined);
          const e = book.get(j.id);
          if (p && e?.state === 'due' && p.batchIndex === index && p.index === e.index)
            fresh.push([j.id, { ...e, proof: p }]);
        }
        await this.record(fresh);
        continue;
      }
      // The program pays no executor of a batch whose tree's fee sum passes its escrow (EscrowShort). This
      // executor proves it (prove_short_escrow, until close_batch): the sequencer is slashed once per batch,
      // the bounty to the prover, and its bond tops the escrow up when it covers the shortfall. A later
      // proof retries the top-up alone (the bond may have been locked in games and be free again), so a
      // short batch stays due until it pays or closes.
      const feeSum = BigInt(jobs[0].proof.feeSum);
      if (feeSum > b.feeTotal) {
        let toppedUp = 0n;
        let bounty = 0n;
        let err = '';
        try {
          const r = await client.proveShortEscrow(keypair, openingOf(jobs[0].proof));
          const ev = r.events.find((e) => e.name === 'EscrowShortProven');
          bounty = ev?.name === 'EscrowShortProven' ? ev.data.bounty : 0n;
          toppedUp = ev?.name === 'EscrowShortProven' ? ev.data.toppedUp : 0n;
        } catch (e) {
          err = (e as Error).message;
        }
        if (toppedUp === 0n) {
          if (!this.shortWarned.has(index)) {
            this.shortWarned.add(index);
            log.warn(
              {
                batch: index,
                feeSum: feeSum.toString(),
                escrow: b.feeTotal.toString(),
                lamports: sum(jobs).toString(),
                bounty: bounty.toString(),
                ...(err ? { err } : {}),
              },
              'short escrow: the sequencer escrowed less than its batch tree sums to and its bond cannot top it up now; retrying until close_batch',
            );
          }
          continue;
        }
        log.warn(
          {
            batch: index,
            feeSum: feeSum.toString(),
            toppedUp: toppedUp.toString(),
            bounty: bounty.toString(),
          },
          'short escrow proven and topped up from the sequencer bond; claiming',
        );
      }
      const data = await client.sender.getAccountData(client.pdas.batch(index));
      const invalid = new Set(b.invalidated > 0 ? await client.invalidatedJobs(index) : []);
      const paidBefore = jobs.filter((j) => data && feeClaimed(data, j.proof.index));
      await this.record(
        paidBefore.map((j) => [
          j.id,
          { state: 'claimed', batch: index, index: j.proof.index, fee: j.fee.toString(), at: Date.now() },
        ]),
      );
      await settle(
        jobs.filter((j) => invalid.has(j.proof.index)),
        'invalidated',
      );
      // Largest fees first: each transaction carries the most it can, and once one does not pay for itself
      // neither does any after it.
      const todo = jobs
        .filter((j) => !paidBefore.includes(j) && !invalid.has(j.proof.index))
        .sort((x, y) => (x.fee === y.fee ? 0 : x.fee > y.fee ? -1 : 1));
      const per = claimsPerTransaction(b.jobCount, b.invalidated > 0);
      const cost = this.d.txCost?.();
      for (let i = 0; i < todo.length; i += per) {
        const chunk = todo.slice(i, i + per);
        if (cost !== undefined && sum(chunk) < cost) {
          const rest = todo.slice(i);
          log.warn(
            {
              batch: index,
              jobs: rest.length,
              lamports: sum(rest).toString(),
              claimFees: sum(chunk).toString(),
              txCost: cost.toString(),
              claimsPerTx: per,
            },
            'fees not claimed: a claim transaction would cost more than the fees it carries',
          );
          await settle(rest, 'uneconomic', { claimFees: sum(chunk).toString(), txCost: cost.toString() });
          break;
        }
        const claims: FeeClaim[] = chunk.map(({ proof: p }) => openingOf(p));
        let paid: bigint;
        let tx: string;
        try {
          const r = await client.claimFees(keypair, index, claims);
          const ev = r.events.find((e) => e.name === 'FeesClaimed');
          paid = ev?.name === 'FeesClaimed' ? ev.data.amount : 0n;
          tx = r.signature;
        } catch (e) {
          log.warn(
            { batch: index, jobs: chunk.length, err: (e as Error).message },
            'fee claim failed; retrying',
          );
          continue;
        }
        total += paid;
        this.earned += paid;
        (this.d.metrics ?? noopMetrics).inc('fees_claimed_lamports_total', {}, Number(paid));
        log.info(
          {
            batch: index,
            jobs: chunk.length,
            lamports: paid.toString(),
            earned: this.earned.toString(),
            ...(cost !== undefined && { txCost: cost.toString() }),
          },
          'fees claimed',
        );
        await this.record(
          chunk.map((j) => [
            j.id,
            {
              state: 'claimed',
              batch: index,
              index: j.proof.index,
              fee: j.fee.toString(),
              tx,
              at: Date.now(),
            },
          ]),
        ).catch((e: Error) =>
          // The claim bitmap has them: the next pass records them claimed without sending again.
          log.warn(
            { batch: index, err: e.message },
            'claimed fees not recorded; the next pass reads the chain',
          ),
        );
      }
    }
    return total;
  }
}

/** A summary as the HTTP API and `optinfer earnings` show it (client/types.ts ClaimsView). */
export function claimsView(s: FeeSummary): ClaimsView {
  return {
    feesClaimed: s.claimed.lamports.toString(),
    jobsClaimed: s.claimed.jobs,
    feesDue: s.due.lamports.toString(),
    jobsDue: s.due.jobs,
    feesSkipped: s.skipped.lamports.toString(),
    jobsSkipped: s.skipped.jobs,
    feesLost: s.lost.lamports.toString(),
    jobsLost: s.lost.jobs,
  };
}

/** Sums entries by kind (FeeSummary). */
export function summarize(entries: Iterable<ClaimEntry>): FeeSummary {
  const zero = (): FeeCount => ({ jobs: 0, lamports: 0n });
  const s: FeeSummary = { claimed: zero(), due: zero(), skipped: zero(), lost: zero(), invalidated: zero() };
  for (const e of entries) {
    const k: keyof FeeSummary | null =
      e.state !== 'unclaimable'
        ? e.state
        : e.reason === 'uneconomic'
          ? 'skipped'
          : e.reason === 'invalidated'
            ? 'invalidated'
            : e.reason === 'not-mine'
              ? null
              : 'lost';
    if (!k) continue;
    s[k].jobs++;
    s[k].lamports += BigInt(e.fee);
  }
  return s;
}
