// Operator commands over JSON-RPC: `disputes`, `batch show N`, `bond status` (read-only views of the program), and the
// `chain` commands of the program's authority (init, propose/accept authority, withdraw-treasury, pause/unpause).
import { PublicKey, type Keypair } from '@solana/web3.js';
import {
  PHASE,
  SIDE,
  connectRpc,
  freeBond,
  gameSlot,
  minUnbondingSlots,
  timeoutSlot,
  toRealSlot,
  windowEndSlot,
  type ConfigAccount,
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

/** The current slot, and the game slot windows and clocks count in when the program ever paused. */
function slotLine(c: ConfigAccount, slot: bigint): string {
  const g = gameSlot(c, slot);
  if (c.paused !== 0) return `slot ${slot}, game slot ${g} (paused since slot ${c.pauseStart})`;
  return g === slot ? `slot ${slot}` : `slot ${slot}, game slot ${g}`;
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
  const [list, config, slot] = await reach(o, () =>
    Promise.all([c.listDisputes({ open: o.open }), c.config(), c.sender.getSlot()]),
  );
  // Clocks run in game time (slots spent paused left out); the timeout is shown as the real slot it comes at.
  const paused = config.paused !== 0;
  const rows = list.map(({ address, dispute: d }) => ({
    address: address.toBase58(),
    batch: d.batch.toBase58(),
    job: d.jobIndex,
    phase: PHASE_NAMES[d.phase],
    turn: d.phase === PHASE.RESOLVED ? null : side(d.turn),
    winner: d.phase === PHASE.RESOLVED ? side(d.winner) : null,
    layer: d.phase >= PHASE.LAYER_REVEAL ? d.disagree : null,
    clockSlots: { executor: d.clock[0], challenger: d.clock[1] },
    timeoutAtSlot: d.phase === PHASE.RESOLVED ? null : toRealSlot(config, timeoutSlot(d)),
    timeoutAtGameSlot: d.phase === PHASE.RESOLVED ? null : timeoutSlot(d),
    executor: d.executor.toBase58(),
    challenger: d.challenger.toBase58(),
  }));
  const lines = rows.length
    ? [
        `${slotLine(config, slot)}; ${rows.length} dispute(s)`,
        ...rows.map(
          (r) =>
            `${r.address}  job ${r.job}  ${r.phase}${r.turn ? `, ${r.turn} to move (times out at ${paused ? 'game ' : ''}slot ${paused ? r.timeoutAtGameSlot : r.timeoutAtSlot})` : ''}` +
            `${r.winner ? `, won by the ${r.winner}` : ''}  clocks e=${r.clockSlots.executor} c=${r.clockSlots.challenger}`,
        ),
      ]
    : [`${slotLine(config, slot)}; no ${o.open ? 'open ' : ''}disputes`];
  print(o, { slot, gameSlot: gameSlot(config, slot), paused, disputes: rows }, lines);
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
  if (!b && BigInt(o.index) < config.nextBatchIndex) {
    // Committed (indices only grow), so closed by close_batch, which takes only finalized batches.
    const invalidated = await reach(o, () => c.invalidatedJobs(BigInt(o.index)));
    const view = {
      index: BigInt(o.index),
      finalized: true,
      closed: true,
      invalidatedJobs: invalidated.length,
      invalidated,
    };
    print(o, view, [
      `batch ${o.index}: finalized and closed (its account's rent went back to the sequencer; the root left with it)`,
      `  invalidated     ${invalidated.length ? invalidated.join(', ') : 'none'}`,
    ]);
    return 0;
  }
  if (!b)
    throw new OptinferError(
      'NOT_FOUND',
      `batch ${o.index} is not committed on this cluster (next index ${config.nextBatchIndex})`,
    );
  const end = windowEndSlot(b, config);
  const inWindow = gameSlot(config, slot) < b.commitSlot + b.challengeWindow;
  const state = b.finalized
    ? 'finalized'
    : inWindow
      ? config.paused !== 0
        ? `inside its challenge window, which stands still while the program is paused (${b.commitSlot + b.challengeWindow - gameSlot(config, slot)} slots left)`
        : `inside its challenge window (until slot ${end})`
      : config.paused !== 0
        ? 'window over, not finalized yet (nothing finalizes while the program is paused)'
        : 'window over, not finalized yet';
  const view = {
    index: b.index,
    root: b.root.toString('hex'),
    jobCount: b.jobCount,
    commitSlot: b.commitSlot,
    windowEndSlot: end,
    windowEndGameSlot: b.commitSlot + b.challengeWindow,
    paused: config.paused !== 0,
    openDisputes: b.openDisputes,
    invalidatedJobs: b.invalidated,
    finalized: b.finalized !== 0,
    closed: false,
    slot,
    gameSlot: gameSlot(config, slot),
  };
  print(o, view, [
    `batch ${b.index}: ${state}`,
    `  root            ${view.root}`,
    `  jobs            ${b.jobCount} (${b.invalidated} invalidated)`,
    `  committed at    game slot ${b.commitSlot}; ${slotLine(config, slot)}`,
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
    challengerLocked: op.challengerLocked,
    unbonding: op.unbonding,
    unbondReadySlot: toRealSlot(config, op.unbondReadySlot),
    unbondReadyGameSlot: op.unbondReadySlot,
    free,
    openDisputes: op.openDisputes,
    executorStake: stake,
    jobsCovered,
    slot,
    gameSlot: gameSlot(config, slot),
  };
  const why =
    op.unbonding > 0n
      ? '  as an executor: gets no new jobs while unbonding (the sequencer stops assigning at an unbond request)'
      : jobsCovered === 0n
        ? `  as an executor: gets no jobs (free bond below one stake of ${stake} lamports)`
        : `  as an executor: may hold ${jobsCovered} jobs not yet final (free bond / stake of ${stake} lamports)`;
  print(o, view, [
    `${view.owner}`,
    `  bonded         ${op.bonded} lamports (free ${free}, locked in disputes ${op.locked}, of which as challenger ${op.challengerLocked})`,
    `  unbonding      ${op.unbonding}${op.unbonding > 0n ? ` (withdrawable from slot ${view.unbondReadySlot}${config.paused !== 0 ? ' at the earliest' : ''}; now ${slotLine(config, slot)})` : ''}`,
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

// ---- the authority's commands ---------------------------------------------------------------------

export interface AuthorityOptions extends RpcOptions {
  /** The key file of the signer: the current authority, or for accept-authority the proposed one. */
  authorityKeypair: string;
}

/** The signer and the program's Config, refusing (exit 2) a key that is not `role` before anything is sent. */
async function authorityOf(
  o: AuthorityOptions,
  role: 'authority' | 'pending',
): Promise<{ c: SettlementClient; signer: Keypair; config: ConfigAccount }> {
  const signer = loadKeypair(o.authorityKeypair);
  const c = client(o);
  const config = await reach(o, () => c.config());
  const me = signer.publicKey;
  if (role === 'authority' && !config.authority.equals(me))
    throw new OptinferError(
      'INVALID_INPUT',
      `--authority-keypair: ${me.toBase58()} is not the program's authority (${config.authority.toBase58()})`,
    );
  if (role === 'pending' && !config.pendingAuthority.equals(me))
    throw new OptinferError(
      'INVALID_INPUT',
      `--authority-keypair: ${me.toBase58()} is not the proposed authority (${
        config.pendingAuthority.equals(PublicKey.default)
          ? 'none is proposed: the authority proposes one with `optinfer chain propose-authority`'
          : `proposed: ${config.pendingAuthority.toBase58()}`
      })`,
    );
  return { c, signer, config };
}

/** Sends one authority transaction; a program refusal keeps its PROGRAM_* code, prefixed with what was tried. */
async function sendAs<T>(o: RpcOptions, what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await reach(o, f);
  } catch (e) {
    if (e instanceof OptinferError && e.code !== 'UNAVAILABLE')
      throw new OptinferError(e.code, `${what}: ${e.message}`, e.details, { cause: e });
    throw e;
  }
}

/** `chain propose-authority <pubkey>`: names the next authority; the zero key withdraws a proposal. */
export async function proposeAuthorityCommand(
  o: AuthorityOptions & { newAuthority: string },
): Promise<number> {
  const next = pubkey('new authority', o.newAuthority);
  const { c, signer } = await authorityOf(o, 'authority');
  const res = await sendAs(o, 'propose_authority', () => c.proposeAuthority(signer, next));
  const cancel = next.equals(PublicKey.default);
  print(
    o,
    { authority: signer.publicKey.toBase58(), pendingAuthority: next.toBase58(), signature: res.signature },
    [
      cancel
        ? `withdrew the pending authority proposal (tx ${res.signature})`
        : `proposed ${next.toBase58()} as the next authority (tx ${res.signature})`,
      ...(cancel
        ? []
        : [
            `  ${signer.publicKey.toBase58()} stays the authority until that key runs \`optinfer chain accept-authority\``,
          ]),
    ],
  );
  return 0;
}

/** `chain accept-authority`: the proposed key takes over. */
export async function acceptAuthorityCommand(o: AuthorityOptions): Promise<number> {
  const { c, signer, config } = await authorityOf(o, 'pending');
  const res = await sendAs(o, 'accept_authority', () => c.acceptAuthority(signer));
  print(
    o,
    {
      authority: signer.publicKey.toBase58(),
      previousAuthority: config.authority.toBase58(),
      signature: res.signature,
    },
    [
      `${signer.publicKey.toBase58()} is now the program's authority (was ${config.authority.toBase58()}; tx ${res.signature})`,
    ],
  );
  return 0;
}

/** `chain withdraw-treasury <lamports>`: pays vault lamports (above its rent) to the configured treasury. */
export async function withdrawTreasuryCommand(o: AuthorityOptions & { lamports: bigint }): Promise<number> {
  if (o.lamports <= 0n)
    throw new OptinferError(
      'INVALID_INPUT',
      'withdraw-treasury: expected a positive number of lamports, got 0',
    );
  const { c, signer, config } = await authorityOf(o, 'authority');
  const vault = c.pdas.vault();
  const before = await reach(o, () => c.sender.getBalance(vault));
  const res = await sendAs(o, 'withdraw_treasury', () => c.withdrawTreasury(signer, o.lamports)).catch(
    (e: OptinferError) => {
      if (e.code !== 'PROGRAM_VAULT_INSUFFICIENT') throw e;
      throw new OptinferError(
        e.code,
        `withdraw-treasury: the vault ${vault.toBase58()} holds ${before} lamports and keeps its rent-exempt minimum; ` +
          `${o.lamports} is more than it can pay`,
        e.details,
        { cause: e },
      );
    },
  );
  const after = await reach(o, () => c.sender.getBalance(vault));
  print(
    o,
    {
      amount: o.lamports,
      treasury: config.treasury.toBase58(),
      vault: vault.toBase58(),
      vaultLamports: after,
      signature: res.signature,
    },
    [
      `paid ${o.lamports} lamports from the vault to the treasury ${config.treasury.toBase58()} (tx ${res.signature})`,
      `  the vault ${vault.toBase58()} now holds ${after} lamports`,
    ],
  );
  return 0;
}

/**
 * `chain pause` / `chain unpause`: while paused nothing commits, opens, moves, resolves or finalizes, and the
 * slots spent paused do not count against challenge windows, dispute clocks or unbonding delays.
 */
export async function setPausedCommand(o: AuthorityOptions & { paused: boolean }): Promise<number> {
  const { c, signer, config } = await authorityOf(o, 'authority');
  const was = config.paused !== 0;
  const what = o.paused ? 'pause' : 'unpause';
  const res =
    was === o.paused ? null : await sendAs(o, what, () => c.updateConfig(signer, { paused: o.paused }));
  const [cfg, slot] = await reach(o, () => Promise.all([c.config(), c.sender.getSlot()]));
  print(
    o,
    {
      paused: cfg.paused !== 0,
      changed: res !== null,
      pausedSlots: cfg.pausedSlots,
      pauseStart: cfg.paused !== 0 ? cfg.pauseStart : null,
      slot,
      gameSlot: gameSlot(cfg, slot),
      signature: res?.signature ?? null,
    },
    [
      res === null
        ? `the program is already ${o.paused ? 'paused' : 'running'}; nothing sent`
        : `${o.paused ? 'paused' : 'unpaused'} the program (tx ${res.signature})`,
      o.paused
        ? `  paused since slot ${cfg.pauseStart}: windows, clocks and unbonding delays stand still until \`optinfer chain unpause\``
        : `  running; ${cfg.pausedSlots} slots spent paused so far do not count against windows, clocks or unbonding delays`,
    ],
  );
  return 0;
}
