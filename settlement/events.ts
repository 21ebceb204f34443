// Program events: Anchor v2 `emit!` writes `Program data: <base64>` log lines; decoded through the IDL
// into typed objects, and followed live over a web3.js Connection.onLogs subscription.
import type { Commitment, Connection, Context, Logs, PublicKey } from '@solana/web3.js';
import { CODER, PROGRAM_ID } from './idl.ts';
import { convertStruct } from './codec.ts';

export interface EventData {
  ConfigUpdated: { authority: PublicKey; paused: number };
  ModelRegistered: { modelId: Buffer; layerCount: number };
  ModelOpsAdded: { modelId: Buffer; page: number; opsLoaded: number };
  Bonded: { owner: PublicKey; amount: bigint; bonded: bigint };
  UnbondRequested: { owner: PublicKey; amount: bigint; readySlot: bigint };
  Withdrawn: { owner: PublicKey; amount: bigint };
  BatchCommitted: {
    index: bigint;
    root: Buffer;
    jobCount: number;
    slot: bigint;
    feeTotal: bigint;
    /** The batch's fault reserve moved in from the sequencer's wallet. */
    faultReserve: bigint;
  };
  BatchFinalized: { index: bigint; invalidated: number };
  DisputeOpened: {
    dispute: PublicKey;
    batchIndex: bigint;
    jobIndex: number;
    executor: PublicKey;
    challenger: PublicKey;
  };
  DisputeMove: {
    dispute: PublicKey;
    side: number;
    phase: number;
    agreed: number;
    disagree: number;
    chunkLevel: number;
    chunkIndex: number;
  };
  OneStepExecuted: { dispute: PublicKey; layer: number; chunkIndex: number; executorCorrect: boolean };
  OneStepProgress: { dispute: PublicKey; done: number; of: number };
  TimeoutClaimed: { dispute: PublicKey; side: number };
  DisputeResolved: { dispute: PublicKey; winner: number; bounty: bigint; toTreasury: bigint };
  Slashed: { operator: PublicKey; amount: bigint };
  JobInvalidated: { batchIndex: bigint; jobIndex: number };
  /** end_moot_game: the Dispute closed, its rent to `challenger`. */
  GameMooted: { dispute: PublicKey; batchIndex: bigint; jobIndex: number; challenger: PublicKey };
  BatchClosed: { index: bigint; payer: PublicKey; lamports: bigint; invalidated: number };
  DisputeClosed: {
    dispute: PublicKey;
    challenger: PublicKey;
    jobIndex: number;
    winner: number;
    lamports: bigint;
  };
  JobClosed: { batch: PublicKey; jobIndex: number; payer: PublicKey; lamports: bigint };
  /** refund_job_rent: the Job rent refund an invalidated Job account held above its rent, paid to `payer`. */
  JobRentRefunded: { batch: PublicKey; jobIndex: number; payer: PublicKey; lamports: bigint };
  OperatorClosed: { owner: PublicKey; lamports: bigint };
  RecordFaultProven: {
    batchIndex: bigint;
    jobIndex: number;
    kind: number;
    prover: PublicKey;
    sequencer: PublicKey;
    bounty: bigint;
    toTreasury: bigint;
  };
  /** prove_short_escrow: batch `batchIndex`'s tree sums its fees to `feeSum`, above its escrow `feeTotal`. */
  EscrowShortProven: {
    batchIndex: bigint;
    feeSum: bigint;
    feeTotal: bigint;
    /** Moved from the batch's fault reserve into the escrow: feeSum - feeTotal when it covered that, else 0. */
    toppedUp: bigint;
    prover: PublicKey;
    sequencer: PublicKey;
    bounty: bigint;
    toTreasury: bigint;
  };
  /** claim_fees: `amount` paid to `executor` from the batch's escrow for `jobs` jobs. */
  FeesClaimed: { batchIndex: bigint; executor: PublicKey; jobs: number; amount: bigint };
  /** deposit: `amount` added to `user`'s deposit, now holding `balance`. */
  Deposited: { user: PublicKey; amount: bigint; balance: bigint };
  /** draw_deposit: `amount` paid to `sequencer` by a voucher; `drawn` and `balance` after it. */
  DepositDrawn: { user: PublicKey; sequencer: PublicKey; amount: bigint; drawn: bigint; balance: bigint };
  /** request_withdraw_deposit: `balance` withdrawable from game slot `readySlot`. */
  DepositWithdrawRequested: { user: PublicKey; balance: bigint; readySlot: bigint };
  /** withdraw_deposit: `amount` paid back to `user`. */
  DepositWithdrawn: { user: PublicKey; amount: bigint };
  /** request_data: the record and inputs of the job are due before game slot `deadline`. */
  DataRequested: { batchIndex: bigint; jobIndex: number; requester: PublicKey; deadline: bigint };
  /** answer_data: the record and signature, the inputs (`inputBytes`) in `answerer`'s frozen buffer. */
  DataAnswered: {
    batchIndex: bigint;
    jobIndex: number;
    answerer: PublicKey;
    inputBytes: number;
    /** Lamports of the deposit paid to the answerer (answerPay); the rest is the requester's at close. */
    paid: bigint;
    record: Buffer;
    signature: Buffer;
  };
  /** claim_data_timeout: the job invalidated, the sequencer slashed; bounty to the requester. */
  DataTimedOut: {
    batchIndex: bigint;
    jobIndex: number;
    requester: PublicKey;
    sequencer: PublicKey;
    bounty: bigint;
    toTreasury: bigint;
  };
  DataRequestClosed: { batch: PublicKey; jobIndex: number; requester: PublicKey; answerer: PublicKey };
}
export type EventName = keyof EventData;
/** A decoded event: `name` discriminates `data`. */
export type OptinferEvent = { [K in EventName]: { name: K; data: EventData[K] } }[EventName];

