// Test-only: toy dispute states, accounts and traces, so rules and moves are tested without a VM or a chain.
import { createHash } from 'node:crypto';
import { Keypair, PublicKey } from '@solana/web3.js';
import {
  PHASE,
  SIDE,
  type BatchAccount,
  type ConfigAccount,
  type DisputeAccount,
  type ModelAccount,
  type OperatorAccount,
} from '../settlement/accounts.ts';
import type { TraceView } from './views.ts';

/** 32 bytes named by a label: distinct labels give distinct hashes, so a test sees which one was used. */
export const label = (s: string): Buffer => createHash('sha256').update(s).digest();

export const EXECUTOR = Keypair.generate().publicKey;
export const CHALLENGER = Keypair.generate().publicKey;
const z32 = () => Buffer.alloc(32);

/** A dispute between EXECUTOR and CHALLENGER over 8 layers, at the executor's trace commit unless overridden. */
export function toyDispute(over: Partial<DisputeAccount> = {}): DisputeAccount {
  return {
    batch: Keypair.generate().publicKey,
    model: Keypair.generate().publicKey,
    executor: EXECUTOR,
    challenger: CHALLENGER,
    modelId: label('model'),
    inputDigest: label('input'),
    outputDigest: label('output'),
    traceRoot: [z32(), z32()],
    agreedPrefix: z32(),
    hiPrefix: [z32(), z32()],
    pending: [z32(), z32()],
    header: [z32(), z32()],
    chunkRoot: [z32(), z32()],
    node: [z32(), z32()],
    executorStake: 5n,
    challengerStake: 2n,
    clock: [100n, 100n],
    lastMoveSlot: 1000n,
    bountyBps: 5000,
    jobIndex: 2,
    layerCount: 8,
    agreed: 0,
    disagree: 8,
    chunkLevel: 0,
    chunkIndex: 0,
    moves: 0,
    stepDone: 0,
    stepOut: z32(),
    phase: PHASE.EXEC_TRACE,
    turn: SIDE.EXECUTOR,
    winner: SIDE.EXECUTOR,
    byTimeout: 0,
    bump: 255,
    ...over,
  };
}

export function toyConfig(over: Partial<ConfigAccount> = {}): ConfigAccount {
  return {
    authority: Keypair.generate().publicKey,
    pendingAuthority: PublicKey.default,
    sequencer: Keypair.generate().publicKey,
    treasury: Keypair.generate().publicKey,
    challengeWindow: 100n,
    clockSlots: 100n,
    minExecutorBond: 5n,
    minChallengerBond: 2n,
    unbondingSlots: 450n,
    nextBatchIndex: 1n,
    pausedSlots: 0n,
    pauseStart: 0n,
    latestDisputeEnd: 0n,
    clockFloor: 0n,
    withdrawFloor: 0n,
    spanRaisedAt: 0n,
    spanBeforeRaise: 0n,
    bountyBps: 5000,
    paused: 0,
    bump: 255,
    ...over,
  };
}

/** Batch 0, committed at slot 1000 under `label('batch')`. */
export function toyBatch(over: Partial<BatchAccount> = {}): BatchAccount {
  return {
    root: label('batch'),
    payer: Keypair.generate().publicKey,
    index: 0n,
    commitSlot: 1000n,
    challengeWindow: 100n,
    executorStake: 5n,
    bountyBps: 5000,
    feeTotal: 4000n,
    feesClaimed: 0n,
    finalizedSlot: 0n,
    jobCount: 4,
    openDisputes: 0,
    invalidated: 0,
    finalized: 0,
    bump: 255,
    escrowShort: 0,
    openRequests: 0,
    faultReserve: 0n,
    disputableUntil: 0n,
    disputeClock: 100n,
    ...over,
  };
}

export function toyModel(over: Partial<ModelAccount> = {}): ModelAccount {
  return {
    modelId: label('model'),
    profileHash: label('profile'),
    weightRoot: label('weights'),
    outputName: Buffer.alloc(32),
    outputNameLen: 1,
    outputNameText: 'y',
    bump: 255,
    weightCount: 2,
    layerCount: 8,
    opsLoaded: 8,
    mode: 0,
    arithBits: 0,
    ...over,
  };
}

export function toyOperator(over: Partial<OperatorAccount> = {}): OperatorAccount {
  return {
    owner: CHALLENGER,
    bonded: 0n,
    locked: 0n,
    challengerLocked: 0n,
    unbonding: 0n,
    unbondReadySlot: 0n,
    bountiesEarned: 0n,
    feesEarned: 0n,
    slashed: 0n,
    emptiedSlot: 0n,
    openDisputes: 0,
    bump: 255,
    ...over,
  };
}

/**
 * A trace of `layers` layers, each of `chunks` chunks (a power of two), whose every value is a label naming
 * itself (`p:3` is prefix 3, `c:4:1:0` node 0 of level 1 of layer 4's chunk tree): no tensors, no hashing rules.
 */
export function toyTrace(layers = 8, chunks = 4): TraceView {
  const depth = Math.log2(chunks);
  if (!Number.isInteger(depth)) throw new RangeError(`chunks: expected a power of two, got ${chunks}`);
  return {
    layerCount: layers,
    root: label('root'),
    prefix: (i) => label(i < 0 ? 'seed' : `p:${i}`),
    prefixProof: (i) => [label(`proof:${i}`)],
    digest: (i) => label(`d:${i}`),
    layer: (i) => ({ header: Buffer.from([1, 1, i]), bytes: Buffer.alloc(0) }),
    chunkLevels: (i) =>
      Array.from({ length: depth + 1 }, (_, lv) =>
        Array.from({ length: chunks >> lv }, (_, j) => label(`c:${i}:${lv}:${j}`)),
      ),
  };
}
