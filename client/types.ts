// The node's HTTP API as JSON: jobs, inclusion proofs, and the chain views (batches, disputes, bonds) it serves.

/** A job's status as the node reports it (docs/PROTOCOL.md "Statuses"). */
export type JobStatus = 'queued' | 'executing' | 'executed' | 'batched' | 'finalized' | 'invalid' | 'failed';

/** One tensor in JSON: numbers (or decimal strings for 64-bit values), or raw little-endian bytes in base64. */
export interface TensorJson {
  dtype: string;
  dims: number[];
  data: (number | string | boolean)[] | { base64: string };
}

/** An inclusion proof: the signed record at `index` of the batch with root `batchRoot`. */
export interface InclusionProof {
  batchIndex: number;
  batchRoot: string;
  jobCount: number;
  index: number;
  /** The 168-byte job record, hex. */
  record: string;
  /** The executor's Ed25519 signature over the record, hex; the leaf is H(0x00 || record || signature). */
  signature: string;
  /** Batch tree siblings, leaf row upwards, hex. */
  siblings: string[];
  /** The sum of the record fees under each sibling, decimal lamports. */
  siblingFees: string[];
  /** The batch's fee sum (what the sequencer must escrow on chain), decimal lamports. */
  feeSum: string;
}

/** The fields of a job record, decoded (`fee` in lamports as a decimal string). */
export interface JobRecordFields {
  jobId: string;
  modelId: string;
  inputDigest: string;
  outputDigest: string;
  executor: string;
  fee: string;
}

/** GET /v1/jobs/:id */
export interface JobView {
  jobId: string;
  status: JobStatus;
  modelId: string;
  inputDigest: string;
  fee: string;
  createdAt: number;
  executor?: string;
  outputDigest?: string;
  outputs?: Record<string, TensorJson>;
  batch?: { index: number; root: string };
  proof?: InclusionProof;
  error?: string;
  /** For a queued job: why no executor takes it now. */
  waiting?: string;
}

/** GET /v1/models and /v1/models/:id (the fields a client needs). */
export interface ModelInfo {
  modelId: string;
  name: string;
  inputs: { name: string; dtype: string; dims: (number | string)[] }[];
  outputs: { name: string; dtype: string; dims: (number | string)[] }[];
  provable?: boolean;
  [more: string]: unknown;
}

/** The chain's clock when a view was read; slots are decimal strings (u64). */
export interface ChainClock {
  slot: string;
  /** The slot windows and clocks count in: slots spent paused left out. */
  gameSlot: string;
  paused: boolean;
  /** Slot the current pause began, while paused. */
  pauseStart: string | null;
}

/** GET /v1/chain/batches/:index: a batch as the program holds it. */
export interface ChainBatchView extends ChainClock {
  index: string;
  /** null once the batch's account is closed (close_batch, after finalization): the root left with it. */
  root: string | null;
  /** Finalized and its account closed: only its invalidations (Job accounts) remain on chain. */
  closed: boolean;
  jobCount: number;
  /** Game slot of the commit. */
  commitSlot: string;
  windowEndSlot: string;
  windowEndGameSlot: string;
  /** Inside its challenge window now. */
  inWindow: boolean;
  /**
   * Game slot before which open_dispute stays open past the window, one clock after a data request answered late
   * (Batch.disputable_until); null when no answer came after the window.
   */
  lateDisputesUntilGameSlot: string | null;
  openDisputes: number;
  /** How many of its jobs lost a dispute. */
  invalidatedJobs: number;
  /** Their positions in the batch. */
  invalidatedPositions: number[];
  finalized: boolean;
}

/** One dispute game as the program holds it. */
export interface DisputeView {
  address: string;
  /** The Batch account's address, and its index. */
  batch: string;
  batchIndex: string | null;
  job: number;
  phase: string;
  turn: 'executor' | 'challenger' | null;
  winner: 'executor' | 'challenger' | null;
  /** The layer the two sides disagree on, once known. */
  layer: number | null;
  moves: number;
  clockSlots: { executor: string; challenger: string };
  timeoutAtSlot: string | null;
  timeoutAtGameSlot: string | null;
  executor: string;
  challenger: string;
  /** Layers in the disputed trace (0 until the traces are in). */
  layerCount: number;
  /** Layers 0..agreed-1 agreed, `disagree` disputed: null until both traces are in (the bisection's range). */
  agreed: number | null;
  disagree: number | null;
  /** Both sides revealed layer `disagree` and their headers differ: the one-step decides on the header alone. */
  headerMismatch: boolean;
  /** Levels of the disputed layer's chunk tree, its current node's level and index: null until both revealed it. */
  chunkDepth: number | null;
  chunkLevel: number | null;
  chunkIndex: number | null;
  /** Output elements the one-step recomputation has done so far (it may take several transactions). */
  stepDone: number;
  /** Each side's clock budget when the game opened (the Config's clock_slots now), game slots. */
  clockBudgetSlots: string;
  /** Game slot of the last move. */
  lastMoveGameSlot: string;
  executorStake: string;
  challengerStake: string;
  /**
   * For a resolved game: `one-step` when the narrowing had reached one chunk (or the header) so the program's
   * recomputation decided, else `timeout` (a side ran out of clock first). Read from the final state: a timeout
   * claimed at the one-step itself also reads as `one-step`.
   */
  decidedBy: 'one-step' | 'timeout' | null;
}

