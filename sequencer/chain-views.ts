// Read-only views of the program's accounts (batches, disputes, bonds) as JSON: what the node's API serves and `--rpc` commands print.
import { PublicKey } from '@solana/web3.js';
import {
  PHASE,
  SIDE,
  freeBond,
  unbondReadyAt,
  gameSlot,
  timeoutSlot,
  toRealSlot,
  windowEndSlot,
  type ConfigAccount,
  type DisputeAccount,
  type OperatorAccount,
  type SettlementClient,
  decodeBatch,
  decodeDataRequest,
  decodeJob,
  rentExempt,
} from '../settlement/index.ts';
import { OptinferError } from '../state/errors.ts';
import { treeDepth } from '../state/merkle.ts';
import { decodeStoredHeader } from '../state/optable.ts';
import { chunkCount, dtypeFromCode, elementCount, elementSize } from '../state/tensor.ts';
import type {
  ChainBatchView,
  ChainClock,
  DisputeView,
  DisputesView,
  EarningsView,
  OperatorStatusView,
  OperatorView,
  OperatorsView,
  OutstandingView,
} from '../client/types.ts';

const PHASE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(PHASE).map(([k, v]) => [v, k.toLowerCase().replace('_', '-')]),
);
const side = (s: number) => (s === SIDE.EXECUTOR ? 'executor' : 'challenger');

async function clockOf(
  c: SettlementClient,
): Promise<{ config: ConfigAccount; slot: bigint; clock: ChainClock }> {
  const [config, slot] = await Promise.all([c.config(), c.sender.getSlot()]);
  const paused = config.paused !== 0;
  return {
    config,
    slot,
    clock: {
      slot: slot.toString(),
      gameSlot: gameSlot(config, slot).toString(),
      paused,
      pauseStart: paused ? config.pauseStart.toString() : null,
    },
  };
}

/** The chunk index the program stores when the two revealed headers differ (state/dispute.rs CHUNK_HEADER). */
const CHUNK_HEADER = 0xffffffff;
const isZero = (b: Buffer | undefined) => !b || b.every((x) => x === 0);

/** Where the bisection stands, for the explorer's picture (client/bisection.ts replays the path from it). */
export function narrowingState(
  d: DisputeAccount,
): Pick<
  DisputeView,
  | 'layerCount'
  | 'agreed'
  | 'disagree'
  | 'headerMismatch'
  | 'chunkDepth'
  | 'chunkLevel'
  | 'chunkIndex'
  | 'decidedBy'
> {
  // The challenger's trace (the second) sets the range; its chunk root, the chunk descent's start.
  const traced = !isZero(d.traceRoot[1]);
  const revealed = traced && !isZero(d.chunkRoot[1]);
  const headerMismatch = revealed && d.chunkIndex === CHUNK_HEADER;
  let chunkDepth: number | null = null;
  if (revealed && !headerMismatch) {
    try {
      const h = decodeStoredHeader(d.header[0]);
      const dtype = dtypeFromCode(h.dtype);
      chunkDepth = dtype ? treeDepth(chunkCount(elementSize(dtype) * elementCount(h.dims))) : null;
    } catch {
      chunkDepth = null;
    }
  }
  const resolved = d.phase === PHASE.RESOLVED;
  const narrowed = revealed && (headerMismatch || d.chunkLevel === 0);
  return {
    layerCount: d.layerCount,
    agreed: traced ? d.agreed : null,
    disagree: traced ? d.disagree : null,
    headerMismatch,
    chunkDepth,
    chunkLevel: chunkDepth === null ? null : d.chunkLevel,
    chunkIndex: chunkDepth === null ? null : d.chunkIndex,
    // A timeout claimed at the one-step (the side to prove it never did) is a timeout, not the one-step.
    decidedBy: resolved ? (d.byTimeout === 0 && narrowed ? 'one-step' : 'timeout') : null,
  };
}

