// The named rules a party follows off chain before it opens a dispute or moves in one: small pure verdicts the
// challenger and the dispute driver call, each tested on its own in rules.test.ts.
import type { PublicKey } from '@solana/web3.js';
import {
  PHASE,
  modelReady,
  type BatchAccount,
  type ConfigAccount,
  type DisputeAccount,
  type JobAccount,
  type ModelAccount,
  type OperatorAccount,
  type Side,
} from '../settlement/accounts.ts';
import { disputable, freeBond, gameSlot, timeoutSlot, toRealSlot } from '../settlement/client.ts';
import type { RecordFault } from '../settlement/instructions.ts';

/** Every rule, by name; a refusal names the rule that made it. */
export const RULES = [
  // Opening: open only a game the challenger can win.
  'refereeCanDecide',
  'batchIsCommitted',
  'windowIsOpen',
  'modelIsLoaded',
  'notDisputedYet',
  'jobNotInvalidated',
  'neverCounterYourself',
  'stakeIsBonded',
  // Playing.
  'neverMoveOutOfTurn',
  'stepOnlyAtLeaf',
  'timeoutOnlyWhenClockRanOut',
  'playOnlyFromOwnTrace',
] as const;
export type RuleName = (typeof RULES)[number];

export interface Refusal {
  readonly ok: false;
  readonly rule: RuleName;
  /** Said to the operator as is, so it names the job's own batch, model or slot. */
  readonly reason: string;
  /**
   * The same open may be allowed later without this party doing anything (the pause ends, the model's op table
   * finishes loading, the commit reaches this RPC node): a challenger keeps the finding and tries again.
   */
  readonly transient?: boolean;
}
export type Verdict = { readonly ok: true } | Refusal;

const OK: Verdict = { ok: true };
const refuse = (rule: RuleName, reason: string): Refusal => ({ ok: false, rule, reason });
const refuseForNow = (rule: RuleName, reason: string): Refusal => ({
  ...refuse(rule, reason),
  transient: true,
});

// ---- opening a dispute ------------------------------------------------------------------------

/** The one-step must be able to recompute every op of the model, or the referee cannot rule. */
export function refereeCanDecide(f: { provable: boolean; modelId: string }): Verdict {
  return f.provable
    ? OK
    : refuse('refereeCanDecide', `model ${f.modelId} has ops the referee cannot recompute`);
}

/** The job is disputable only under the root committed on chain, not the one the sequencer served. */
export function batchIsCommitted(
  batch: BatchAccount | null,
  f: { batchIndex: number; batchRoot: string },
  /** The Config's next_batch_index: an index below it with no account was finalized and closed (close_batch). */
  nextBatchIndex?: bigint,
): Verdict {
  if (!batch && nextBatchIndex !== undefined && BigInt(f.batchIndex) < nextBatchIndex)
    return refuse('batchIsCommitted', `batch ${f.batchIndex} is finalized and its account closed`);
  if (!batch) return refuseForNow('batchIsCommitted', `batch ${f.batchIndex} is not committed on chain`);
  if (Buffer.from(batch.root).toString('hex') !== f.batchRoot)
    return refuse('batchIsCommitted', 'the on-chain batch root differs');
  return OK;
}

/**
 * open_dispute fails while the program is paused (for now: the window stands still), and for good once the batch
 * is finalized or its challenge window has passed in game time (real slot `slot` minus the slots spent paused).
 */
export function windowIsOpen(
  batch: BatchAccount,
  config: ConfigAccount,
  slot: bigint,
  batchIndex: number,
): Verdict {
  if (config.paused !== 0 && batch.finalized === 0)
    return refuseForNow(
      'windowIsOpen',
      `the program is paused: batch ${batchIndex} cannot be disputed until it resumes`,
    );
  return disputable(batch, config, slot)
    ? OK
    : refuse('windowIsOpen', `batch ${batchIndex}'s challenge window has closed`);
}

/**
 * A committed record whose executor has no bond (no Operator account, or nothing bonded) or whose model is not
 * registered with every op page loaded cannot be disputed: the sequencer answers for it, and the challenger
 * proves the record fault (prove_record_fault) instead of opening a game. Null when the record shows neither.
 */
/**
 * Whether a batch's tree sums its records' fees past the escrow the sequencer put in (`feeTotal`), so it
 * pays none of its executors (claim_fees refuses, EscrowShort), and no one has proven it yet
 * (prove_short_escrow slashes the sequencer once per batch).
 */
export function escrowShortUnproven(feeSum: bigint, batch: BatchAccount | null): boolean {
  return !!batch && batch.escrowShort === 0 && feeSum > batch.feeTotal;
}

