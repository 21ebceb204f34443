// Operator commands: `disputes`, `batch show N`, `bond status` (read-only views of the program, through a node's API or
// a cluster's JSON-RPC), and the `chain` commands of the program's authority (init, propose/accept authority, withdraw-treasury, pause/unpause).
import { PublicKey, type Keypair } from '@solana/web3.js';
import {
  connectRpc,
  gameSlot,
  minUnbondingSlots,
  type ConfigAccount,
  type SettlementClient,
} from '../../settlement/index.ts';
import { OptinferError } from '../../state/errors.ts';
import { loadKeypair } from '../../common/keys.ts';
import { OptinferClient, isOptinferApiError } from '../../client/index.ts';
import type {
  ChainClock,
  ClaimsView,
  OperatorStatusView,
  OperatorView,
  OperatorsView,
  OutstandingView,
} from '../../client/types.ts';
import {
  chainBatchView,
  disputesView,
  operatorStatusView,
  operatorsView,
  ownerKey,
} from '../../sequencer/chain-views.ts';

export interface RpcOptions {
  rpc: string;
  ws?: string;
  json: boolean;
}

/** Where the read-only commands read: a cluster's JSON-RPC when `rpc` is set, else the node's API at `url`. */
export interface ReadOptions {
  rpc?: string;
  url: string;
  json: boolean;
}

function client(o: { rpc: string; ws?: string }): SettlementClient {
  return connectRpc({ rpc: o.rpc, ws: o.ws }).client;
}

/** Reads that fail because the cluster is unreachable say so in one line. */
async function reach<T>(o: { rpc: string }, f: () => Promise<T>): Promise<T> {
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

/** One read, from the cluster (`--rpc`) or from the node; a node that cannot be reached is named, with what to do. */
async function read<T>(
  o: ReadOptions,
  fromCluster: (c: SettlementClient) => Promise<T>,
  fromNode: (api: OptinferClient) => Promise<T>,
): Promise<T> {
  if (o.rpc) {
    const rpc = o.rpc;
    return reach({ rpc }, () => fromCluster(client({ rpc })));
  }
  try {
    return await fromNode(new OptinferClient({ url: o.url }));
  } catch (e) {
    if (isOptinferApiError(e, 'UNAVAILABLE') && e.status === undefined)
      throw new OptinferError(
        'UNAVAILABLE',
        `${e.message}: start one with \`npx optinfer dev\`, or pass --url URL (or OPTINFER_URL) for another node, or --rpc URL to read a cluster`,
        undefined,
        { cause: e },
      );
    throw e;
  }
}

/** The current slot, and the game slot windows and clocks count in when the program ever paused. */
function slotLine(v: ChainClock): string {
  if (v.paused) return `slot ${v.slot}, game slot ${v.gameSlot} (paused since slot ${v.pauseStart})`;
  return v.gameSlot === v.slot ? `slot ${v.slot}` : `slot ${v.slot}, game slot ${v.gameSlot}`;
}

function print(o: { json: boolean }, value: unknown, lines: string[]): void {
  process.stdout.write(
    o.json
      ? JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n'
      : lines.join('\n') + '\n',
  );
}

export async function disputesCommand(o: ReadOptions & { open: boolean }): Promise<number> {
  const v = await read(
    o,
    (c) => disputesView(c, { open: o.open }),
    (api) => api.disputes({ open: o.open }),
  );
  const lines = v.disputes.length
    ? [
        `${slotLine(v)}; ${v.disputes.length} dispute(s)`,
        ...v.disputes.map(
          (r) =>
            `${r.address}  batch ${r.batchIndex ?? '?'} job ${r.job}  ${r.phase}${r.turn ? `, ${r.turn} to move (times out at ${v.paused ? 'game ' : ''}slot ${v.paused ? r.timeoutAtGameSlot : r.timeoutAtSlot})` : ''}` +
            `${r.winner ? `, won by the ${r.winner}` : ''}  clocks e=${r.clockSlots.executor} c=${r.clockSlots.challenger}` +
            `  executor ${r.executor} challenger ${r.challenger}`,
        ),
      ]
    : [`${slotLine(v)}; no ${o.open ? 'open ' : ''}disputes`];
  print(o, v, lines);
  return 0;
}

export async function batchShowCommand(o: ReadOptions & { index: string }): Promise<number> {
  if (!/^\d{1,20}$/.test(o.index) || BigInt(o.index) >= 1n << 64n)
    throw new OptinferError(
      'INVALID_INPUT',
      `batch index: expected a non-negative integer, got ${JSON.stringify(o.index)}`,
    );
  const b = await read(
    o,
    (c) =>
      chainBatchView(c, BigInt(o.index)).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
        throw new OptinferError('NOT_FOUND', e.message.replace('on chain', 'on this cluster'));
      }),
    (api) => api.chainBatch(o.index),
  );
  const left = BigInt(b.windowEndGameSlot) - BigInt(b.gameSlot);
  const state = b.closed
    ? "finalized and closed (its account's rent went back to the sequencer; the root left with it)"
    : b.finalized
      ? 'finalized'
      : b.inWindow
        ? b.paused
          ? `inside its challenge window, which stands still while the program is paused (${left} slots left)`
          : `inside its challenge window (until slot ${b.windowEndSlot})`
        : b.paused
          ? 'window over, not finalized yet (nothing finalizes while the program is paused)'
          : b.lateDisputesUntilGameSlot !== null
            ? `window over; a data request answered late keeps disputes open until game slot ${b.lateDisputesUntilGameSlot}`
            : 'window over, not finalized yet';
  print(o, b, [
    `batch ${b.index}: ${state}`,
    `  root            ${b.root ?? 'not on chain any more'}`,
    `  jobs            ${b.jobCount} (${b.invalidatedJobs} invalidated${b.invalidatedPositions.length ? `: position ${b.invalidatedPositions.join(', ')}` : ''})`,
    `  committed at    game slot ${b.commitSlot}; ${slotLine(b)}`,
    `  open disputes   ${b.openDisputes}`,
  ]);
  return 0;
}