/** GET /v1/disputes */
export interface DisputesView extends ChainClock {
  disputes: DisputeView[];
}

/** An operator's bond (lamports as decimal strings). */
export interface OperatorView {
  owner: string;
  /** False when the key never bonded (every amount is then 0). */
  exists: boolean;
  /** What the node knows this key as (its executors, its challenger), when it knows. */
  role?: string;
  bonded: string;
  locked: string;
  challengerLocked: string;
  unbonding: string;
  unbondReadySlot: string;
  unbondReadyGameSlot: string;
  free: string;
  openDisputes: number;
  /** One lost dispute's stake (the program's min_executor_bond). */
  executorStake: string;
  /** Jobs not yet final its free bond covers as an executor. */
  jobsCovered: string;
  /** Lifetime earnings and losses the program counts on the Operator account (lamports). */
  earnings: EarningsView;
  /** For an executor of the node answering: its fee claimer's table (executor/fees.ts), off chain. */
  claims?: ClaimsView;
  /** What the key has sitting in the program's accounts that comes back to it when they close. */
  outstanding?: OutstandingView;
}

/**
 * Lamports a key has in program accounts that it gets back when they close (decimal strings), and the accounts:
 * its open batches (the sequencer: rent, unclaimed fee escrow and fault reserve back at close_batch), Job, Dispute
 * and DataRequest accounts it paid, and its proof buffers. The rent of a Job a game invalidated stays for good (the
 * verdict record) and is not counted; a rent refund it holds for its payer is.
 */
export interface OutstandingView {
  /** All of the below: what closing every account counted returns to the key. */
  outstanding: string;
  /** The accounts' rent (a Job's rent refund included). */
  rentOutstanding: string;
  /** Fee escrow of its open batches not claimed yet: executors may still claim it until close_batch, which returns the rest. */
  escrowOutstanding: string;
  /** What is left of its open batches' fault reserves (one fault slash each; faults on the batch take from it first). */
  faultReservesOutstanding: string;
  /** Deposits of its unanswered data requests (back at close or timeout, with a bounty on timeout). */
  dataRequestDepositsOutstanding: string;
  openBatches: number;
  jobAccounts: number;
  disputeAccounts: number;
  dataRequests: number;
  proofBuffers: number;
}

/** An executor's fees as its claimer's table holds them: lamports (decimal) and jobs of each kind. */
export interface ClaimsView {
  /** Claimed by this executor (also counted on chain in `earnings.fees`). */
  feesClaimed: string;
  jobsClaimed: number;
  /** Batched and not yet claimed: waiting for finalization, or a claim being retried. */
  feesDue: string;
  jobsDue: number;
  /** Not claimed because the claim transaction would have cost more than the fees. */
  feesSkipped: string;
  jobsSkipped: number;
  /** Lost: the batch closed before the claim, or the sequencer's escrow was short. */
  feesLost: string;
  jobsLost: number;
}

/** What an operator has earned and lost on chain over its account's life, in lamports. */
export interface EarningsView {
  /** Bounties won in dispute games (as challenger or as executor). */
  bounties: string;
  /** Fees claimed for valid jobs. */
  fees: string;
  /** Stakes lost in games and slashes for record faults. */
  slashed: string;
  /** bounties + fees - slashed (may be negative). */
  net: string;
}

/** GET /v1/operators/:owner */
export interface OperatorStatusView extends ChainClock, OperatorView {}

/** GET /v1/operators */
export interface OperatorsView extends ChainClock {
  minExecutorBond: string;
  minChallengerBond: string;
  operators: OperatorView[];
}

/** A user's deposit as a node taking payments sees it (GET /v1/deposits/:user); amounts in decimal lamports. */
export interface DepositView {
  user: string;
  /** The program id and the sequencer key the user's vouchers must name. */
  programId: string;
  sequencer: string;
  /** Lamports the deposit holds on chain. */
  balance: string;
  /** Lamports the sequencer drew over the deposit's life. */
  drawn: string;
  /** Vouchers the node took and has not drawn yet. */
  owed: string;
  /** What the next jobs' fees can use: balance - owed. */
  available: string;
  /** The running total the next voucher raises by the job's fee. */
  cumulative: string;
  /** A withdrawal is pending: the node takes no job. */
  withdrawing: boolean;
  /** The fee this node charges a job sent without one (decimal lamports); absent from older nodes. */
  defaultFee?: string;
}

/** A job's payment: the user's voucher for its running total including this job's fee. */
export interface JobPayment {
  user: string;
  cumulative: string;
  /** 128 hex digits: the user's Ed25519 signature over the voucher digest. */
  signature: string;
}
