// Settlement on the optinfer program: batch roots committed on chain, finality and invalidations read back from it.
import { PublicKey, type Signer } from '@solana/web3.js';
import type { ExecutorId, Hash32, ModelId } from '../state/types.ts';
import {
  DEFAULT_SLOT_MS,
  finalizable,
  freeBond,
  reclaimBatches,
  type ConfigAccount,
  type SettlementClient,
} from '../settlement/index.ts';
import type { Progress } from '../common/progress.ts';
import { OptinferError } from '../state/errors.ts';
import { fromHex, toHex } from '../state/hash.ts';
import { encodeInputSet } from '../state/input-set.ts';
import { siblingFeesOf } from '../state/job.ts';
import type { BatchHeader, DataServer, ExecutorBond, ProgramModelSource, Settlement } from './ports.ts';

/** Config changes only by an authority's update_config; a short-lived copy spares an RPC call per batch. */
const CONFIG_TTL_MS = 10_000;
/** How often the sequencer looks for finalized batches past their grace to close (one getProgramAccounts read). */
export const RECLAIM_POLL_MS = 30_000;
/**
 * How often the sequencer looks for data requests on its batches (one getProgramAccounts read): a small part of the
 * answer time (at least DATA_ANSWER_SLOTS = 156 slots, about a minute), which posting the largest inputs needs most of.
 */
export const DATA_POLL_MS = 3_000;

export class ChainSettlement implements Settlement {
  readonly kind = 'solana';
  private configCache: { at: number; value: Promise<ConfigAccount> } | null = null;
  private lastReclaim = 0;
  private lastDataPoll = 0;
  /** How long a read of the Config is reused (0 reads it every time). */
  configTtlMs = CONFIG_TTL_MS;
  /**
   * The stake each batch not yet final was committed with (Batch.executor_stake): a job there is slashed that much
   * even after the authority lowers min_executor_bond, so the exposure cap counts the highest of them.
   */
  private readonly openStakes = new Map<number, bigint>();

  private config(): Promise<ConfigAccount> {
    if (!this.configCache || Date.now() - this.configCache.at >= this.configTtlMs) {
      const value = this.client.config();
      value.catch(() => (this.configCache = null));
      this.configCache = { at: Date.now(), value };
    }
    return this.configCache.value;
  }

  constructor(
    private readonly client: SettlementClient,
    /** The key the program's Config names as sequencer. */
    private readonly sequencer: Signer,
    /** Used only to tell people roughly when a window ends. */
    private readonly slotMs = DEFAULT_SLOT_MS,
    /**
     * With the Config authority and the node's models, provable models are registered on chain too; `progress`
     * hears of each of the registration's transactions.
     */
    private readonly models?: { authority: Signer; compile: ProgramModelSource; progress?: Progress },
  ) {}

  /** Registers a provable model's op table and weight root (resumable: pages already loaded are skipped). */
  async registerModel(modelId: ModelId): Promise<void> {
    if (!this.models) return;
    const spec = await this.models.compile(modelId);
    await this.client.registerModel(
      this.models.authority,
      {
        modelId: fromHex(modelId, 32),
        profileHash: fromHex(spec.profileHash, 32),
        weightRoot: fromHex(spec.weightRoot, 32),
        weightCount: spec.weightCount,
        opEntries: spec.opEntries,
        outputName: spec.outputName,
        shapes: spec.shapes,
      },
      { progress: this.models.progress },
    );
  }

  /**
   * Commits the root; idempotent, so a sequencer that crashed between its own write and the chain's
   * confirmation can commit again. A different root already at that index is a conflict, never overwritten.
   */
  async commitBatch(b: BatchHeader): Promise<{ windowEndsAt: number }> {
    const root = fromHex(b.root, 32);
    const state = await this.client.batchState(BigInt(b.index));
    // Closed: committed, finalized and past its grace (its root left with its account, nothing to compare); never
    // committed again, the program refuses its index.
    if (state.state === 'open') {
      const existing = state.batch;
      if (!Buffer.from(existing.root).equals(Buffer.from(root))) {
        throw new OptinferError(
          'SETTLEMENT_CONFLICT',
          `batch ${b.index} is committed on chain with root ${toHex(existing.root)}, not ${b.root}`,
        );
      }
      this.openStakes.set(b.index, existing.executorStake);
    } else if (state.state === 'uncommitted') {
      // The batch's record fees go into its escrow: executors claim them once it is final (claim_fees).
      await this.client.commitBatch(this.sequencer, {
        index: BigInt(b.index),
        root,
        jobCount: b.jobCount,
        feeTotal: b.feeTotal ?? 0n,
      });
      const committed = await this.client.fetchBatch(BigInt(b.index));
      if (committed) this.openStakes.set(b.index, committed.executorStake);
    }
    const config = await this.config();
    return { windowEndsAt: Date.now() + Number(config.challengeWindow) * this.slotMs };
  }

