// Sending transactions: one Sender interface, over a JSON-RPC cluster (RpcSender) or in-process LiteSVM
// (LiteSvmSender). Both build, sign and serialize the same legacy transaction; failures are mapped to
// OptinferError (errors.ts) and results carry signature, compute units and decoded events.
import { existsSync } from 'node:fs';
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  PublicKey,
  Transaction,
  type Commitment,
  type Connection,
  type Signer,
  type TransactionInstruction,
} from '@solana/web3.js';
import { LiteSVM, FailedTransactionMetadata, type TransactionMetadata } from 'litesvm';
import { getTransactionDecoder, address as kitAddress, lamports as kitLamports } from '@solana/kit';
import { utils as anchorUtils } from '@coral-xyz/anchor';
import { OptinferError } from '../state/errors.ts';
import { PROGRAM_ID } from './idl.ts';
import { parseEvents, subscribeEvents, type LogEvents, type OptinferEvent } from './events.ts';
import { mapThrownError, mapTransactionError } from './errors.ts';

/** Largest serialized transaction the network accepts, bytes. */
export const MAX_TX_BYTES = 1232;
/** Solana's target slot time: the pace of LiteSvmSender's real-time clock, and what window-end estimates assume. */
export const DEFAULT_SLOT_MS = 400;
/** LiteSVM and mainnet base fee: lamports per signature. */
export const LAMPORTS_PER_SIGNATURE = 5000n;

/** Precompiles whose signatures the base fee also counts (the first data byte is their count). */
const PRECOMPILES = new Set([
  'Ed25519SigVerify111111111111111111111111111',
  'KeccakSecp256k11111111111111111111111111111',
]);
/** Signatures a transaction pays the base fee for: its own and those its precompile instructions check. */
export function feeSignatures(tx: Transaction): bigint {
  let n = tx.signatures.length;
  for (const ix of tx.instructions) if (PRECOMPILES.has(ix.programId.toBase58())) n += ix.data[0] ?? 0;
  return BigInt(n);
}

export interface SendOptions {
  /** Pays the fee; the first signer when not given. */
  feePayer?: Signer;
  /** Names the transaction in errors ('commit_batch #12'). */
  label?: string;
}

export interface SendResult {
  signature: string;
  /** Slot the transaction landed in. */
  slot: number;
  computeUnits: number;
  events: OptinferEvent[];
  logs: string[];
  /** Serialized size, bytes. */
  size: number;
  /** Return data set by the program (only the test build's check instruction sets any). */
  returnData?: Buffer;
}

/** One of the program's accounts. */
export interface ProgramAccount {
  address: PublicKey;
  lamports: bigint;
  /** The account's data, or only the `dataSlice` asked for. */
  data: Buffer;
}

/** What getProgramAccounts narrows a listing to beyond the discriminator (the RPC filters and slice). */
export interface AccountFilter {
  /** Only accounts whose data holds `bytes` at `offset` (RPC memcmp; at most 4 filters in all). */
  memcmp?: { offset: number; bytes: Uint8Array }[];
  /** Only these bytes of each account's data (RPC dataSlice): a listing that needs one field reads 32 bytes, not kilobytes. */
  dataSlice?: { offset: number; length: number };
}

/** Whether `data` passes `f`'s memcmp filters. */
function matches(data: Buffer, f: AccountFilter | undefined): boolean {
  return (f?.memcmp ?? []).every(
    (m) =>
      data.length >= m.offset + m.bytes.length &&
      data.subarray(m.offset, m.offset + m.bytes.length).equals(Buffer.from(m.bytes)),
  );
}

export interface Sender {
  readonly programId: PublicKey;
  /** Builds, signs, sends and confirms one transaction; throws OptinferError on failure. */
  send(ixs: TransactionInstruction[], signers: Signer[], opts?: SendOptions): Promise<SendResult>;
  /** An account's data, null when it does not exist. */
  getAccountData(address: PublicKey): Promise<Buffer | null>;
  getBalance(address: PublicKey): Promise<bigint>;
  getSlot(): Promise<bigint>;
  /** The program's accounts whose data starts with `discriminator` (all of them when not given), narrowed by `filter`. */
  getProgramAccounts(discriminator?: Uint8Array, filter?: AccountFilter): Promise<ProgramAccount[]>;
  /**
   * Calls `onEvents` with the events of every successful transaction of the program from now on
   * (RPC: logsSubscribe; LiteSVM: the transactions sent through this sender). Returns unsubscribe.
   */
  subscribe(onEvents: (e: LogEvents) => void): () => Promise<void>;
}

