// What the sequencer needs from model handling and settlement, as interfaces: the seams for executor/ and Solana.
import type { InclusionProof } from '../state/job.ts';
import type { BatchIndex, ExecutorId, Hash32, ModelId } from '../state/types.ts';
import type { ModelInfo } from '../state/model-info.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import type { ShapeRecord } from '../state/shapes.ts';

export type { ModelInfo, TensorSpec } from '../state/model-info.ts';

/** Parses and checks models and inputs; implemented over onnxruntime by executor/sequencer-adapters.ts. */
export interface ModelInspector {
  /** Throws OptinferError INVALID_MODEL naming what is wrong. */
  inspect(bytes: Uint8Array, name: string): Promise<Omit<ModelInfo, 'registeredAt'>>;
  /** Throws OptinferError INVALID_INPUT naming the input, what was wrong and what was expected. */
  validateInputs(model: ModelInfo, inputs: TensorMap): void;
}

/** A provable model as the program registers it: its op table (24-byte entries) and weight root. */
export interface ProgramModelSpec {
  profileHash: Hash32;
  weightRoot: Hash32;
  weightCount: number;
  opEntries: Uint8Array[];
  outputName: string;
  /** Registered operand shapes (state/shapes.ts). */
  shapes: ShapeRecord;
}

/** Compiles a loaded model for the program; implemented by executor/sequencer-adapters.ts. */
export type ProgramModelSource = (modelId: ModelId) => Promise<ProgramModelSpec>;

/** An executor's bond, in lamports, as the dispatcher needs it. */
export interface ExecutorBond {
  /** Neither locked in disputes nor unbonding (bonded - locked - unbonding): what can still be slashed for new jobs. */
  free: bigint;
  /** Asked to be withdrawn: above 0 the executor is leaving and gets no new job. */
  unbonding: bigint;
  /** What one lost dispute takes from it (the program's min_executor_bond): one unfinalized job's exposure. */
  stake: bigint;
}

/** A committed job's inclusion proof and inputs, by batch index and position (what a data request demands). */
export type DataServer = (
  batchIndex: number,
  position: number,
) => Promise<{ proof: InclusionProof; inputs: TensorMap } | undefined>;

export interface BatchHeader {
  index: BatchIndex;
  root: Hash32;
  jobCount: number;
  /** Sum of the batch's record fees, escrowed on chain at commit for its executors' claims (claim_fees). */
  feeTotal?: bigint;
}

/**
 * Where batch roots go and where their fate comes from. The local implementation finalizes after a
 * timer; the Solana one (ChainSettlement) commits to the program and reads finality and invalidations back.
 */
export interface Settlement {
  readonly kind: string;
  /** Commits a batch; resolves once it is durably committed. Returns when its window ends (ms epoch). */
  commitBatch(batch: BatchHeader): Promise<{ windowEndsAt: number }>;
  /** Whether the batch may finalize now (window over, no open dispute). */
  canFinalize(batch: BatchHeader, windowEndsAt: number, now: number): Promise<boolean>;
  /** Makes a provable model disputable (on chain: its op table and weight root); idempotent. */
  registerModel?(modelId: ModelId): Promise<void>;
  /** Positions of jobs in the batch that lost a dispute; they are run again on another executor. */
  invalidatedJobs?(batch: BatchHeader): Promise<number[]>;
  /**
   * An executor's bond as settlement holds it (on chain: its Operator account and the Config's min_executor_bond).
   * Read when it joins, about every ten seconds after, and at once on a bond event from `watchBonds`. The
   * dispatcher gives no job to an executor that is unbonding, and keeps each executor's exposure (its jobs not yet
   * in a finalized batch, times `stake`) within its free bond. Without it, executors are not checked (local runs).
   */
  executorBond?(executor: ExecutorId): Promise<ExecutorBond>;
  /**
   * Calls `onChange` when an executor's bond changes (bonded, unbond requested, withdrawn, slashed), so the
   * dispatcher reads it again at once instead of at the next periodic read; `unbonding` is true for an unbond
   * request. Returns the unsubscribe function. Optional: without it only the periodic read sees changes.
   */
  watchBonds?(onChange: (executor: ExecutorId, unbonding: boolean) => void): () => Promise<void>;
  /**
   * Closes finalized batches past their grace and returns the rent recovered (on chain: close_batch, rent back to
   * the sequencer that paid it); throttles itself. Optional: local settlement holds no rent.
   */
  reclaimRent?(now: number): Promise<bigint>;
  /**
   * Answers the data requests open on this sequencer's batches (on chain: the job's record, signature and batch tree
   * opening, and its inputs posted through a proof buffer: answer_data), and closes answered ones whose batch is
   * final (close_data_request); throttles itself. Returns the requests answered. Optional: local settlement has none.
   */
  answerDataRequests?(now: number, serve: DataServer): Promise<number>;
  /** How many batches settlement holds (on chain: the Config's next batch index); read at start-up to cross-check. */
  batchCount?(): Promise<number>;
  /** The root and job count settlement holds for a batch, if any; read at start-up to cross-check. */
  readBatch?(index: number): Promise<{ root: Hash32; jobCount: number } | undefined>;
}

/** Finalizes after a fixed window with no disputes: `optinfer dev --chain none`, and tests of the code above it. */
export class LocalSettlement implements Settlement {
  readonly kind = 'local';
  constructor(private readonly windowMs: number) {}
  async commitBatch(): Promise<{ windowEndsAt: number }> {
    return { windowEndsAt: Date.now() + this.windowMs };
  }
  async canFinalize(_b: BatchHeader, windowEndsAt: number, now: number): Promise<boolean> {
    return now >= windowEndsAt;
  }
}