/** Every dispute game (or only the unresolved ones), by batch and job. */
export async function disputesView(c: SettlementClient, o: { open?: boolean } = {}): Promise<DisputesView> {
  const [{ config, clock }, list, batches] = await Promise.all([
    clockOf(c),
    c.listDisputes({ open: o.open }),
    c.listBatches(),
  ]);
  const indexOf = new Map(batches.map((b) => [b.address.toBase58(), b.batch.index.toString()]));
  const disputes: DisputeView[] = list.map(({ address, dispute: d }) => {
    const resolved = d.phase === PHASE.RESOLVED;
    return {
      address: address.toBase58(),
      batch: d.batch.toBase58(),
      batchIndex: indexOf.get(d.batch.toBase58()) ?? null,
      job: d.jobIndex,
      phase: PHASE_NAMES[d.phase] ?? String(d.phase),
      turn: resolved ? null : side(d.turn),
      winner: resolved ? side(d.winner) : null,
      layer: d.phase >= PHASE.LAYER_REVEAL ? d.disagree : null,
      moves: d.moves,
      clockSlots: { executor: d.clock[0].toString(), challenger: d.clock[1].toString() },
      // Clocks run in game time; the timeout is also given as the real slot it comes at.
      timeoutAtSlot: resolved ? null : toRealSlot(config, timeoutSlot(d)).toString(),
      timeoutAtGameSlot: resolved ? null : timeoutSlot(d).toString(),
      executor: d.executor.toBase58(),
      challenger: d.challenger.toBase58(),
      ...narrowingState(d),
      stepDone: d.stepDone,
      clockBudgetSlots: config.clockSlots.toString(),
      lastMoveGameSlot: d.lastMoveSlot.toString(),
      executorStake: d.executorStake.toString(),
      challengerStake: d.challengerStake.toString(),
    };
  });
  return { ...clock, disputes };
}

/** The batch at `index` as committed on chain; NOT_FOUND (naming the next index) when it is not. */
export async function chainBatchView(c: SettlementClient, index: bigint): Promise<ChainBatchView> {
  const [{ config, slot, clock }, b] = await Promise.all([clockOf(c), c.fetchBatch(index)]);
  if (!b && index < config.nextBatchIndex) {
    // Committed (indices only grow), so closed by close_batch, which takes only finalized batches.
    const positions = (await c.invalidatedJobs(index)).sort((x, y) => x - y);
    return {
      ...clock,
      index: index.toString(),
      root: null,
      closed: true,
      jobCount: 0,
      commitSlot: '0',
      windowEndSlot: '0',
      windowEndGameSlot: '0',
      inWindow: false,
      lateDisputesUntilGameSlot: null,
      openDisputes: 0,
      invalidatedJobs: positions.length,
      invalidatedPositions: positions,
      finalized: true,
    };
  }
  if (!b)
    throw new OptinferError(
      'NOT_FOUND',
      `batch ${index} is not committed on chain (next index ${config.nextBatchIndex})`,
    );
  let positions: number[] = [];
  if (b.invalidated > 0) {
    const address = c.pdas.batch(index);
    positions = (await c.listJobs())
      .filter(({ job: j }) => j.batch.equals(address) && j.invalidated !== 0)
      .map(({ job: j }) => j.jobIndex)
      .sort((x, y) => x - y);
  }
  return {
    ...clock,
    index: b.index.toString(),
    root: b.root.toString('hex'),
    closed: false,
    jobCount: b.jobCount,
    commitSlot: b.commitSlot.toString(),
    windowEndSlot: windowEndSlot(b, config).toString(),
    windowEndGameSlot: (b.commitSlot + b.challengeWindow).toString(),
    inWindow: gameSlot(config, slot) < b.commitSlot + b.challengeWindow,
    lateDisputesUntilGameSlot:
      b.disputableUntil > b.commitSlot + b.challengeWindow ? b.disputableUntil.toString() : null,
    openDisputes: b.openDisputes,
    invalidatedJobs: b.invalidated,
    invalidatedPositions: positions,
    finalized: b.finalized !== 0,
  };
}

function earningsView(op: OperatorAccount | null): EarningsView {
  const [bounties, fees, slashed] = [op?.bountiesEarned ?? 0n, op?.feesEarned ?? 0n, op?.slashed ?? 0n];
  return {
    bounties: bounties.toString(),
    fees: fees.toString(),
    slashed: slashed.toString(),
    net: (bounties + fees - slashed).toString(),
  };
}

