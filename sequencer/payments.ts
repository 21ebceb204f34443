// The payment gate: a job is taken only with the user's voucher raising its running total by the fee, within its on-chain deposit.
import { PublicKey, type Keypair, type Signer } from '@solana/web3.js';
import type { SettlementClient } from '../settlement/client.ts';
import { OptinferError } from '../state/errors.ts';
import { MAX_VOUCHER, VOUCHER_SIGNATURE_BYTES, signVoucher, verifyVoucher } from '../state/voucher.ts';

/** What a job carries to pay: the user's voucher for its new running total (state/voucher.ts). */
export interface Payment {
  user: PublicKey;
  /** Lamports the user owes this sequencer over its deposit's life, this job included. */
  cumulative: bigint;
  signature: Uint8Array;
}

/** The part of a Deposit account (settlement/accounts.ts DepositAccount) the gate reads. */
export interface DepositView {
  balance: bigint;
  drawn: bigint;
  withdrawReadySlot: bigint;
}

/** Where the gate keeps the vouchers it took (the sequencer's LevelDB, Sequencer.voucherStore): per user, ascending. */
export interface VoucherStore {
  load(): Promise<[string, StoredVoucher[]][]>;
  save(user: string, list: StoredVoucher[]): Promise<void>;
}

/** A voucher as stored: decimal lamports and 128 hex digits. */
export interface StoredVoucher {
  cumulative: string;
  signature: string;
}

/** A user's standing with this sequencer, as GET /v1/deposits/:user shows it (decimal lamport strings). */
export interface DepositStanding {
  user: string;
  /** The program and the sequencer key a voucher must name (state/voucher.ts). */
  programId: string;
  sequencer: string;
  /** Lamports the deposit holds (drawn or not yet drawn by vouchers this node took). */
  balance: string;
  /** Lamports the sequencer drew over the deposit's life. */
  drawn: string;
  /** Lamports of vouchers this node took and has not drawn yet. */
  owed: string;
  /** What the next jobs' fees can use: balance - owed. */
  available: string;
  /** The running total the next voucher must raise by the job's fee. */
  cumulative: string;
  /** True while a withdrawal is pending: no job is taken. */
  withdrawing: boolean;
}

/**
 * Holds the best voucher of each user and refuses a job the user's deposit cannot pay, with
 * PAYMENT_REQUIRED (HTTP 402) naming the balance and the fee. With a VoucherStore the vouchers taken are
 * on disk before the job is: a restart draws them still. Without one they are kept in memory: after a
 * restart the node takes the chain's `drawn` as the running total, so what it lost is the fees of the
 * vouchers it took and never drew (its own loss, never the user's).
 */
export class PaymentGate {
  /** Each user's vouchers taken and not yet drawn past, ascending: the sequencer may draw up to any of them. */
  private readonly held = new Map<string, Voucher[]>();

  constructor(
    readonly programId: PublicKey,
    readonly sequencer: PublicKey,
    /** The user's Deposit account, or null before its first deposit. */
    private readonly readDeposit: (user: PublicKey) => Promise<DepositView | null>,
    private readonly store?: VoucherStore,
  ) {}

  /** Reloads the vouchers a previous run took (from the store). */
  async load(): Promise<void> {
    if (!this.store) return;
    for (const [user, list] of await this.store.load()) {
      this.held.set(
        user,
        list.map((v) => ({ cumulative: BigInt(v.cumulative), signature: Buffer.from(v.signature, 'hex') })),
      );
    }
  }

  /** Writes `user`'s vouchers to the store (no store: nothing). */
  private async save(key: string): Promise<void> {
    const list = (this.held.get(key) ?? []).map((v) => ({
      cumulative: v.cumulative.toString(),
      signature: v.signature.toString('hex'),
    }));
    await this.store?.save(key, list);
  }

  /** The running total already owed by `user`: the best voucher taken, or what was drawn. */
  private spent(user: PublicKey, d: DepositView | null): bigint {
    const v = this.held.get(user.toBase58())?.at(-1)?.cumulative ?? 0n;
    const drawn = d?.drawn ?? 0n;
    return v > drawn ? v : drawn;
  }

  async standing(user: PublicKey): Promise<DepositStanding> {
    const d = await this.readDeposit(user);
    const balance = d?.balance ?? 0n;
    const drawn = d?.drawn ?? 0n;
    const spent = this.spent(user, d);
    const owed = spent - drawn;
    return {
      user: user.toBase58(),
      programId: this.programId.toBase58(),
      sequencer: this.sequencer.toBase58(),
      balance: balance.toString(),
      drawn: drawn.toString(),
      owed: owed.toString(),
      available: (balance > owed ? balance - owed : 0n).toString(),
      cumulative: spent.toString(),
      withdrawing: (d?.withdrawReadySlot ?? 0n) !== 0n,
    };
  }