const signingKeys = new WeakMap<Signer, KeyObject>();
/** The node:crypto private key of a signer (PKCS#8 around its 32-byte Ed25519 seed), cached. */
function signingKey(s: Signer): KeyObject {
  let k = signingKeys.get(s);
  if (!k) {
    const der = Buffer.concat([
      Buffer.from('302e020100300506032b657004220420', 'hex'),
      s.secretKey.subarray(0, 32),
    ]);
    k = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    signingKeys.set(s, k);
  }
  return k;
}

/** The one way both senders turn instructions into signed wire bytes. */
export function buildTransaction(
  ixs: TransactionInstruction[],
  signers: Signer[],
  recentBlockhash: string,
  feePayer: Signer = signers[0],
): { tx: Transaction; wire: Buffer } {
  if (!feePayer) throw new OptinferError('INVALID_INPUT', 'transaction: no signer to pay the fee');
  const tx = new Transaction({ feePayer: feePayer.publicKey, recentBlockhash });
  tx.add(...ixs);
  const all = [feePayer, ...signers.filter((s) => !s.publicKey.equals(feePayer.publicKey))];
  // Ed25519 is deterministic: node:crypto gives the bytes web3.js's tx.sign would, ~40x faster.
  tx.setSigners(...all.map((s) => s.publicKey));
  const message = tx.serializeMessage();
  for (const s of all) tx.addSignature(s.publicKey, cryptoSign(null, message, signingKey(s)));
  let wire: Buffer;
  try {
    // Signatures come from node:crypto above; web3.js re-verifying them in JS would cost ~1.5 ms.
    wire = tx.serialize({ requireAllSignatures: true, verifySignatures: false });
  } catch (cause) {
    throw new OptinferError(
      'TRANSACTION_TOO_LARGE',
      `transaction: does not serialize within ${MAX_TX_BYTES} bytes`,
      undefined,
      { cause },
    );
  }
  return { tx, wire };
}