function isNotFound(e: unknown): e is OptinferError {
  return e instanceof OptinferError && e.code === 'NOT_FOUND';
}

/** The lines of one bond. */
function bondLines(v: OperatorView, clock: ChainClock): string[] {
  if (!v.exists) return [`${v.owner}${v.role ? ` (${v.role})` : ''}: no bond`];
  const why =
    v.role === 'sequencer'
      ? `  as the sequencer: covers ${v.jobsCovered} record-fault slash(es) of ${v.executorStake} lamports (commit_batch needs one)`
      : BigInt(v.unbonding) > 0n
        ? '  as an executor: gets no new jobs while unbonding (the sequencer stops assigning at an unbond request)'
        : v.jobsCovered === '0'
          ? `  as an executor: gets no jobs (free bond below one stake of ${v.executorStake} lamports)`
          : `  as an executor: may hold ${v.jobsCovered} jobs not yet final (free bond / stake of ${v.executorStake} lamports)`;
  return [
    `${v.owner}${v.role ? ` (${v.role})` : ''}`,
    `  bonded         ${v.bonded} lamports (free ${v.free}, locked in disputes ${v.locked}, of which as challenger ${v.challengerLocked})`,
    `  unbonding      ${v.unbonding}${BigInt(v.unbonding) > 0n ? ` (withdrawable from slot ${v.unbondReadySlot}${clock.paused ? ' at the earliest' : ''}; now ${slotLine(clock)})` : ''}`,
    `  open disputes  ${v.openDisputes}`,
    `  earnings       ${earningsLine(v)}`,
    why,
  ];
}

/** Lifetime earnings counted on the Operator account: bounties, fees, slashes and the net. */
function earningsLine(v: OperatorView): string {
  const e = v.earnings;
  return `net ${e.net} lamports: bounties ${e.bounties} + fees ${e.fees} - slashed ${e.slashed}`;
}

/** The lines `earnings` prints for one operator. */
function earningsLines(v: OperatorView): string[] {
  const name = `${v.owner}${v.role ? ` (${v.role})` : ''}`;
  if (!v.exists) return [`${name}: no Operator account (nothing earned or at stake)`];
  return [
    name,
    `  earned    ${BigInt(v.earnings.bounties) + BigInt(v.earnings.fees)} lamports (bounties ${v.earnings.bounties}, fees ${v.earnings.fees})`,
    `  lost      ${v.earnings.slashed} lamports slashed`,
    `  net       ${v.earnings.net} lamports`,
    `  at stake  ${v.locked} lamports locked in ${v.openDisputes} open dispute(s); ${v.free} free, ${v.unbonding} unbonding`,
    ...(v.claims ? claimsLines(v.claims) : []),
    ...(v.outstanding ? outstandingLines(v.outstanding) : []),
  ];
}