function operatorView(owner: PublicKey, op: OperatorAccount | null, config: ConfigAccount): OperatorView {
  const stake = config.minExecutorBond;
  const free = op ? freeBond(op) : 0n;
  return {
    owner: owner.toBase58(),
    exists: op !== null,
    bonded: (op?.bonded ?? 0n).toString(),
    locked: (op?.locked ?? 0n).toString(),
    challengerLocked: (op?.challengerLocked ?? 0n).toString(),
    unbonding: (op?.unbonding ?? 0n).toString(),
    unbondReadySlot: op ? toRealSlot(config, unbondReadyAt(config, op)).toString() : '0',
    unbondReadyGameSlot: (op ? unbondReadyAt(config, op) : 0n).toString(),
    free: free.toString(),
    openDisputes: op?.openDisputes ?? 0,
    executorStake: stake.toString(),
    // What the sequencer allows an executor: at most this many jobs not yet final.
    jobsCovered: (stake > 0n ? free / stake : 0n).toString(),
    earnings: earningsView(op),
  };
}

/** One key's outstanding lamports as they are summed. */
interface Outstanding {
  rent: bigint;
  escrow: bigint;
  reserves: bigint;
  deposits: bigint;
  openBatches: number;
  jobAccounts: number;
  disputeAccounts: number;
  dataRequests: number;
  proofBuffers: number;
}

/** Nothing outstanding. */
const noOutstanding = (): Outstanding => ({
  rent: 0n,
  escrow: 0n,
  reserves: 0n,
  deposits: 0n,
  openBatches: 0,
  jobAccounts: 0,
  disputeAccounts: 0,
  dataRequests: 0,
  proofBuffers: 0,
});

function outstandingView(o: Outstanding | undefined): OutstandingView {
  const v = o ?? noOutstanding();
  return {
    outstanding: (v.rent + v.escrow + v.reserves + v.deposits).toString(),
    rentOutstanding: v.rent.toString(),
    escrowOutstanding: v.escrow.toString(),
    faultReservesOutstanding: v.reserves.toString(),
    dataRequestDepositsOutstanding: v.deposits.toString(),
    openBatches: v.openBatches,
    jobAccounts: v.jobAccounts,
    disputeAccounts: v.disputeAccounts,
    dataRequests: v.dataRequests,
    proofBuffers: v.proofBuffers,
  };
}

/**
 * What each key (only `owner` when given) has in the program's accounts that comes back to it at close, by the key
 * each account records as its payer (settlement/accounts.ts RENT_PAYER_FIELD). Five getProgramAccounts reads
 * whatever the number of accounts: narrowed to `owner` by memcmp when given; disputes and proof buffers (kilobytes
 * each) read only their payer field.
 */
export async function outstandingViews(
  c: SettlementClient,
  owner?: PublicKey,
): Promise<Map<string, OutstandingView>> {
  const [batches, jobs, disputes, requests, buffers] = await Promise.all([
    c.listPaidBy('Batch', owner),
    c.listPaidBy('Job', owner),
    c.listPaidBy('Dispute', owner, { whole: false }),
    c.listPaidBy('DataRequest', owner),
    c.listPaidBy('ProofBuffer', owner, { whole: false }),
  ]);
  const by = new Map<string, Outstanding>();
  const of = (k: PublicKey) => {
    const key = k.toBase58();
    let o = by.get(key);
    if (!o) {
      o = noOutstanding();
      by.set(key, o);
    }
    return o;
  };
  for (const a of batches) {
    // close_batch pays the payer every lamport: rent, the escrow executors have not claimed, the reserve left.
    const b = decodeBatch(a.data);
    const o = of(b.payer);
    const escrow = b.feeTotal - b.feesClaimed;
    o.escrow += escrow;
    o.reserves += b.faultReserve;
    o.rent += a.lamports - escrow - b.faultReserve;
    o.openBatches++;
  }
  for (const a of jobs) {
    const j = decodeJob(a.data);
    // An invalidated job's account stays for good (the verdict record): only a rent refund it holds comes back.
    const back = j.invalidated !== 0 ? a.lamports - rentExempt(a.data.length) : a.lamports;
    if (j.invalidated !== 0 && back <= 0n) continue;
    const o = of(j.payer);
    o.rent += back;
    o.jobAccounts++;
  }
  for (const a of disputes) {
    const o = of(new PublicKey(a.data));
    o.rent += a.lamports;
    o.disputeAccounts++;
  }
  for (const a of requests) {
    const r = decodeDataRequest(a.data);
    const o = of(r.requester);
    const rent = rentExempt(a.data.length);
    o.rent += rent;
    // Unanswered: the request deposit is in the account too (answer_data pays it to the answerer).
    o.deposits += a.lamports - rent;
    o.dataRequests++;
  }
  for (const a of buffers) {
    const o = of(new PublicKey(a.data));
    o.rent += a.lamports;
    o.proofBuffers++;
  }
  return new Map([...by].map(([k, v]) => [k, outstandingView(v)]));
}