  /**
   * Takes `p` as the payment of a job of `fee` lamports, or throws: PAYMENT_REQUIRED when there is no
   * voucher or the deposit is short (the message names the balance available and the fee), INVALID_INPUT
   * when the voucher is malformed or its signature does not verify. Returns an undo for a job that is
   * then not accepted after all.
   */
  async reserve(p: Payment | undefined, fee: bigint): Promise<() => void> {
    if (!p) {
      throw new OptinferError(
        'PAYMENT_REQUIRED',
        `job fee ${fee} lamports: payment required ("payment": {"user", "cumulative", "signature"}, a voucher on your deposit)`,
      );
    }
    if (p.signature.length !== VOUCHER_SIGNATURE_BYTES || p.cumulative < 0n || p.cumulative > MAX_VOUCHER) {
      throw new OptinferError('INVALID_INPUT', 'payment: expected a u64 cumulative and a 64-byte signature');
    }
    return this.take(p, fee, await this.readDeposit(p.user));
  }

  /**
   * Pays a job of `fee` lamports from `payer`'s deposit, the node signing the voucher for it (the dev node's
   * default payer): its running total raised by the fee, through the same checks as a user's voucher.
   */
  async reservePaidBy(payer: Keypair, fee: bigint): Promise<() => void> {
    const d = await this.readDeposit(payer.publicKey);
    // Synchronous from the read to the take: concurrent jobs each raise the total by their own fee.
    const cumulative = this.spent(payer.publicKey, d) + fee;
    const terms = { programId: this.programId, user: payer.publicKey, sequencer: this.sequencer, cumulative };
    return this.take(
      { user: payer.publicKey, cumulative, signature: signVoucher(terms, payer.secretKey) },
      fee,
      d,
    );
  }

  /** Checks `p` against the deposit `d` just read and holds it; synchronous up to the store's write. */
  private async take(p: Payment, fee: bigint, d: DepositView | null): Promise<() => void> {
    const key = p.user.toBase58();
    const balance = d?.balance ?? 0n;
    const drawn = d?.drawn ?? 0n;
    const spent = this.spent(p.user, d);
    const owed = spent - drawn;
    const available = balance > owed ? balance - owed : 0n;
    if (d && d.withdrawReadySlot !== 0n) {
      throw new OptinferError(
        'PAYMENT_REQUIRED',
        `deposit of ${key}: a withdrawal is pending (balance ${balance} lamports, job fee ${fee} lamports); deposit again to resume`,
      );
    }
    if (available < fee || p.cumulative - drawn > balance) {
      throw new OptinferError(
        'PAYMENT_REQUIRED',
        `deposit of ${key}: balance ${available} lamports available, job fee ${fee} lamports; deposit more`,
      );
    }
    if (p.cumulative < spent + fee) {
      throw new OptinferError(
        'PAYMENT_REQUIRED',
        `payment: voucher for ${p.cumulative} lamports, expected at least ${spent + fee} (running total ${spent} + job fee ${fee})`,
      );
    }
    if (
      !verifyVoucher(
        { programId: this.programId, user: p.user, sequencer: this.sequencer, cumulative: p.cumulative },
        p.signature,
      )
    ) {
      throw new OptinferError(
        'INVALID_INPUT',
        `payment: the signature is not ${key}'s voucher for ${p.cumulative} lamports to sequencer ${this.sequencer.toBase58()}`,
      );
    }
    const mine: Voucher = { cumulative: p.cumulative, signature: Buffer.from(p.signature) };
    const list = this.held.get(key) ?? [];
    list.push(mine);
    this.held.set(key, list);
    const undo = () => {
      const l = this.held.get(key);
      const at = l?.indexOf(mine) ?? -1;
      if (l && at >= 0) l.splice(at, 1);
      if (l?.length === 0) this.held.delete(key);
      void this.save(key).catch(() => {});
    };
    try {
      await this.save(key);
    } catch (e) {
      undo();
      throw e;
    }
    return undo;
  }

  /** The latest voucher of every user (the highest running total): what draw_deposit redeems in full. */
  vouchers(): ({ user: PublicKey } & Voucher)[] {
    return [...this.held].map(([user, l]) => ({ user: new PublicKey(user), ...l.at(-1)! }));
  }