function failure(mapped: OptinferError | null, fallback: string, label?: string, logs: string[] = []) {
  const e = mapped ?? new OptinferError('TRANSACTION_FAILED', fallback, { logs });
  if (label) e.message = `${label}: ${e.message}`;
  return e;
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC

export interface RpcSenderOptions {
  programId?: PublicKey;
  /** Commitment for blockhash, preflight, confirmation and reads. */
  commitment?: Commitment;
  /** Attempts per send, counting the first (blockhash expiry and transient RPC errors retry). */
  maxAttempts?: number;
  /** Delay before the first retry, milliseconds; doubles per retry. */
  retryDelayMs?: number;
  /** How long getTransaction may lag confirmation before giving up, milliseconds. */
  fetchTimeoutMs?: number;
}
export const RPC_DEFAULTS = {
  commitment: 'confirmed' as Commitment,
  maxAttempts: 4,
  retryDelayMs: 500,
  fetchTimeoutMs: 10_000,
};

/** How long a sent signature is remembered to avoid resending an identical transaction (a blockhash lives ~60-90 s). */
const RECENT_SIGNATURE_MS = 120_000;
/** Wait between blockhash polls when the transaction would duplicate one already sent, ms (about a slot). */
const DUPLICATE_WAIT_MS = 200;
/** Polls before giving up on a new blockhash (the send then goes out and is reported as a duplicate). */
const DUPLICATE_WAIT_TRIES = 50;

const TRANSIENT =
  /fetch failed|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|socket hang up|429|Too Many Requests|502|503|504|timed out|Node is behind|Blockhash not found|block height exceeded|has expired/i;
const bs58 = anchorUtils.bytes.bs58;

/** `meta.returnData` as getTransaction's JSON carries it (web3.js 1.99 does not type it). */
function returnDataOf(meta: object): Buffer | undefined {
  const rd = (meta as { returnData?: { data?: [string, string] } | null }).returnData;
  return rd?.data?.[0] ? Buffer.from(rd.data[0], 'base64') : undefined;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RpcSender implements Sender {
  readonly programId: PublicKey;
  readonly opts: typeof RPC_DEFAULTS;

  constructor(
    readonly connection: Connection,
    opts: RpcSenderOptions = {},
  ) {
    this.programId = opts.programId ?? PROGRAM_ID;
    this.opts = {
      commitment: opts.commitment ?? RPC_DEFAULTS.commitment,
      maxAttempts: opts.maxAttempts ?? RPC_DEFAULTS.maxAttempts,
      retryDelayMs: opts.retryDelayMs ?? RPC_DEFAULTS.retryDelayMs,
      fetchTimeoutMs: opts.fetchTimeoutMs ?? RPC_DEFAULTS.fetchTimeoutMs,
    };
  }

  async send(ixs: TransactionInstruction[], signers: Signer[], opts: SendOptions = {}): Promise<SendResult> {
    const { commitment, maxAttempts, retryDelayMs } = this.opts;
    let lastError: unknown;
    // Signatures (and sizes) sent in earlier attempts: one may still land after its expiry was reported.
    const sent = new Map<string, number>();
    const earlierLanded = async (except?: string): Promise<SendResult | null> => {
      for (const [sig, size] of sent) {
        if (sig === except) continue;
        if (await this.landed(sig).catch(() => false)) return this.result(sig, size, opts.label);
      }
      return null;
    };
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) {
        await sleep(retryDelayMs * 2 ** (attempt - 2));
        const done = await earlierLanded();
        if (done) return done;
      }
      let signature: string | undefined;
      try {
        const { blockhash, lastValidBlockHeight, tx, wire } = await this.unique(ixs, signers, opts.feePayer);
        signature = bs58.encode(tx.signature!);
        sent.set(signature, wire.length);
        await this.connection.sendRawTransaction(wire, {
          skipPreflight: false,
          preflightCommitment: commitment,
        });
        const conf = await this.connection.confirmTransaction(
          { signature, blockhash, lastValidBlockHeight },
          commitment,
        );
        if (conf.value.err) {
          const got = await this.fetch(signature).catch(() => null);
          throw failure(
            mapTransactionError(conf.value.err, got?.logs ?? [], this.programId),
            `transaction ${signature} failed`,
            opts.label,
            got?.logs,
          );
        }
        return await this.result(signature, wire.length, opts.label);
      } catch (e) {
        lastError = e;
        const program = e instanceof OptinferError ? e : mapThrownError(e);
        if (program) {
          // A retry can fail only because an earlier attempt landed after all (the state moved on).
          const done = sent.size > 1 ? await earlierLanded(signature) : null;
          if (done) return done;
          if (e instanceof OptinferError) throw e;
          throw failure(program, String(e), opts.label);
        }
        const msg = e instanceof Error ? `${e.name} ${e.message}` : String(e);
        // Expiry and transport failures are retried; anything else is final.
        if (!TRANSIENT.test(msg)) throw failure(null, `send failed: ${msg}`, opts.label);
      }
    }
    const msg = lastError instanceof Error ? lastError.message : String(lastError);
    throw new OptinferError(
      'TRANSACTION_RETRIES_EXHAUSTED',
      `${opts.label ? opts.label + ': ' : ''}not confirmed after ${maxAttempts} attempts: ${msg}`,
      undefined,
      { cause: lastError },
    );
  }

  /**
   * Builds the transaction on the latest blockhash, waiting for the next one if this sender already
   * sent the very same transaction (same instructions, signers and blockhash give the same
   * signature, which the cluster would treat as a duplicate: a second bond of the same amount in
   * one slot would silently not happen).
   */
  private async unique(ixs: TransactionInstruction[], signers: Signer[], feePayer?: Signer) {
    const now = Date.now();
    for (const [sig, at] of this.recent) if (now - at > RECENT_SIGNATURE_MS) this.recent.delete(sig);
    for (let i = 0; ; i++) {
      const { blockhash, lastValidBlockHeight } = await this.connection.getLatestBlockhash(
        this.opts.commitment,
      );
      const built = buildTransaction(ixs, signers, blockhash, feePayer);
      const sig = bs58.encode(built.tx.signature!);
      if (!this.recent.has(sig) || i >= DUPLICATE_WAIT_TRIES) {
        this.recent.set(sig, Date.now());
        return { blockhash, lastValidBlockHeight, ...built };
      }
      await sleep(DUPLICATE_WAIT_MS);
    }
  }
  private recent = new Map<string, number>();

  private async landed(signature: string): Promise<boolean> {
    const st = await this.connection.getSignatureStatus(signature, { searchTransactionHistory: true });
    const v = st.value;
    return !!v && !v.err && !!v.confirmationStatus && v.confirmationStatus !== 'processed';
  }

  private async fetch(signature: string) {
    const deadline = Date.now() + this.opts.fetchTimeoutMs;
    for (;;) {
      const tx = await this.connection.getTransaction(signature, {
        commitment:
          this.opts.commitment === 'processed' ? 'confirmed' : (this.opts.commitment as 'confirmed'),
        maxSupportedTransactionVersion: 0,
      });
      if (tx?.meta) {
        return {
          slot: tx.slot,
          logs: tx.meta.logMessages ?? [],
          cu: tx.meta.computeUnitsConsumed ?? 0,
          err: tx.meta.err,
          returnData: returnDataOf(tx.meta),
        };
      }
      if (Date.now() > deadline) return null;
      await sleep(200);
    }
  }

  private async result(signature: string, size: number, label?: string): Promise<SendResult> {
    const got = await this.fetch(signature);
    if (!got) {
      // Confirmed, but the node keeps no history: no logs or compute units to report.
      return { signature, slot: 0, computeUnits: 0, events: [], logs: [], size };
    }
    if (got.err) {
      throw failure(
        mapTransactionError(got.err, got.logs, this.programId),
        `transaction ${signature} failed`,
        label,
        got.logs,
      );
    }
    return {
      signature,
      slot: got.slot,
      computeUnits: got.cu,
      events: parseEvents(got.logs, this.programId),
      logs: got.logs,
      size,
      returnData: got.returnData,
    };
  }

  async getAccountData(address: PublicKey): Promise<Buffer | null> {
    const a = await this.connection.getAccountInfo(address, this.opts.commitment);
    return a ? Buffer.from(a.data) : null;
  }
  async getBalance(address: PublicKey): Promise<bigint> {
    return BigInt(await this.connection.getBalance(address, this.opts.commitment));
  }
  async getSlot(): Promise<bigint> {
    return BigInt(await this.connection.getSlot(this.opts.commitment));
  }
  async getProgramAccounts(discriminator?: Uint8Array, filter?: AccountFilter): Promise<ProgramAccount[]> {
    const filters = [
      ...(discriminator ? [{ offset: 0, bytes: discriminator }] : []),
      ...(filter?.memcmp ?? []),
    ].map((m) => ({ memcmp: { offset: m.offset, bytes: bs58.encode(Buffer.from(m.bytes)) } }));
    const list = await this.connection.getProgramAccounts(this.programId, {
      commitment: this.opts.commitment,
      filters,
      ...(filter?.dataSlice && { dataSlice: filter.dataSlice }),
    });
    return list.map((a) => ({
      address: a.pubkey,
      lamports: BigInt(a.account.lamports),
      data: Buffer.from(a.account.data),
    }));
  }
  subscribe(onEvents: (e: LogEvents) => void): () => Promise<void> {
    return subscribeEvents(this.connection, onEvents, {
      programId: this.programId,
      commitment: this.opts.commitment,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// LiteSVM

/** Where `npm run build:program` writes the program. */
export const BUILT_SO_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../programs/target/deploy/optinfer.so',
);
/** The build committed with the sources (programs/scripts/ci.sh checks it is what they build to). */
export const SHIPPED_SO_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../programs/deploy/optinfer.so',
);
/** The program binary: a local build when there is one, else the shipped one (a fresh clone runs with it). */
export const DEFAULT_SO_PATH = existsSync(BUILT_SO_PATH) ? BUILT_SO_PATH : SHIPPED_SO_PATH;

const INSTRUCTION_ERRORS =
  'GenericError InvalidArgument InvalidInstructionData InvalidAccountData AccountDataTooSmall InsufficientFunds IncorrectProgramId MissingRequiredSignature AccountAlreadyInitialized UninitializedAccount UnbalancedInstruction ModifiedProgramId ExternalAccountLamportSpend ExternalAccountDataModified ReadonlyLamportChange ReadonlyDataModified DuplicateAccountIndex ExecutableModified RentEpochModified NotEnoughAccountKeys AccountDataSizeChanged AccountNotExecutable AccountBorrowFailed AccountBorrowOutstanding DuplicateAccountOutOfSync InvalidError ExecutableDataModified ExecutableLamportChange ExecutableAccountNotRentExempt UnsupportedProgramId CallDepth MissingAccount ReentrancyNotAllowed MaxSeedLengthExceeded InvalidSeeds InvalidRealloc ComputationalBudgetExceeded PrivilegeEscalation ProgramEnvironmentSetupFailure ProgramFailedToComplete ProgramFailedToCompile Immutable IncorrectAuthority AccountNotRentExempt InvalidAccountOwner ArithmeticOverflow UnsupportedSysvar IllegalOwner MaxAccountsDataAllocationsExceeded MaxAccountsExceeded MaxInstructionTraceLengthExceeded BuiltinProgramsMustConsumeComputeUnits BorshIoError'.split(
    ' ',
  );
const TRANSACTION_ERRORS =
  'AccountInUse AccountLoadedTwice AccountNotFound ProgramAccountNotFound InsufficientFundsForFee InvalidAccountForFee AlreadyProcessed BlockhashNotFound CallChainTooDeep MissingSignatureForFee InvalidAccountIndex SignatureFailure InvalidProgramForExecution SanitizeFailure ClusterMaintenance AccountBorrowOutstanding WouldExceedMaxBlockCostLimit UnsupportedVersion InvalidWritableAccount WouldExceedMaxAccountCostLimit WouldExceedAccountDataBlockLimit TooManyAccountLocks AddressLookupTableNotFound InvalidAddressLookupTableOwner InvalidAddressLookupTableData InvalidAddressLookupTableIndex InvalidRentPayingAccount WouldExceedMaxVoteCostLimit WouldExceedAccountDataTotalLimit MaxLoadedAccountsDataSizeExceeded ResanitizationNeeded InvalidLoadedAccountsDataSizeLimit UnbalancedTransaction ProgramCacheHitMaxLimit CommitCancelled'.split(
    ' ',
  );

/** A LiteSVM transaction error in the JSON-RPC shape (`{InstructionError: [i, {Custom: n}]}` ...). */
export function liteSvmErrorJson(err: unknown): unknown {
  if (typeof err === 'number') return TRANSACTION_ERRORS[err] ?? `TransactionError${err}`;
  const o = err as { index?: number; err?: () => unknown; accountIndex?: number; toString(): string };
  if (typeof o?.err === 'function' && typeof o.index === 'number') {
    const inner = o.err() as unknown;
    if (typeof inner === 'number')
      return { InstructionError: [o.index, INSTRUCTION_ERRORS[inner] ?? 'Unknown'] };
    if (inner && typeof (inner as { code?: unknown }).code === 'number') {
      return { InstructionError: [o.index, { Custom: (inner as { code: number }).code }] };
    }
    return { InstructionError: [o.index, { BorshIoError: String(inner) }] };
  }
  if (typeof o?.index === 'number') return { DuplicateInstruction: o.index };
  if (typeof o?.accountIndex === 'number') {
    return { [o.constructor?.name.replace(/^TransactionError/, '') ?? 'Unknown']: o.accountIndex };
  }
  return String(err);
}

export interface LiteSvmSenderOptions {
  programId?: PublicKey;
  /** The program binary to load (default programs/target/deploy/optinfer.so). */
  soPath?: string;
  /** Start slot (LiteSVM starts at 0; the program treats slot 0 specially nowhere, but 1 mirrors the tests). */
  startSlot?: bigint;
}

/** Runs the program in-process in LiteSVM; the same signed transactions as RpcSender. */
export class LiteSvmSender implements Sender {
  readonly programId: PublicKey;
  readonly svm: LiteSVM;
  /** Lamports burned as fees by transactions this sender sent (LiteSVM burns fees). */
  feesBurned = 0n;
  /** Lamports created by `airdrop`. */
  airdropped = 0n;
  /** Called after every committed transaction and airdrop (the dev node saves its chain there). */
  onCommit: (() => void) | null = null;
  private decoder = getTransactionDecoder();

  constructor(opts: LiteSvmSenderOptions & { svm?: LiteSVM } = {}) {
    this.programId = opts.programId ?? PROGRAM_ID;
    if (opts.svm) {
      this.svm = opts.svm;
    } else {
      const so = opts.soPath ?? DEFAULT_SO_PATH;
      if (!existsSync(so)) {
        throw new OptinferError('NOT_FOUND', `${so} missing: build the program (npm run build:program)`);
      }
      this.svm = new LiteSVM();
      this.svm.addProgramFromFile(kitAddress(this.programId.toBase58()), so);
      this.svm.warpToSlot(opts.startSlot ?? 1n);
    }
  }

  async send(ixs: TransactionInstruction[], signers: Signer[], opts: SendOptions = {}): Promise<SendResult> {
    return this.sendSync(ixs, signers, opts);
  }

  sendSync(ixs: TransactionInstruction[], signers: Signer[], opts: SendOptions = {}): SendResult {
    // A fresh blockhash per transaction, so sending the same instructions twice is two transactions.
    this.svm.expireBlockhash();
    const { tx, wire } = buildTransaction(ixs, signers, this.svm.latestBlockhash(), opts.feePayer);
    const signature = bs58.encode(tx.signature!);
    const kitTx = this.decoder.decode(wire) as Parameters<LiteSVM['sendTransaction']>[0];
    const res = this.svm.sendTransaction(kitTx);
    const meta: TransactionMetadata = res instanceof FailedTransactionMetadata ? res.meta() : res;
    const logs = meta.logs();
    if (res instanceof FailedTransactionMetadata) {
      const errJson = liteSvmErrorJson(res.err());
      // Fees are charged even for failed transactions that were executed.
      if (typeof errJson === 'object') this.feesBurned += LAMPORTS_PER_SIGNATURE * feeSignatures(tx);
      throw failure(mapTransactionError(errJson, logs, this.programId), res.toString(), opts.label, logs);
    }
    this.feesBurned += LAMPORTS_PER_SIGNATURE * feeSignatures(tx);
    this.onCommit?.();
    const rd = meta.returnData();
    const result: SendResult = {
      signature,
      slot: Number(this.svm.getClock().slot),
      computeUnits: Number(meta.computeUnitsConsumed()),
      events: parseEvents(logs, this.programId),
      logs,
      size: wire.length,
      returnData: rd.data().length > 0 ? Buffer.from(rd.data()) : undefined,
    };
    if (result.events.length > 0) {
      const e = { signature, slot: result.slot, events: result.events };
      for (const l of [...this.listeners]) l(e);
    }
    return result;
  }

  private listeners = new Set<(e: LogEvents) => void>();
  subscribe(onEvents: (e: LogEvents) => void): () => Promise<void> {
    // A wrapper per call, so subscribing the same function twice gives two subscriptions.
    const l = (e: LogEvents) => onEvents(e);
    this.listeners.add(l);
    return async () => {
      this.listeners.delete(l);
    };
  }

  async getAccountData(address: PublicKey): Promise<Buffer | null> {
    return this.accountData(address);
  }
  accountData(address: PublicKey): Buffer | null {
    const a = this.svm.getAccount(kitAddress(address.toBase58()));
    return a.exists ? Buffer.from(a.data) : null;
  }
  async getBalance(address: PublicKey): Promise<bigint> {
    return this.balance(address);
  }
  balance(address: PublicKey): bigint {
    return BigInt(this.svm.getBalance(kitAddress(address.toBase58())) ?? 0n);
  }
  async getSlot(): Promise<bigint> {
    return this.svm.getClock().slot;
  }
  /**
   * Advances the slot in real time, one slot per `slotMs` milliseconds (a cluster's pace is about
   * 400 ms), so challenge windows and clocks run out by themselves; returns the stop function.
   * The timer does not keep the process alive.
   */
  startSlotClock(slotMs = DEFAULT_SLOT_MS): () => void {
    const t = setInterval(() => this.warp(1), slotMs);
    t.unref();
    return () => clearInterval(t);
  }

  /** Moves the clock forward by `slots`. */
  warp(slots: number | bigint): void {
    this.svm.warpToSlot(this.svm.getClock().slot + BigInt(slots));
  }
  airdrop(to: PublicKey, lamports: bigint): void {
    const r = this.svm.airdrop(kitAddress(to.toBase58()), kitLamports(lamports));
    if (r instanceof FailedTransactionMetadata)
      throw new OptinferError('INTERNAL', `airdrop failed: ${r.toString()}`);
    this.airdropped += lamports;
    this.onCommit?.();
  }
  async getProgramAccounts(discriminator?: Uint8Array, filter?: AccountFilter): Promise<ProgramAccount[]> {
    return this.programAccounts(discriminator, filter);
  }
  programAccounts(discriminator?: Uint8Array, filter?: AccountFilter): ProgramAccount[] {
    const d = discriminator ? Buffer.from(discriminator) : null;
    const slice = filter?.dataSlice;
    return this.svm
      .getProgramAccounts(kitAddress(this.programId.toBase58()))
      .map((a) => ({ a, view: Buffer.from(a.data.buffer, a.data.byteOffset, a.data.length) }))
      .filter(({ view }) => (!d || view.subarray(0, d.length).equals(d)) && matches(view, filter))
      .map(({ a, view }) => ({
        address: new PublicKey(a.address),
        lamports: BigInt(a.lamports),
        // A copy: the listing outlives the VM's next transaction.
        data: Buffer.from(slice ? view.subarray(slice.offset, slice.offset + slice.length) : view),
      }));
  }
}