/** What the key gets back when the program's accounts it paid for close. */
function outstandingLines(o: OutstandingView): string[] {
  const accounts = [
    [o.openBatches, 'open batch(es)'],
    [o.jobAccounts, 'Job'],
    [o.disputeAccounts, 'Dispute'],
    [o.dataRequests, 'DataRequest'],
    [o.proofBuffers, 'proof buffer(s)'],
  ]
    .filter(([n]) => n !== 0)
    .map(([n, what]) => `${n} ${what}`);
  if (accounts.length === 0)
    return ['  to come back  0 lamports (no open account of its own on the program)'];
  return [
    `  to come back  ${o.outstanding} lamports when its accounts close (${accounts.join(', ')})`,
    `    rent ${o.rentOutstanding}; fee escrow not claimed ${o.escrowOutstanding} (executors may still claim it); ` +
      `fault reserves ${o.faultReservesOutstanding}; data request deposits ${o.dataRequestDepositsOutstanding}`,
  ];
}

/** An executor's fees off chain, from its claimer's table (the node's own executors). */
function claimsLines(c: ClaimsView): string[] {
  return [
    `  fees due  ${c.feesDue} lamports on ${c.jobsDue} job(s) not yet claimed (batch not final, or a claim retried)`,
    `  skipped   ${c.feesSkipped} lamports on ${c.jobsSkipped} job(s): a claim would cost more than it pays`,
    `  unpaid    ${c.feesLost} lamports on ${c.jobsLost} job(s): batch closed before the claim, or escrow short`,
  ];
}

/**
 * `earnings`: what an operator (--keypair or --owner; without either, every operator) has earned and lost on the
 * program over its account's life, what it has at stake now, and what comes back to it when the accounts it paid
 * for close (rent, its batches' unclaimed escrow and fault reserves, data request deposits). Transaction fees are
 * not counted on chain, so they are not in it.
 */
export async function earningsCommand(
  o: ReadOptions & { keypair?: string; owner?: string },
): Promise<number> {
  const r = await readOperators(o, { outstanding: true });
  if (r.one) {
    print(
      o,
      { owner: r.one.owner, role: r.one.role, ...r.one.earnings, ...r.one.claims, ...r.one.outstanding },
      earningsLines(r.one),
    );
    return 0;
  }
  const all = r.all;
  print(
    o,
    all.operators.map((v) => ({
      owner: v.owner,
      role: v.role,
      ...v.earnings,
      locked: v.locked,
      ...v.claims,
      ...v.outstanding,
    })),
    all.operators.length ? all.operators.flatMap(earningsLines) : ['no operators on the program'],
  );
  return 0;
}

/** One operator's view (--owner or --keypair given) or every operator's, through the node or the cluster. */
async function readOperators(
  o: ReadOptions & { keypair?: string; owner?: string },
  want: { outstanding?: boolean } = {},
): Promise<{ one: OperatorStatusView; all?: undefined } | { one?: undefined; all: OperatorsView }> {
  let owner: PublicKey | undefined;
  if (o.owner) owner = ownerKey('--owner', o.owner);
  else if (o.keypair) owner = loadKeypair(o.keypair).publicKey;
  if (owner) {
    const key = owner;
    return {
      one: await read(
        o,
        (c) => operatorStatusView(c, key, undefined, want),
        (api) => api.operator(key.toBase58(), want),
      ),
    };
  }
  return {
    all: await read(
      o,
      (c) => operatorsView(c, undefined, want),
      (api) => api.operators(want),
    ),
  };
}

/**
 * `bond status`: one operator's bond (--keypair or --owner), or without either every bond on the program, the
 * node's own keys first and named (executor, challenger).
 */
export async function bondStatusCommand(
  o: ReadOptions & { keypair?: string; owner?: string },
): Promise<number> {
  const r = await readOperators(o);
  if (r.one) {
    const v = r.one;
    print(
      o,
      v,
      v.exists
        ? bondLines(v, v)
        : [`${v.owner}: no bond (minimum for executors ${v.executorStake} lamports)`],
    );
    return 0;
  }
  const all = r.all;
  print(
    o,
    all,
    all.operators.length
      ? [
          `${slotLine(all)}; ${all.operators.length} operator(s); minimum bonds executor ${all.minExecutorBond}, challenger ${all.minChallengerBond} lamports`,
          ...all.operators.flatMap((v) => bondLines(v, all)),
        ]
      : [`${slotLine(all)}; no bonds on the program (minimum for executors ${all.minExecutorBond} lamports)`],
  );
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
