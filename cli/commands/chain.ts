// Operator commands over JSON-RPC: `disputes`, `batch show N`, `bond status` (read-only views of the program).
import { PublicKey } from '@solana/web3.js';
import {
  PHASE,
  SIDE,
  connectRpc,
  freeBond,
  minUnbondingSlots,
  timeoutSlot,
  windowEndSlot,
  type SettlementClient,
} from '../../settlement/index.ts';
import { OptinferError } from '../../state/errors.ts';
import { loadKeypair } from '../../common/keys.ts';

export interface RpcOptions {
  rpc: string;
  ws?: string;
  json: boolean;
}

const PHASE_NAMES = Object.fromEntries(
  Object.entries(PHASE).map(([k, v]) => [v, k.toLowerCase().replace('_', '-')]),
);
const side = (s: number) => (s === SIDE.EXECUTOR ? 'executor' : 'challenger');

function client(o: RpcOptions): SettlementClient {
  return connectRpc({ rpc: o.rpc, ws: o.ws }).client;
}

/** Reads that fail because the node is unreachable say so in one line. */
async function reach<T>(o: RpcOptions, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof OptinferError) throw e;
    throw new OptinferError(
      'UNAVAILABLE',
      `cannot read from the cluster at ${o.rpc}: ${(e as Error).message} (pass --rpc URL)`,
    );
  }
}

function print(o: RpcOptions, value: unknown, lines: string[]): void {
  process.stdout.write(
    o.json
      ? JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n'
      : lines.join('\n') + '\n',
  );
}

export async function disputesCommand(o: RpcOptions & { open: boolean }): Promise<number> {
  const c = client(o);
  const [list, slot] = await reach(o, () =>
    Promise.all([c.listDisputes({ open: o.open }), c.sender.getSlot()]),
  );
  const rows = list.map(({ address, dispute: d }) => ({
    address: address.toBase58(),
    batch: d.batch.toBase58(),
    job: d.jobIndex,
    phase: PHASE_NAMES[d.phase],
    turn: d.phase === PHASE.RESOLVED ? null : side(d.turn),
    winner: d.phase === PHASE.RESOLVED ? side(d.winner) : null,
    layer: d.phase >= PHASE.LAYER_REVEAL ? d.disagree : null,
    clockSlots: { executor: d.clock[0], challenger: d.clock[1] },
    timeoutAtSlot: d.phase === PHASE.RESOLVED ? null : timeoutSlot(d),
    executor: d.executor.toBase58(),
    challenger: d.challenger.toBase58(),
  }));
  const lines = rows.length
    ? [
        `slot ${slot}; ${rows.length} dispute(s)`,
        ...rows.map(
          (r) =>
            `${r.address}  job ${r.job}  ${r.phase}${r.turn ? `, ${r.turn} to move (times out at slot ${r.timeoutAtSlot})` : ''}` +
            `${r.winner ? `, won by the ${r.winner}` : ''}  clocks e=${r.clockSlots.executor} c=${r.clockSlots.challenger}`,
        ),
      ]
    : [`slot ${slot}; no ${o.open ? 'open ' : ''}disputes`];
  print(o, { slot, disputes: rows }, lines);
  return 0;
}

export async function batchShowCommand(o: RpcOptions & { index: string }): Promise<number> {
  if (!/^\d+$/.test(o.index))
    throw new OptinferError(
      'INVALID_INPUT',
      `batch index: expected a non-negative integer, got ${JSON.stringify(o.index)}`,
    );
  const c = client(o);
  const [b, config, slot] = await reach(o, () =>
    Promise.all([c.fetchBatch(BigInt(o.index)), c.config(), c.sender.getSlot()]),
  );
  if (!b)
    throw new OptinferError(
      'NOT_FOUND',
      `batch ${o.index} is not committed on this cluster (next index ${config.nextBatchIndex})`,
    );
  const end = windowEndSlot(b, config);
  const state = b.finalized
    ? 'finalized'
    : slot < end
      ? `inside its challenge window (until slot ${end})`
      : 'window over, not finalized yet';
  const view = {
    index: b.index,
    root: b.root.toString('hex'),
    jobCount: b.jobCount,
    commitSlot: b.commitSlot,
    windowEndSlot: end,
    openDisputes: b.openDisputes,
    invalidatedJobs: b.invalidated,
    finalized: b.finalized !== 0,
    slot,
  };
  print(o, view, [
    `batch ${b.index}: ${state}`,
    `  root            ${view.root}`,
    `  jobs            ${b.jobCount} (${b.invalidated} invalidated)`,
    `  committed slot  ${b.commitSlot}; current slot ${slot}`,
    `  open disputes   ${b.openDisputes}`,
  ]);
  return 0;
}