  /** True once the batch is final on chain; sends finalize_batch when the program would accept it. */
  async canFinalize(b: BatchHeader, windowEndsAt: number, now: number): Promise<boolean> {
    // The window is counted in slots; before its estimated end no read can say yes.
    if (now < windowEndsAt) return false;
    const state = await this.client.batchState(BigInt(b.index));
    // A closed batch was finalized (close_batch accepts nothing else).
    if (state.state !== 'open') {
      this.openStakes.delete(b.index);
      return state.state === 'closed';
    }
    const batch = state.batch;
    this.openStakes.set(b.index, batch.executorStake);
    if (batch.finalized !== 0) {
      this.openStakes.delete(b.index);
      return true;
    }
    const [config, slot] = await Promise.all([this.config(), this.client.sender.getSlot()]);
    if (!finalizable(batch, config, slot)) return false;
    await this.client.finalizeBatch(this.sequencer, BigInt(b.index));
    this.openStakes.delete(b.index);
    return true;
  }

  /**
   * The executor's Operator account against the stake one lost dispute takes: the Config's min_executor_bond, or the
   * higher stake a batch not yet final was committed with (a lowered minimum does not lower those). The dispatcher
   * keeps the executor's unfinalized jobs x that stake within its free bond, and gives an unbonding executor nothing
   * new.
   */
  async executorBond(executor: ExecutorId): Promise<ExecutorBond> {
    const [config, op] = await Promise.all([
      this.config(),
      this.client.fetchOperator(new PublicKey(executor)),
    ]);
    return {
      free: op ? freeBond(op) : 0n,
      unbonding: op ? op.unbonding : 0n,
      stake: [...this.openStakes.values()].reduce((a, b) => (b > a ? b : a), config.minExecutorBond),
    };
  }

  /** Bond events from the program's logs (Bonded, UnbondRequested, Withdrawn, Slashed), by the operator named. */
  watchBonds(onChange: (executor: ExecutorId, unbonding: boolean) => void): () => Promise<void> {
    return this.client.subscribe(({ events }) => {
      for (const ev of events) {
        if (ev.name === 'Bonded' || ev.name === 'UnbondRequested' || ev.name === 'Withdrawn')
          onChange(ev.data.owner.toBase58() as ExecutorId, ev.name === 'UnbondRequested');
        else if (ev.name === 'Slashed') onChange(ev.data.operator.toBase58() as ExecutorId, false);
      }
    });
  }

  async batchCount(): Promise<number> {
    return Number((await this.client.config()).nextBatchIndex);
  }

  async readBatch(index: number): Promise<{ root: Hash32; jobCount: number } | undefined> {
    const b = await this.client.fetchBatch(BigInt(index));
    return b ? { root: toHex(b.root) as Hash32, jobCount: b.jobCount } : undefined;
  }

  /**
   * Positions of the batch's jobs whose executor lost a dispute: their Job account says so (the program keeps
   * it as the job's verdict record), once however many challengers played games on the job.
   */
  async invalidatedJobs(b: BatchHeader): Promise<number[]> {
    const state = await this.client.batchState(BigInt(b.index));
    if (state.state === 'uncommitted' || (state.state === 'open' && state.batch.invalidated === 0)) return [];
    // Open with invalidations, or closed (the count left with the account; the Job accounts stay).
    return this.client.invalidatedJobs(BigInt(b.index));
  }

  /**
   * Closes this sequencer's finalized batches once their grace is over (close_batch), at most every
   * RECLAIM_POLL_MS; the rent comes back to the sequencer. Returns the lamports recovered.
   */
  async reclaimRent(now: number): Promise<bigint> {
    if (now - this.lastReclaim < RECLAIM_POLL_MS) return 0n;
    this.lastReclaim = now;
    const closed = await reclaimBatches(this.client, this.sequencer);
    return closed.reduce((sum, c) => sum + c.lamports, 0n);
  }

  /**
   * Answers every unanswered data request on a batch this sequencer committed, from its own records and inputs
   * (`serve`), and closes answered ones of its own whose batch is final (their rents back to the requester and to
   * this sequencer); at most every DATA_POLL_MS. A request it cannot serve is logged by the caller's count staying
   * short; the timeout would slash this sequencer. Returns the requests answered.
   */
  async answerDataRequests(now: number, serve: DataServer): Promise<number> {
    if (now - this.lastDataPoll < DATA_POLL_MS) return 0;
    this.lastDataPoll = now;
    const me = this.sequencer.publicKey;
    let answered = 0;
    for (const r of await this.client.listDataRequests()) {
      const { request } = r;
      if (request.answered !== 0) {
        if (request.answerer.equals(me)) {
          if (r.batchFinal)
            await this.client.closeDataRequest(this.sequencer, request.batch, request.jobIndex);
        } else {
          // Answered by someone else (a requester's sybil, perhaps while this node wrote its answer): a buffer
          // this node started for it is not frozen, so it is closed here, its rent back (review 28).
          const mine = await this.client.fetchProofBuffer(r.address, me);
          if (mine && mine.owner.equals(me)) await this.client.closeProofBuffer(this.sequencer, r.address);
        }
        continue;
      }
      if (r.batchIndex === null || !r.sequencer?.equals(me)) continue;
      const data = await serve(Number(r.batchIndex), request.jobIndex);
      if (!data) continue;
      await this.client.answerData(this.sequencer, r.batchIndex, request.jobIndex, {
        record: fromHex(data.proof.record),
        signature: fromHex(data.proof.signature),
        siblings: data.proof.siblings.map((s) => fromHex(s, 32)),
        siblingFees: siblingFeesOf(data.proof),
        inputs: encodeInputSet(data.inputs),
      });
      answered++;
    }
    return answered;
  }
}