/** Decodes one `Program data:` payload (base64); null if it is not one of this program's events. */
export function decodeEventData(base64: string): OptinferEvent | null {
  let ev: { name: string; data: Record<string, unknown> } | null;
  try {
    ev = CODER.events.decode(base64) as typeof ev;
  } catch {
    return null;
  }
  if (!ev) return null;
  return { name: ev.name, data: convertStruct(ev.data, ev.name) } as OptinferEvent;
}

/**
 * The events a transaction's logs carry, emitted by the program `programId` itself (data lines
 * written while another program is innermost on the invoke stack are skipped).
 */
export function parseEvents(logs: readonly string[], programId: PublicKey = PROGRAM_ID): OptinferEvent[] {
  const id = programId.toBase58();
  const stack: string[] = [];
  const out: OptinferEvent[] = [];
  for (const line of logs) {
    let m = line.match(/^Program (\S+) invoke \[\d+\]$/);
    if (m) {
      stack.push(m[1]);
      continue;
    }
    m = line.match(/^Program (\S+) (?:success|failed)/);
    if (m) {
      stack.pop();
      continue;
    }
    m = line.match(/^Program data: (.+)$/);
    if (m && stack[stack.length - 1] === id) {
      // sol_log_data writes one base64 field per slice; Anchor events are one slice.
      const ev = decodeEventData(m[1].split(' ')[0]);
      if (ev) out.push(ev);
    }
  }
  return out;
}

export interface LogEvents {
  signature: string;
  slot: number;
  events: OptinferEvent[];
}

/**
 * Calls `onEvents` for every successful transaction that logs events of the program.
 * Failed transactions are skipped (their state changes did not happen). Returns the unsubscribe function.
 */
export function subscribeEvents(
  connection: Connection,
  onEvents: (e: LogEvents) => void,
  opts: { programId?: PublicKey; commitment?: Commitment; includeFailed?: boolean } = {},
): () => Promise<void> {
  const programId = opts.programId ?? PROGRAM_ID;
  const id = connection.onLogs(
    programId,
    (logs: Logs, ctx: Context) => {
      if (logs.err && !opts.includeFailed) return;
      const events = parseEvents(logs.logs, programId);
      if (events.length > 0) onEvents({ signature: logs.signature, slot: ctx.slot, events });
    },
    opts.commitment ?? 'confirmed',
  );
  return () => connection.removeOnLogsListener(id);
}

/**
 * Events of the program's successful transactions after signature `until` (exclusive), oldest
 * first: what a follower missed while it was not subscribed (restart, dropped websocket).
 * Reads at most `limit` signatures (getSignaturesForAddress pages of up to 1000).
 */
export async function fetchEventsSince(
  connection: Connection,
  opts: { until?: string; limit?: number; programId?: PublicKey } = {},
): Promise<LogEvents[]> {
  const programId = opts.programId ?? PROGRAM_ID;
  const limit = opts.limit ?? 1000;
  const sigs: { signature: string; slot: number; err: unknown }[] = [];
  let before: string | undefined;
  while (sigs.length < limit) {
    const page = await connection.getSignaturesForAddress(
      programId,
      { until: opts.until, before, limit: Math.min(1000, limit - sigs.length) },
      'confirmed',
    );
    sigs.push(...page);
    if (page.length === 0 || page.length < Math.min(1000, limit - sigs.length + page.length)) break;
    before = page[page.length - 1].signature;
  }
  const out: LogEvents[] = [];
  for (const s of sigs.reverse()) {
    if (s.err) continue;
    const tx = await connection.getTransaction(s.signature, {
      commitment: 'confirmed',
      maxSupportedTransactionVersion: 0,
    });
    if (!tx?.meta || tx.meta.err) continue;
    const events = parseEvents(tx.meta.logMessages ?? [], programId);
    if (events.length > 0) out.push({ signature: s.signature, slot: tx.slot, events });
  }
  return out;
}

/** The events of one name from a list, typed. */
export function eventsNamed<K extends EventName>(events: readonly OptinferEvent[], name: K): EventData[K][] {
  return events.filter((e) => e.name === name).map((e) => e.data as EventData[K]);
}