  /** `user`'s highest voucher whose total is at most `cap` (all when no cap), or undefined. */
  voucherUpTo(user: PublicKey, cap?: bigint): Voucher | undefined {
    const l = this.held.get(user.toBase58()) ?? [];
    for (let i = l.length - 1; i >= 0; i--) if (cap === undefined || l[i].cumulative <= cap) return l[i];
    return undefined;
  }

  /** Forgets `user`'s vouchers at or below `drawn`: the chain paid them. */
  prune(user: PublicKey, drawn: bigint): void {
    const key = user.toBase58();
    const before = this.held.get(key) ?? [];
    const l = before.filter((v) => v.cumulative > drawn);
    if (l.length === before.length) return;
    if (l.length) this.held.set(key, l);
    else this.held.delete(key);
    void this.save(key).catch(() => {});
  }
}

/**
 * The sequencer redeems its vouchers: for each user, the highest voucher at most `cap(user, withdrawing)` (the
 * running total of the user's jobs it may charge; no cap: all it took) and above the chain's `drawn`, one
 * draw_deposit each. The settlement loop caps at the user's finalized fees, and, once the user asks for a
 * withdrawal, at the fees of its jobs committed with results (served, final or not: review 17, withdraw before
 * finality), never at jobs that failed or were refused (review 18). Deposits are read together, then users with
 * a withdrawal pending are drawn first, the largest amount first, so a pass slowed by many other users cannot let
 * a withdrawal land before its draw (review 18, withdrawal outruns the draw pass). Returns what each draw paid, as
 * the program's events say.
 */
export async function drawVouchers(
  gate: PaymentGate,
  client: SettlementClient,
  sequencer: Signer,
  cap?: (user: PublicKey, withdrawing: boolean) => bigint | undefined,
): Promise<{ user: PublicKey; amount: bigint }[]> {
  const users = gate.vouchers().map((v) => v.user);
  const deposits = await Promise.all(users.map((u) => client.fetchDeposit(u)));
  const due: { user: PublicKey; withdrawing: boolean; amount: bigint; v: Voucher }[] = [];
  users.forEach((user, i) => {
    const d = deposits[i];
    if (!d) return;
    gate.prune(user, d.drawn);
    const withdrawing = d.withdrawReadySlot !== 0n;
    const v = gate.voucherUpTo(user, cap?.(user, withdrawing));
    if (!v || v.cumulative <= d.drawn || d.balance === 0n) return;
    due.push({ user, withdrawing, amount: v.cumulative - d.drawn, v });
  });
  due.sort((a, b) =>
    a.withdrawing !== b.withdrawing
      ? a.withdrawing
        ? -1
        : 1
      : a.amount > b.amount
        ? -1
        : a.amount < b.amount
          ? 1
          : 0,
  );
  const paid: { user: PublicKey; amount: bigint }[] = [];
  for (const { user, v } of due) {
    const r = await client.drawDeposit(sequencer, { user, cumulative: v.cumulative, signature: v.signature });
    for (const e of r.events) if (e.name === 'DepositDrawn') paid.push({ user, amount: e.data.amount });
    const after = await client.fetchDeposit(user);
    if (after) gate.prune(user, after.drawn);
  }
  return paid;
}

/** A voucher the node holds: its running total and the user's signature. */
interface Voucher {
  cumulative: bigint;
  signature: Buffer;
}

/** Parses the JSON `payment` of a job: {"user": base58, "cumulative": decimal string or digits, "signature": 128 hex}. */
export function parsePayment(v: unknown): Payment | undefined {
  if (v === undefined) return undefined;
  const bad = (what: string): never => {
    throw new OptinferError(
      'INVALID_INPUT',
      `payment: ${what}; expected {"user": base58 key, "cumulative": lamports as a decimal string, "signature": 128 hex digits}`,
    );
  };
  if (!v || typeof v !== 'object' || Array.isArray(v)) return bad('not an object');
  const o = v as { user?: unknown; cumulative?: unknown; signature?: unknown };
  let user: PublicKey;
  try {
    user = new PublicKey(String(o.user));
  } catch {
    return bad(`user ${JSON.stringify(o.user)} is not a base58 key`);
  }
  const c =
    typeof o.cumulative === 'number' && Number.isSafeInteger(o.cumulative)
      ? String(o.cumulative)
      : o.cumulative;
  if (typeof c !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(c) || BigInt(c) > MAX_VOUCHER) {
    return bad(`cumulative ${JSON.stringify(o.cumulative)} is not a u64`);
  }
  if (typeof o.signature !== 'string' || !/^[0-9a-f]{128}$/.test(o.signature)) {
    return bad('signature is not 128 lowercase hex digits');
  }
  return { user, cumulative: BigInt(c), signature: Buffer.from(o.signature, 'hex') };
}