export async function bondStatusCommand(
  o: RpcOptions & { keypair?: string; owner?: string },
): Promise<number> {
  let owner: PublicKey;
  if (o.owner) {
    try {
      owner = new PublicKey(o.owner);
    } catch {
      throw new OptinferError(
        'INVALID_INPUT',
        `--owner: expected a base58 public key, got ${JSON.stringify(o.owner)}`,
      );
    }
  } else if (o.keypair) {
    owner = loadKeypair(o.keypair).publicKey;
  } else {
    throw new OptinferError('INVALID_INPUT', 'bond status: pass --keypair FILE or --owner PUBKEY');
  }
  const c = client(o);
  const [op, config, slot] = await reach(o, () =>
    Promise.all([c.fetchOperator(owner), c.config(), c.sender.getSlot()]),
  );
  if (!op) {
    print(o, { owner: owner.toBase58(), bonded: 0n }, [
      `${owner.toBase58()}: no bond (minimum for executors ${config.minExecutorBond} lamports)`,
    ]);
    return 0;
  }
  const free = freeBond(op);
  const stake = config.minExecutorBond;
  // What the sequencer allows an executor: no job while unbonding, and at most this many jobs not yet final.
  const jobsCovered = stake > 0n ? free / stake : 0n;
  const view = {
    owner: owner.toBase58(),
    bonded: op.bonded,
    locked: op.locked,
    unbonding: op.unbonding,
    unbondReadySlot: op.unbondReadySlot,
    free,
    openDisputes: op.openDisputes,
    executorStake: stake,
    jobsCovered,
    slot,
  };
  const why =
    op.unbonding > 0n
      ? '  as an executor: gets no new jobs while unbonding (the sequencer stops assigning at an unbond request)'
      : jobsCovered === 0n
        ? `  as an executor: gets no jobs (free bond below one stake of ${stake} lamports)`
        : `  as an executor: may hold ${jobsCovered} jobs not yet final (free bond / stake of ${stake} lamports)`;
  print(o, view, [
    `${view.owner}`,
    `  bonded         ${op.bonded} lamports (free ${free}, locked in disputes ${op.locked})`,
    `  unbonding      ${op.unbonding}${op.unbonding > 0n ? ` (withdrawable from slot ${op.unbondReadySlot}; now ${slot})` : ''}`,
    `  open disputes  ${op.openDisputes}`,
    why,
  ]);
  return 0;
}

export interface ChainInitOptions extends RpcOptions {
  authorityKeypair: string;
  sequencer: string;
  treasury?: string;
  challengeWindowSlots: bigint;
  clockSlots: bigint;
  minExecutorBond: bigint;
  minChallengerBond: bigint;
  /** The least the program accepts (window + 2 x clock + margin) when not given. */
  unbondingSlots?: bigint;
  bountyBps: number;
}

function pubkey(what: string, v: string): PublicKey {
  try {
    return new PublicKey(v);
  } catch {
    throw new OptinferError(
      'INVALID_INPUT',
      `${what}: expected a base58 public key, got ${JSON.stringify(v)}`,
    );
  }
}

/** Initializes the program's Config once after deployment; on an initialized program, shows what is there. */
export async function chainInitCommand(o: ChainInitOptions): Promise<number> {
  const authority = loadKeypair(o.authorityKeypair);
  const sequencer = pubkey('--sequencer', o.sequencer);
  const treasury = o.treasury ? pubkey('--treasury', o.treasury) : authority.publicKey;
  const c = client(o);
  const existing = await reach(o, () => c.fetchConfig());
  if (existing) {
    const same = existing.sequencer.equals(sequencer) && existing.authority.equals(authority.publicKey);
    print(
      o,
      {
        initialized: false,
        already: true,
        authority: existing.authority.toBase58(),
        sequencer: existing.sequencer.toBase58(),
      },
      [
        `the program at ${o.rpc} is already initialized: authority ${existing.authority.toBase58()}, sequencer ${existing.sequencer.toBase58()}`,
        ...(same ? [] : ['(not the authority and sequencer asked for; change them with update_config)']),
      ],
    );
    return same ? 0 : 2;
  }
  await reach(o, () =>
    c.initialize(authority, {
      sequencer,
      treasury,
      challengeWindow: o.challengeWindowSlots,
      clockSlots: o.clockSlots,
      minExecutorBond: o.minExecutorBond,
      minChallengerBond: o.minChallengerBond,
      unbondingSlots: o.unbondingSlots ?? minUnbondingSlots(o.challengeWindowSlots, o.clockSlots),
      bountyBps: o.bountyBps,
    }),
  );
  const cfg = await reach(o, () => c.config());
  print(
    o,
    {
      initialized: true,
      ...cfg,
      authority: cfg.authority.toBase58(),
      sequencer: cfg.sequencer.toBase58(),
      treasury: cfg.treasury.toBase58(),
    },
    [
      `initialized the optinfer program at ${o.rpc}`,
      `  authority          ${cfg.authority.toBase58()}`,
      `  sequencer          ${cfg.sequencer.toBase58()}`,
      `  treasury           ${cfg.treasury.toBase58()}`,
      `  challenge window   ${cfg.challengeWindow} slots; dispute clocks ${cfg.clockSlots} slots per side`,
      `  minimum bonds      executor ${cfg.minExecutorBond}, challenger ${cfg.minChallengerBond} lamports; bounty ${cfg.bountyBps / 100}%`,
    ],
  );
  return 0;
}