/** `owner`'s entry of outstandingViews, zeros when it has none. */
const outstandingFor = (m: Map<string, OutstandingView>, owner: string) =>
  m.get(owner) ?? outstandingView(undefined);

/** A base58 public key, or INVALID_INPUT naming what it got. */
export function ownerKey(what: string, v: string): PublicKey {
  try {
    return new PublicKey(v);
  } catch {
    throw new OptinferError(
      'INVALID_INPUT',
      `${what}: expected a base58 public key, got ${JSON.stringify(v.slice(0, 60))}`,
    );
  }
}

/**
 * One operator's bond (a key that never bonded is `exists: false`, every amount 0); with `outstanding`, also what
 * comes back to it when its accounts close (five more reads).
 */
export async function operatorStatusView(
  c: SettlementClient,
  owner: PublicKey,
  roles?: ReadonlyMap<string, string>,
  o: { outstanding?: boolean } = {},
): Promise<OperatorStatusView> {
  const [{ config, clock }, op, out] = await Promise.all([
    clockOf(c),
    c.fetchOperator(owner),
    o.outstanding ? outstandingViews(c, owner) : undefined,
  ]);
  const v = operatorView(owner, op, config);
  const role = roles?.get(v.owner) ?? (config.sequencer.equals(owner) ? 'sequencer' : undefined);
  return { ...clock, ...v, ...(role && { role }), ...(out && { outstanding: outstandingFor(out, v.owner) }) };
}

/**
 * Every bond on the program, with the role `roles` names for each known key; the named keys first, even unbonded.
 * With `outstanding`, also what comes back to each when its accounts close (five more reads).
 */
export async function operatorsView(
  c: SettlementClient,
  roles: ReadonlyMap<string, string> = new Map(),
  o: { outstanding?: boolean } = {},
): Promise<OperatorsView> {
  const [{ config, clock }, list, out] = await Promise.all([
    clockOf(c),
    c.listOperators(),
    o.outstanding ? outstandingViews(c) : undefined,
  ]);
  const byOwner = new Map(list.map(({ operator }) => [operator.owner.toBase58(), operator]));
  const operators: OperatorView[] = [];
  // The program's sequencer bonds too (one record-fault slash per commit): named whoever runs it.
  const named = new Map(roles);
  if (!named.has(config.sequencer.toBase58())) named.set(config.sequencer.toBase58(), 'sequencer');
  for (const [owner, role] of named) {
    operators.push({
      ...operatorView(new PublicKey(owner), byOwner.get(owner) ?? null, config),
      role,
      ...(out && { outstanding: outstandingFor(out, owner) }),
    });
    byOwner.delete(owner);
  }
  for (const [owner, op] of [...byOwner].sort(([a], [b]) => (a < b ? -1 : 1)))
    operators.push({
      ...operatorView(new PublicKey(owner), op, config),
      ...(out && { outstanding: outstandingFor(out, owner) }),
    });
  return {
    ...clock,
    minExecutorBond: config.minExecutorBond.toString(),
    minChallengerBond: config.minChallengerBond.toString(),
    operators,
  };
}