export function recordFault(
  executorOp: OperatorAccount | null,
  model: ModelAccount | null,
): RecordFault | null {
  if (!executorOp || executorOp.bonded === 0n) return 'unbondedExecutor';
  if (!model || !modelReady(model)) return 'unregisteredModel';
  return null;
}

/** The one-step reads the model's op table from chain: it must be registered with every page loaded. */
export function modelIsLoaded(model: ModelAccount | null, modelId: string): Verdict {
  return model && modelReady(model)
    ? OK
    : refuseForNow('modelIsLoaded', `model ${modelId} is not registered on chain`);
}

/**
 * One game per (job, challenger): the program keys a game by (batch, job, challenger), so this
 * challenger's second open cannot succeed. Other challengers' games on the job do not matter: each
 * plays its own, and one opened by the executor's accomplice cannot shut this one out.
 */
export function notDisputedYet(mine: DisputeAccount | null): Verdict {
  return mine ? refuse('notDisputedYet', 'this challenger already disputes the job') : OK;
}

/** Once a game proved the job wrong, the program refuses new games on it (JobInvalidated). */
export function jobNotInvalidated(job: JobAccount | null): Verdict {
  return job && job.invalidated !== 0
    ? refuse('jobNotInvalidated', 'another challenger already proved the job wrong')
    : OK;
}

/** A party never disputes its own job (the program refuses a self-challenge). */
export function neverCounterYourself(executor: string, me: PublicKey): Verdict {
  return executor === me.toBase58()
    ? refuse('neverCounterYourself', "the job was executed under this challenger's own key")
    : OK;
}

/**
 * The challenger stakes the program's minimum from its free bond (bonded, not locked nor unbonding);
 * `short` is what it must deposit first.
 */
export function stakeIsBonded(
  op: OperatorAccount | null,
  config: ConfigAccount,
): { readonly ok: true } | (Refusal & { readonly short: bigint }) {
  const free = op ? freeBond(op) : 0n;
  if (free >= config.minChallengerBond) return OK as { ok: true };
  return {
    ...refuse('stakeIsBonded', `free bond ${free} is below the stake ${config.minChallengerBond}`),
    short: config.minChallengerBond - free,
  };
}

// ---- playing a dispute ------------------------------------------------------------------------

/**
 * Commit, bisect and reveal moves are made only by the side whose turn it is, and only before the
 * leaf (the one-step is not a turn move: either side may submit it).
 */
export function neverMoveOutOfTurn(d: DisputeAccount, side: Side): Verdict {
  if (d.phase === PHASE.RESOLVED) return refuse('neverMoveOutOfTurn', 'the dispute is resolved');
  if (d.phase >= PHASE.ONE_STEP) return refuse('neverMoveOutOfTurn', 'the dispute is at the one-step');
  if (d.turn !== side) return refuse('neverMoveOutOfTurn', "it is the other side's turn");
  return OK;
}

/** The one-step runs only once the bisection has located one chunk (or the header) of one layer. */
export function stepOnlyAtLeaf(d: DisputeAccount): Verdict {
  if (d.phase !== PHASE.ONE_STEP) return refuse('stepOnlyAtLeaf', `not at the one-step (phase ${d.phase})`);
  if (d.chunkLevel !== 0)
    return refuse('stepOnlyAtLeaf', `no chunk located yet (chunk level ${d.chunkLevel})`);
  return OK;
}

/**
 * A timeout is claimed only against the side to move, once its chess clock has run out in game time at real
 * slot `slot`: clocks stand still while the program is paused (claim_timeout is then refused), and the slots
 * spent paused never count against them.
 */
export function timeoutOnlyWhenClockRanOut(
  d: DisputeAccount,
  side: Side,
  config: ConfigAccount,
  slot: bigint,
): Verdict {
  if (d.phase === PHASE.RESOLVED) return refuse('timeoutOnlyWhenClockRanOut', 'the dispute is resolved');
  if (d.turn === side) return refuse('timeoutOnlyWhenClockRanOut', 'this side is to move');
  if (config.paused !== 0)
    return refuse('timeoutOnlyWhenClockRanOut', 'the program is paused: clocks stand still until it resumes');
  const due = timeoutSlot(d);
  if (gameSlot(config, slot) < due)
    return refuse(
      'timeoutOnlyWhenClockRanOut',
      `the other side has clock until game slot ${due} (real slot ${toRealSlot(config, due)} if not paused again)`,
    );
  return OK;
}

/** A party plays only from its own data for the job; without it, all it can do is claim timeouts. */
export function playOnlyFromOwnTrace(views: object | null | undefined): Verdict {
  return views
    ? OK
    : refuse('playOnlyFromOwnTrace', 'no trace of its own for this job: it can only claim timeouts');
}
