// The challenger role, as its pipeline: watch committed batches → pick a sample → re-execute → compare → locate → record.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Bus, Consumer } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import type { LoadedModel, ModelRegistry } from '../executor/model.ts';
import { OptinferError } from '../state/errors.ts';
import { fromHex, toHex } from '../state/hash.ts';
import {
  decodeJobRecord,
  openingOf,
  verifyInclusion,
  verifyResult,
  type InclusionProof,
} from '../state/job.ts';
import { Store, seqKey, type Table } from '../state/store.ts';
import { asSampleRate, isSampled, isSampledPosition } from '../state/sample.ts';
import type { BatchIndex, Hash32, JobId, ModelId } from '../state/types.ts';
import { asHash32 } from '../state/types.ts';
import type { BatchCommittedMessage } from '../bus/messages.ts';
import { compareOutputs } from './compare.ts';
import { FindingLog, type Finding } from './findings.ts';
import {
  DEFAULT_RETRY_MS,
  UNCOMMITTED_GRACE_MS,
  afterAttempt,
  pendingKey,
  type PendingFinding,
} from './pending.ts';
import { HONEST_CHALLENGER, type ChallengerPolicy } from './policy.ts';
import { locate } from './locate.ts';
import { reexecute, type Reexecution } from './reexecute.ts';
import { inputsRefused, planUnrunnable, refereeFeed, type UnrunnablePlan } from './unrunnable.ts';
import type { BatchListing, JobSource } from './source.ts';
import { PublicKey, type Keypair } from '@solana/web3.js';
import type { TensorMap } from '../state/tensor-map.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { loadOrCreateKeypair, loadOrCreateSecret } from '../common/keys.ts';
import { compileForProgram } from '../executor/program-model.ts';
import { IN_PROCESS, SandboxPool, type ModelRunner, type SandboxConfig } from '../executor/sandbox/pool.ts';
import { DisputeDriver, type Views } from '../dispute/driver.ts';
import * as rules from '../dispute/rules.ts';
import { modelViewOf, traceViewOf } from '../dispute/views.ts';
import { reclaimGames, type DisputeAccount, type SettlementClient } from '../settlement/index.ts';
import { DATA_ANSWER_SLOTS, DATA_REQUEST_DEPOSIT, type RecordFault } from '../settlement/instructions.ts';
import { gameSlot } from '../settlement/client.ts';
import { MAX_INPUT_SET_TENSORS, decodeInputSet, encodeInputSet } from '../state/input-set.ts';

/** Milliseconds between passes closing this challenger's finished games (a few getProgramAccounts reads each). */
const RECLAIM_MS = 30_000;
/**
 * Model downloads at once (modelNow): bodies are capped at 256 MiB each, so a sequencer naming many models it
 * serves slowly holds this much memory, not one download per model.
 */
const MODEL_FETCHES = 2;

export interface ChallengerConfig {
  dataDir: string;
  /** Name used in bus subjects and the durable consumer; [A-Za-z0-9_-]+. */
  id: string;
  /** Probability that a job is audited. */
  sampleRate: number;
  /** Settlement on the program: open and play a dispute for every mismatch it can win. */
  chain?: { client: SettlementClient; bondLamports: bigint };
  /** Keypair file (Solana CLI format); default: created in dataDir. */
  keypairPath?: string;
  /**
   * Where re-executions and traces run: a pool of child processes with time and memory limits (the
   * executor's, executor/sandbox/) unless false. A job that breaks a limit is skipped, not audited.
   */
  sandbox?: Partial<SandboxConfig> | false;
  /** Milliseconds between attempts to open the disputes of pending findings (default DEFAULT_RETRY_MS). */
  retryMs?: number;
  /**
   * Milliseconds a batch the config counts must read as absent before it is taken for closed (default
   * ABSENT_GRACE_MS): a read from an RPC node behind the one that served the config misses a fresh batch.
   */
  absentGraceMs?: number;
}

export const DEFAULT_SAMPLE_RATE = 0.1;

/** 'fault': the record cannot be disputed (unbonded executor, unregistered model) and its record fault was proven. */
export type AuditOutcome = 'agree' | 'mismatch' | 'skipped' | 'fault';

/**
 * A job whose data was requested on chain, as stored: key `batchIndex:jobId` when the sequencer served its
 * inclusion proof, `batchIndex#jobIndex` when it did not (the answer then brings the record and its opening).
 */
interface DataWait {
  jobId?: JobId;
  batchIndex: number;
  batchRoot: Hash32;
  /** The job's position in the batch tree. */
  jobIndex: number;
  /** The inclusion proof the sequencer served under the committed root, when it served one. */
  proof?: InclusionProof;
  requestedAt: number;
}

/** A committed batch whose sampled jobs are not all audited yet (key: the batch index), retried every pass. */
interface BatchWork {
  index: number;
  root: Hash32;
  /** The window's end as announced (wall clock, ms): without a chain, when an unserved sample is given up. */
  windowEndsAt: number;
  firstSeenAt: number;
  /** The last reason a sampled job could not be audited, said once per distinct reason. */
  lastReason?: string;
  /**
   * The sample, drawn once from the first usable listing (or over positions) and kept: a sequencer that sees
   * which proofs are fetched cannot re-roll the draw by serving another listing later (review 21).
   */
  picks?: Pick[];
}

/** A sampled job of a batch: its position in the batch tree, and its id when the sequencer's listing gave it. */
interface Pick {
  position: number;
  jobId?: JobId;
}

/**
 * The fraction of a batch's challenge window a challenger waits for the sequencer to serve a sampled job's
 * listing, proof or inputs before demanding its data on chain (request_data; the answer leaves half the window).
 */
export const DEMAND_AFTER_WINDOW_FRACTION = 0.5;

/**
 * Game slots after its commit from which a batch's unserved sample is demanded on chain: half the window, or
 * earlier so that the answer's deadline (max(clock, DATA_ANSWER_SLOTS) after the demand) leaves
 * OPEN_MARGIN_SLOTS of the window to audit the answer and open a dispute. A window too short for that keeps
 * half the window: an answer after the window leaves one clock of the batch to dispute it (Batch::dispute_end),
 * and a demand at once would pay a deposit for every short outage of the sequencer.
 */
export function demandAfter(window: bigint, clockSlots: bigint): number {
  const answer = Math.max(Number(clockSlots), DATA_ANSWER_SLOTS);
  const half = Number(window) * DEMAND_AFTER_WINDOW_FRACTION;
  const latest = Number(window) - answer - OPEN_MARGIN_SLOTS;
  return latest < 0 ? half : Math.min(half, latest);
}

/** The key under which `batches-seen` keeps the next batch index the chain scan reads (sorts after indices). */
const SCAN_FROM = 'scan-from';

/** How many of the newest batches a first run reads one by one besides the program's listing (which may lag). */
const FIRST_RUN_RECENT = 32;

/** How long a batch counted by the config may read as absent before it is taken for closed (see absentLongEnough). */
export const ABSENT_GRACE_MS = 30_000;

/** A job id as listed: 32 bytes in lowercase hex. */
const HEX32 = /^[0-9a-f]{64}$/;

/**
 * verifyInclusion on a proof as the sequencer served it: a malformed one (not hex, wrong lengths) is no proof,
 * not a final error, so the audit retries and a valid proof served later counts (review 24 "malformed proof").
 */
function verifiesSafely(proof: InclusionProof): boolean {
  try {
    return verifyInclusion(proof);
  } catch {
    return false;
  }
}

/** Game slots a challenger keeps, after an on-chain answer's deadline, to audit it and open its dispute. */
const OPEN_MARGIN_SLOTS = 50;

/** A data wait's key: by job id when the sequencer served its proof, by position when it did not. */
const dataWaitKey = (w: {
  batchIndex: number;
  jobId?: JobId;
  jobIndex: number;
  proof?: InclusionProof;
}): string =>
  w.proof && w.jobId
    ? pendingKey({ batchIndex: w.batchIndex, jobId: w.jobId })
    : `${w.batchIndex}#${w.jobIndex}`;

/** The key of a disputed job's kept inputs (and of the in-memory `disputed` map). */
const disputedKey = (modelId: string, inputDigest: string, outputDigest: string): string =>
  `${modelId}:${inputDigest}:${outputDigest}`;

/** Positions 0..jobCount-1 of a batch this challenger samples when the sequencer names none of its jobs. */
function sampledPositions(secret: Uint8Array, root: Hash32, jobCount: number, rate: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < jobCount; i++) if (isSampledPosition(secret, root, i, rate)) out.push(i);
  return out;
}

function isRetryable(e: unknown): boolean {
  if (e instanceof OptinferError) return e.kind === 'unavailable' || e.kind === 'not-found';
  return true;
}

interface AuditRecord {
  /** Absent for a position demanded on chain before the sequencer named its job. */
  jobId?: JobId;
  batchIndex: number;
  outcome: AuditOutcome;
  reason?: string;
  at: number;
}

/**
 * A job this challenger disputes: what its views are built from. `unrunnable`: onnxruntime refuses its inputs, so
 * the views are the partial trace of `plan` (made again after a restart).
 */
interface DisputedJob {
  model: LoadedModel;
  inputs: TensorMap;
  unrunnable?: boolean;
  plan?: Extract<UnrunnablePlan, { ok: true }>;
}

export interface ChallengerStats {
  batchesSeen: number;
  audited: number;
  mismatches: number;
  skipped: number;
}

export class Challenger {
  readonly findings: FindingLog;
  readonly stats: ChallengerStats = { batchesSeen: 0, audited: 0, mismatches: 0, skipped: 0 };
  private readonly audits: Table<AuditRecord>;
  /** Findings whose dispute is not open yet (see pending.ts): retried every retryMs until opened or refused for good. */
  private readonly pending: Table<PendingFinding>;
  /** Jobs whose inputs the sequencer withheld, requested on chain (request_data): polled each retry pass. */
  private readonly dataWaits: Table<DataWait>;
  /** Committed batches whose sample is not fully audited (the sequencer did not serve something): retried each pass. */
  private readonly batchWork: Table<BatchWork>;
  /** Under SCAN_FROM, the next batch index the chain scan reads. */
  private readonly batchesSeen: Table<number>;
  /** Batch indices counted by the config whose account read as absent, since when (see absentLongEnough). */
  private readonly absentSince = new Map<number, number>();
  /** The inputs of each job this challenger found wrong (base64 input set), so a restart resumes its game alone. */
  private readonly disputedInputs: Table<{ jobId: JobId; inputs: string }>;
  /** Batch audits run one at a time (bus delivery and the retry pass), so no job is audited twice at once. */
  private auditing: Promise<unknown> = Promise.resolve();
  private batchTimer: NodeJS.Timeout | null = null;
  private batchPass = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private reclaimTimer: NodeJS.Timeout | null = null;
  private reclaiming: Promise<void> = Promise.resolve();
  /** The pass running or queued; a pass not yet started reads every finding pending when it starts. */
  private pass: Promise<void> = Promise.resolve();
  private passQueued: Promise<void> | null = null;
  /** True while a pass runs (its own audits must not await the next pass). */
  private inPass = false;
  /** The data-requests pass (pollData) in flight, and whether one runs. */
  private dataPass: Promise<void> = Promise.resolve();
  private dataPassRunning = false;
  /** Model downloads running, by model id (model(), modelNow()). */
  private readonly modelFetches = new Map<ModelId, Promise<LoadedModel>>();
  private consumer: Consumer | null = null;
  private driver: DisputeDriver | null = null;
  /** The jobs this challenger disputes, by modelId:inputDigest:outputDigest, to rebuild its views. */
  private readonly disputed = new Map<string, DisputedJob>();
  readonly keypair: Keypair;
  private closed = false;
  private readonly listeners: ((f: Finding) => void)[] = [];

  private constructor(
    readonly config: ChallengerConfig,
    private readonly secret: Uint8Array,
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly source: JobSource,
    private readonly registry: ModelRegistry,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly policy: ChallengerPolicy,
    private readonly runner: ModelRunner,
    private readonly ownsRunner: boolean,
  ) {
    this.audits = store.table('audits');
    this.pending = store.table('pending');
    this.dataWaits = store.table('data-waits');
    this.batchWork = store.table('batch-work');
    this.batchesSeen = store.table('batches-seen');
    this.disputedInputs = store.table('disputed-inputs');
    this.findings = new FindingLog(store, bus, config.id);
    this.keypair = loadOrCreateKeypair(
      config.keypairPath ?? join(config.dataDir, `challenger-${config.id}-keypair.json`),
    );
  }

  static async start(opts: {
    config: ChallengerConfig;
    bus: Bus;
    source: JobSource;
    registry: ModelRegistry;
    /** What it contests and defends (default honest; dishonest ones are in adversary/). */
    policy?: ChallengerPolicy;
    /** A sandbox shared with other roles (the caller closes it); otherwise one is opened from config.sandbox. */
    runner?: ModelRunner;
    logger?: Logger;
    metrics?: Metrics;
  }): Promise<Challenger> {
    const { config } = opts;
    if (!/^[A-Za-z0-9_-]+$/.test(config.id)) {
      throw new OptinferError(
        'INVALID_CONFIG',
        `challenger id: expected [A-Za-z0-9_-]+, got ${JSON.stringify(config.id)}`,
      );
    }
    asSampleRate(config.sampleRate);
    mkdirSync(config.dataDir, { recursive: true });
    // Model copies a crash interrupted before their rename (keepModel): never read, so removed.
    for (const f of await readdir(join(config.dataDir, 'models')).catch(() => [] as string[]))
      if (f.endsWith('.tmp'))
        await rm(join(config.dataDir, 'models', f), { force: true }).catch(() => undefined);
    const secret = loadOrCreateSecret(join(config.dataDir, `challenger-${config.id}.secret`));
    const store = await Store.open(join(config.dataDir, `challenger-${config.id}.db`));
    const log = (opts.logger ?? silentLogger).child({ challenger: config.id });
    const runner =
      opts.runner ??
      (config.sandbox === false
        ? IN_PROCESS
        : new SandboxPool(config.sandbox, log.child({ part: 'sandbox' })));
    const c = new Challenger(
      config,
      secret,
      store,
      opts.bus,
      opts.source,
      opts.registry,
      log,
      opts.metrics ?? noopMetrics,
      opts.policy ?? HONEST_CHALLENGER,
      runner,
      !opts.runner,
    );
    try {
      if (config.chain) {
        await c.bondUpTo(config.chain);
        c.driver = new DisputeDriver(config.chain.client, c.keypair, (d) => c.disputeViews(d), c.log);
        c.driver.start();
        // Findings left pending by a previous run resume here, as do ones refused while the program was paused.
        c.retryTimer = setInterval(() => {
          void c.retryPending();
          void c.pollData();
        }, config.retryMs ?? DEFAULT_RETRY_MS);
        c.reclaimTimer = setInterval(() => void c.reclaimRent(), RECLAIM_MS);
        await c.retryPending();
      }
      // Batches whose sample the sequencer did not serve (a previous run's too) are retried every pass.
      c.batchTimer = setInterval(() => void c.retryBatches(), config.retryMs ?? DEFAULT_RETRY_MS);
      c.consumer = await messages.consume(
        opts.bus,
        messages.BATCH_COMMITTED,
        'all',
        `challenger-${config.id}`,
        (m) => c.onBatch(m),
        // Re-executing a batch sample can take a while; the ack wait must outlast it.
        { ackWaitMs: 600_000, maxInFlight: 1 },
      );
    } catch (e) {
      await store.close();
      if (!opts.runner) await runner.close();
      throw e;
    }
    return c;
  }

  onFinding(fn: (f: Finding) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Watch: one committed batch. With settlement on chain the announcement is only a hint: the chain scan of the
   * pass it starts takes up every committed batch once, announced or not (review 21 "silent batch"), so
   * announcements at indices never committed, repeated or flooded cost nothing but a pass (review 24). Without a
   * chain the announcement is the batch: its sample is audited now. Either way, sampled jobs the sequencer does not
   * serve (it is down, serves no valid inclusion proof, or a listing other than the committed batch's) are not
   * recorded as audited: the batch stays in `batchWork`, retried every pass, and from half its challenge window on,
   * what is still not served is demanded on chain (request_data), whose answer is audited. Idempotent: a
   * redelivered batch skips jobs already audited.
   */
  async onBatch(m: BatchCommittedMessage): Promise<void> {
    if (!Number.isSafeInteger(m.index) || m.index < 0) {
      this.log.warn({ index: m.index }, 'batch announced under an index no batch can have: ignored');
      return;
    }
    this.stats.batchesSeen++;
    if (this.config.chain) return this.retryBatches();
    const root = asHash32(m.root, 'batch root');
    const key = seqKey(m.index);
    let w = await this.batchWork.get(key);
    if (!w) {
      w = { index: m.index, root, windowEndsAt: m.windowEndsAt, firstSeenAt: Date.now() };
      await this.store.write([this.batchWork.put(key, w)]);
    }
    await this.auditBatchNow(w);
  }

  /** Audits what is left of a batch's sample, one batch at a time; a failure is logged and retried next pass. */
  private auditBatchNow(w: BatchWork): Promise<void> {
    // The work as stored when this audit's turn comes, not the caller's copy: an audit queued behind another of
    // the same batch must see the draw that one kept (review 24 "stale draw"); a batch done meanwhile is skipped.
    const run = async () => {
      try {
        const cur = await this.batchWork.get(seqKey(w.index));
        if (cur) await this.auditBatch(cur);
      } catch (e) {
        this.log.warn(
          { index: w.index, err: (e as Error).message },
          'batch audit incomplete; retried next pass',
        );
      }
    };
    const next = this.auditing.then(run, run);
    this.auditing = next;
    return next;
  }

  /**
   * Every committed batch joins the work once, from the chain's own account, whether the sequencer announced it or
   * not (review 21 "silent batch"): the scan walks the indices from SCAN_FROM up to the config's next_batch_index.
   * A challenger's first run starts at the lowest batch still open (not finalized) among the program's Batch
   * accounts, however many there are and whatever their windows (review 24 "first run"). An index whose account
   * reads as absent although the config counts it (an RPC node behind the one that served the config, or a
   * batch finalized and closed) holds the scan for ABSENT_GRACE_MS before it is passed (review 24 "lagging read").
   */
  private async scanCommitted(client: SettlementClient): Promise<void> {
    const config = await client.config();
    const next = Number(config.nextBatchIndex);
    let from = await this.batchesSeen.get(SCAN_FROM);
    if (from === undefined) {
      // The lowest open batch the program lists (a loop, not a spread: there may be any number), and the newest
      // FIRST_RUN_RECENT read one by one, since a lagging getProgramAccounts may not list a fresh batch yet
      // (review 25 "first run from a lagging listing").
      from = next;
      for (const b of await client.listBatches())
        if (b.batch.finalized === 0 && Number(b.batch.index) < from) from = Number(b.batch.index);
      for (let i = next - 1; i >= Math.max(0, next - FIRST_RUN_RECENT) && i < from; i--) {
        const b = await client.fetchBatch(BigInt(i));
        if (b && b.finalized === 0) from = i;
      }
      await this.store.write([this.batchesSeen.put(SCAN_FROM, from)]);
    }
    for (let i = from; i < next; i++) {
      if (this.closed) return;
      const key = seqKey(i);
      const batch = await client.fetchBatch(BigInt(i));
      if (batch) this.absentSince.delete(i);
      else if (!this.absentLongEnough(i)) return;
      // Each step moves SCAN_FROM in the same write, so a crash neither skips nor repeats an index.
      const ops = [this.batchesSeen.put(SCAN_FROM, i + 1)];
      if (batch) {
        const root = Buffer.from(batch.root).toString('hex') as Hash32;
        this.log.info({ index: i, root }, 'batch committed on chain: auditing it');
        if (!(await this.batchWork.get(key)))
          ops.push(this.batchWork.put(key, { index: i, root, windowEndsAt: 0, firstSeenAt: Date.now() }));
      } else
        this.log.info({ index: i }, 'batch counted on chain but its account is gone (finalized and closed)');
      await this.store.write(ops);
    }
  }

  /**
   * Whether batch `index`, counted by the config, has read as absent for ABSENT_GRACE_MS (closed, not a lagging
   * read); the first absent read starts the clock (kept in memory: a restart waits again).
   */
  private absentLongEnough(index: number): boolean {
    const since = this.absentSince.get(index);
    if (since === undefined) {
      this.absentSince.set(index, Date.now());
      return false;
    }
    if (Date.now() - since < (this.config.absentGraceMs ?? ABSENT_GRACE_MS)) return false;
    this.absentSince.delete(index);
    return true;
  }

  /** One pass over the batches whose sample is not fully audited; a pass while one runs does nothing. */
  private async retryBatches(): Promise<void> {
    if (this.batchPass || this.closed) return;
    this.batchPass = true;
    try {
      if (this.config.chain) await this.scanCommitted(this.config.chain.client);
      for (const [, w] of await this.batchWork.entries()) {
        if (this.closed) return;
        await this.auditBatchNow(w);
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'batch retry pass failed; retrying');
    } finally {
      this.batchPass = false;
    }
  }

  private async auditBatch(w: BatchWork): Promise<void> {
    if (this.closed) return;
    const key = seqKey(w.index);
    const chain = this.config.chain;
    let root = w.root;
    // On chain: the batch as committed (its root and job count are the truth, not the bus message) and where its
    // window stands in game time.
    let committed: { jobCount: number; phase: 'early' | 'late' | 'closed' } | undefined;
    if (chain) {
      const [config, batch, slot] = await Promise.all([
        chain.client.config(),
        chain.client.fetchBatch(BigInt(w.index)),
        chain.client.sender.getSlot(),
      ]);
      if (!batch) {
        if (BigInt(w.index) < config.nextBatchIndex) {
          // Counted but absent: closed, or a lagging read (review 24): dropped only once absent for a while.
          if (this.absentLongEnough(w.index)) {
            this.log.info({ index: w.index }, 'batch finalized and closed before its sample was audited');
            await this.store.write([this.batchWork.del(key)]);
          }
        } else if (Date.now() - w.firstSeenAt > UNCOMMITTED_GRACE_MS) {
          // Work kept from an announcement (an older version took them up) at an index never committed.
          this.log.warn({ index: w.index }, 'batch announced but never committed on chain: dropped');
          await this.store.write([this.batchWork.del(key)]);
        }
        return; // not on chain yet: next pass
      }
      // Present now: an absent read before (a lagging node) no longer counts (review 25 "absent clock never reset").
      this.absentSince.delete(w.index);
      const onChainRoot = Buffer.from(batch.root).toString('hex') as Hash32;
      if (onChainRoot !== root) {
        this.log.error(
          { index: w.index, announced: root, committed: onChainRoot },
          'batch announced with another root than the committed one',
        );
        root = onChainRoot;
      }
      const elapsed = gameSlot(config, slot) - batch.commitSlot;
      const phase =
        batch.finalized !== 0 || elapsed >= batch.challengeWindow
          ? 'closed'
          : Number(elapsed) >= demandAfter(batch.challengeWindow, batch.disputeClock)
            ? 'late'
            : 'early';
      committed = { jobCount: batch.jobCount, phase };
    }

    // The sequencer's listing names the jobs; it is used only if it is the committed batch's.
    let listing: BatchListing | undefined;
    let why: string | undefined;
    try {
      listing = await this.source.batch(w.index);
      if (!listing) why = `the sequencer does not serve batch ${w.index}`;
    } catch (e) {
      if (!isRetryable(e)) throw e;
      why = (e as Error).message;
    }
    // The listing is the sequencer's JSON: anything but an array of job ids is unusable (review 24 "malformed
    // listing": a throw in the draw would hold the batch off the draw over positions for good).
    if (listing && !(Array.isArray(listing.jobIds) && listing.jobIds.every((id) => HEX32.test(String(id))))) {
      why = `the sequencer serves batch ${w.index} with a listing whose job ids are not 32-byte hex`;
      listing = undefined;
    }
    if (listing && listing.root !== root) {
      why = `the sequencer serves batch ${w.index} with root ${listing.root}, not the committed ${root}`;
      listing = undefined;
    }
    // A job listed twice would be audited once: the other position, perhaps the lie, never.
    const ids = listing?.jobIds ?? [];
    const twice = ids.find((id, i) => ids.indexOf(id) !== i);
    if (listing && twice) {
      why = `the sequencer lists job ${twice} twice in batch ${w.index}`;
      listing = undefined;
    }
    if (listing && committed && listing.jobIds.length !== committed.jobCount) {
      why = `the sequencer lists ${listing.jobIds.length} jobs in batch ${w.index}, the committed batch holds ${committed.jobCount}`;
      listing = undefined;
    }
    // The draw is made once and kept (w.picks): a listing served later never changes it. Without a usable
    // listing it runs over the committed positions, only once the data is to be demanded on chain (a listing
    // that comes back before then gives the draw over job ids).
    let picks = w.picks;
    if (!picks && listing) {
      picks = listing.jobIds.flatMap((jobId, position) =>
        isSampled(this.secret, root, jobId, this.config.sampleRate) ? [{ position, jobId }] : [],
      );
      this.log.info({ index: w.index, jobs: listing.jobIds.length, picked: picks.length }, 'batch sampled');
    } else if (!picks && committed && committed.phase === 'late') {
      picks = sampledPositions(this.secret, root, committed.jobCount, this.config.sampleRate).map(
        (position) => ({ position }),
      );
      this.log.warn(
        { index: w.index, picked: picks.length, why },
        'no usable listing: sampled over positions',
      );
    }
    if (picks && !w.picks) {
      w.picks = picks;
      await this.store.write([this.batchWork.put(key, w)]);
    }

    const unserved: { pick: Pick; why: string }[] = [];
    if (!picks) {
      // Nothing to draw from yet: the listing is retried, and its jobs demanded on chain from half the window.
      await this.keepOrGiveUp(w, committed?.phase, 'all', why ?? 'no listing');
      return;
    }
    for (const pick of picks) {
      if (this.closed) return;
      // Keyed by batch too: a job re-run after a lost dispute comes back in a later batch and is audited again.
      const auditKey = pick.jobId ? `${w.index}:${pick.jobId}` : `${w.index}#${pick.position}`;
      if (await this.audits.get(auditKey)) continue;
      if (await this.dataWaits.get(dataWaitKey({ batchIndex: w.index, jobIndex: pick.position }))) continue;
      if (!pick.jobId) {
        unserved.push({ pick, why: why ?? 'no listing' });
        continue;
      }
      let outcome: { outcome: AuditOutcome; reason?: string };
      try {
        outcome = await this.audit(pick.jobId, w.index, root, pick.position);
      } catch (e) {
        if (isRetryable(e)) {
          unserved.push({ pick, why: (e as Error).message });
          continue;
        }
        this.log.warn({ jobId: pick.jobId, err: (e as Error).message }, 'audit could not complete');
        outcome = { outcome: 'skipped', reason: (e as Error).message };
      }
      await this.store.write([
        this.audits.put(auditKey, { jobId: pick.jobId, batchIndex: w.index, ...outcome, at: Date.now() }),
      ]);
    }
    if (unserved.length === 0) {
      await this.store.write([this.batchWork.del(key)]);
      return;
    }
    if (committed?.phase !== 'late') {
      await this.keepOrGiveUp(w, committed?.phase, unserved.length, unserved[0].why);
      return;
    }
    // Half the window has passed and the sequencer still does not serve them: demanded on chain.
    const { client } = chain!;
    for (const { pick, why: notServed } of unserved) {
      if (this.closed) return;
      this.log.warn(
        { index: w.index, job: pick.position, jobId: pick.jobId, why: notServed },
        'sampled job not served: demanding its data on chain',
      );
      await this.requestInputs(client, {
        jobId: pick.jobId,
        batchIndex: w.index,
        batchRoot: root,
        jobIndex: pick.position,
      });
      const auditKey = pick.jobId ? `${w.index}:${pick.jobId}` : `${w.index}#${pick.position}`;
      await this.store.write([
        this.audits.put(auditKey, {
          jobId: pick.jobId,
          batchIndex: w.index,
          outcome: 'skipped',
          reason: 'not served: requested on chain',
          at: Date.now(),
        }),
      ]);
    }
    await this.store.write([this.batchWork.del(key)]);
  }

  /**
   * A batch some of whose sample is not served, before its data can be demanded: kept for the next pass (saying
   * why once per distinct reason), or given up once its window has closed (without a chain: its announced end).
   */
  private async keepOrGiveUp(
    w: BatchWork,
    phase: 'early' | 'late' | 'closed' | undefined,
    count: number | 'all',
    reason: string,
  ): Promise<void> {
    if (phase === 'closed' || (phase === undefined && Date.now() > w.windowEndsAt)) {
      this.log.error(
        { index: w.index, unaudited: count, why: reason },
        "the batch's challenge window closed before its sample was served or demanded on chain",
      );
      await this.store.write([this.batchWork.del(seqKey(w.index))]);
      return;
    }
    if (reason === w.lastReason) return;
    this.log.warn(
      { index: w.index, unaudited: count, why: reason },
      'sampled jobs not served yet; retried each pass',
    );
    w.lastReason = reason;
    await this.store.write([this.batchWork.put(seqKey(w.index), w)]);
  }

  /**
   * Re-execute, compare and, on a mismatch, locate and record. Throws UNAVAILABLE when the sequencer serves no
   * valid inclusion proof of the job (at `position`, the listing's, when given).
   */
  async audit(
    jobId: JobId,
    batchIndex: number,
    batchRoot: Hash32,
    position?: number,
  ): Promise<{ outcome: AuditOutcome; reason?: string }> {
    const proof = await this.source.proof(jobId);
    // Only what is provably in the committed root counts: the sequencer is not trusted here.
    if (!proof || proof.batchRoot !== batchRoot || !verifiesSafely(proof))
      throw new OptinferError(
        'UNAVAILABLE',
        `the sequencer serves no valid inclusion proof of job ${jobId} under batch ${batchIndex}'s committed root`,
      );
    const record = decodeJobRecord(fromHex(proof.record));
    if (record.jobId !== jobId)
      throw new OptinferError(
        'UNAVAILABLE',
        `the inclusion proof served for job ${jobId} is for job ${record.jobId}`,
      );
    // A listing that puts a job where its proof does not open would leave the job it displaced unaudited.
    if (position !== undefined && proof.index !== position)
      throw new OptinferError(
        'UNAVAILABLE',
        `the sequencer lists job ${jobId} at position ${position} of batch ${batchIndex}, its proof opens at ${proof.index}`,
      );
    return this.auditRecord(proof, batchIndex, batchRoot);
  }

  /**
   * Audits a record proven in the committed root: its record faults first, then its inputs (`posted` on chain by
   * answer_data, or as the sequencer serves them) re-executed and compared.
   */
  private async auditRecord(
    proof: InclusionProof,
    batchIndex: number,
    batchRoot: Hash32,
    posted?: TensorMap,
  ): Promise<{ outcome: AuditOutcome; reason?: string }> {
    const record = decodeJobRecord(fromHex(proof.record));
    const jobId = record.jobId;
    // A record nobody can dispute is the sequencer's fault whatever its output: proven now, inside the window.
    const chain = this.config.chain;
    if (chain) {
      const [executorOp, onChainModel, batch] = await Promise.all([
        chain.client.fetchOperator(new PublicKey(record.executor)),
        chain.client.fetchModel(fromHex(record.modelId, 32)),
        chain.client.fetchBatch(BigInt(batchIndex)),
      ]);
      if (rules.escrowShortUnproven(BigInt(proof.feeSum), batch))
        await this.proveShortEscrow(chain.client, proof);
      const fault = rules.recordFault(executorOp, onChainModel);
      if (fault) {
        const job = await chain.client.fetchJob(BigInt(batchIndex), proof.index);
        if (!rules.jobNotInvalidated(job).ok)
          return { outcome: 'skipped', reason: 'job already invalidated' };
        await this.proveFault(chain.client, proof, fault, jobId);
        return { outcome: 'fault' };
      }
      // A record its executor never signed cannot be disputed, and the sequencer cannot answer a data
      // request on it (answer_data checks the signature): requesting it ends in the timeout, which
      // invalidates the job and slashes the sequencer.
      if (!verifyResult(record, proof.signature)) {
        const job = await chain.client.fetchJob(BigInt(batchIndex), proof.index);
        if (!rules.jobNotInvalidated(job).ok)
          return { outcome: 'skipped', reason: 'job already invalidated' };
        this.log.warn(
          { jobId, batch: batchIndex, job: proof.index },
          'record signature does not verify: requesting its data',
        );
        await this.requestInputs(chain.client, {
          jobId,
          batchIndex,
          batchRoot,
          jobIndex: proof.index,
          proof,
        });
        return { outcome: 'skipped', reason: 'record signature does not verify: data requested on chain' };
      }
    }
    const inputs = posted ?? (await this.servedInputs(jobId, record.inputDigest));
    if (!inputs) {
      // Withheld inputs: demanded on chain; the answer is audited, or the timeout claimed (pollDataWaits).
      if (chain)
        return this.requestInputs(chain.client, {
          jobId,
          batchIndex,
          batchRoot,
          jobIndex: proof.index,
          proof,
        });
      return { outcome: 'skipped', reason: 'inputs not served' };
    }
    // More tensors than answer_data takes: the one-step opens at most as many, so no game could convict a lie
    // on them, and no answer can post them: the job is demanded on chain, and its timeout invalidates it and
    // slashes the sequencer (the honest one refuses such jobs at submission, checkInputSetSize).
    const count = Object.keys(inputs).length;
    if (chain && !posted && count > MAX_INPUT_SET_TENSORS) {
      const job = await chain.client.fetchJob(BigInt(batchIndex), proof.index);
      if (!rules.jobNotInvalidated(job).ok) return { outcome: 'skipped', reason: 'job already invalidated' };
      this.log.warn(
        { jobId, batch: batchIndex, job: proof.index, inputs: count },
        `job has ${count} inputs, more than the ${MAX_INPUT_SET_TENSORS} answer_data takes: requesting its data`,
      );
      await this.requestInputs(chain.client, { jobId, batchIndex, batchRoot, jobIndex: proof.index, proof });
      return {
        outcome: 'skipped',
        reason: `${count} job inputs (at most ${MAX_INPUT_SET_TENSORS} can be posted): data requested on chain`,
      };
    }
    return this.auditInputs(jobId, batchIndex, batchRoot, proof, inputs);
  }

  /**
   * The job's inputs as the sequencer serves them, or undefined when it does not: not at all, unreadable, or not
   * the inputs the record commits to (served wrong is withheld: the on-chain request gets the committed bytes).
   */
  private async servedInputs(jobId: JobId, inputDigest: Hash32): Promise<TensorMap | undefined> {
    let inputs: TensorMap | undefined;
    try {
      inputs = await this.source.inputs(jobId);
    } catch (e) {
      if (!(e instanceof OptinferError) || e.kind !== 'bad-input') throw e;
      this.log.warn({ jobId, err: e.message }, 'served inputs unreadable: treated as withheld');
      return undefined;
    }
    if (!inputs) return undefined;
    // Any set the sequencer serves is checked against the record, and one that cannot even be hashed (a name
    // holding a lone surrogate no byte string decodes to, a name past 65,535 bytes) is withheld like any other,
    // so demanded on chain, never recorded as audited (review 27 "served name with a lone surrogate").
    let digest: Hash32 | undefined;
    try {
      digest = tensorSetDigest(inputs);
    } catch (e) {
      this.log.warn(
        { jobId, err: (e as Error).message },
        'served inputs cannot be hashed: treated as withheld',
      );
      return undefined;
    }
    if (digest !== inputDigest) {
      this.log.warn({ jobId }, "served inputs do not match the record's input digest: treated as withheld");
      return undefined;
    }
    return inputs;
  }

  /** Re-executes the job on `inputs` (checked against the record's digest), compares and, on a mismatch, locates and records. */
  private async auditInputs(
    jobId: JobId,
    batchIndex: number,
    batchRoot: Hash32,
    proof: InclusionProof,
    inputs: TensorMap,
  ): Promise<{ outcome: AuditOutcome; reason?: string }> {
    const record = decodeJobRecord(fromHex(proof.record));
    const model = this.modelNow(record.modelId);
    // A provable model's job is judged as the referee reads its inputs: by place in name order, so inputs a
    // colluding sequencer committed under other names are run as the model's (review 21's open row, misnamed).
    const feed =
      (model.provable &&
        refereeFeed(
          model.inputs.map((i) => i.name),
          inputs,
        )) ||
      inputs;
    let ours: Reexecution;
    try {
      ours = await reexecute(model, inputs, record.inputDigest, this.runner, feed);
    } catch (e) {
      // onnxruntime refuses the inputs the executor signed an output for: no honest output exists (unrunnable.ts).
      if (!inputsRefused(e)) throw e;
      return this.auditUnrunnable(jobId, batchIndex, batchRoot, proof, model, inputs, e as Error);
    }
    this.stats.audited++;
    this.metrics.inc('audits_total');
    const verdict = compareOutputs(record.outputDigest, ours.outputDigest);
    if (!this.policy.contests({ jobId, agree: verdict.agree })) return { outcome: 'agree' };

    this.stats.mismatches++;
    this.metrics.inc('findings_total');
    const location = await locate({
      bus: this.bus,
      model,
      inputs: feed,
      jobId,
      executor: record.executor,
      runner: this.runner,
      askExecutor: !this.config.chain,
    });
    const finding: Finding = {
      jobId,
      batchIndex,
      batchRoot,
      position: proof.index,
      modelId: record.modelId,
      executor: record.executor,
      claimedOutputDigest: record.outputDigest,
      ourOutputDigest: ours.outputDigest,
      provable: model.provable,
      location,
      foundAt: Date.now(),
    };
    await this.recordFinding(finding, proof, record.inputDigest, { model, inputs });
    return { outcome: 'mismatch' };
  }

  /**
   * The job's inputs are ones onnxruntime refuses, yet its executor signed an output: for a provable model whose
   * referee convicts any trace of them (an Undecidable operand value, or an input off its registered header, at the
   * first layer no run computes), a mismatch, played with a partial trace (unrunnable.ts); otherwise skipped with the
   * reason, since the referee would not convict and the honest challenger would lose the game.
   */
  private async auditUnrunnable(
    jobId: JobId,
    batchIndex: number,
    batchRoot: Hash32,
    proof: InclusionProof,
    model: LoadedModel,
    inputs: TensorMap,
    refusal: Error,
  ): Promise<{ outcome: AuditOutcome; reason?: string }> {
    const record = decodeJobRecord(fromHex(proof.record));
    const plan = await planUnrunnable({
      model,
      inputs,
      inputDigest: record.inputDigest,
      claimedOutputDigest: record.outputDigest,
      runner: this.runner,
      secret: this.secret,
    });
    this.stats.audited++;
    this.metrics.inc('audits_total');
    if (!plan.ok) {
      this.log.warn(
        { jobId, refusal: refusal.message, why: plan.reason },
        'inputs onnxruntime refuses: not disputable',
      );
      return {
        outcome: 'skipped',
        reason: `onnxruntime refuses the inputs (${refusal.message}), and the referee would not convict: ${plan.reason}`,
      };
    }
    if (!this.policy.contests({ jobId, agree: false })) return { outcome: 'agree' };
    this.stats.mismatches++;
    this.metrics.inc('findings_total');
    const location = await locate({
      bus: this.bus,
      model,
      inputs,
      jobId,
      executor: record.executor,
      runner: this.runner,
      ours: { ...plan, layerCount: plan.prefixes.length },
      askExecutor: !this.config.chain,
    });
    const finding: Finding = {
      jobId,
      batchIndex,
      batchRoot,
      position: proof.index,
      modelId: record.modelId,
      executor: record.executor,
      claimedOutputDigest: record.outputDigest,
      ourOutputDigest: plan.outputDigest,
      provable: model.provable,
      location,
      unrunnable: plan.cause,
      foundAt: Date.now(),
    };
    this.log.warn(
      { jobId, refusal: refusal.message, cause: plan.cause.why },
      'signed output for inputs onnxruntime refuses',
    );
    await this.recordFinding(finding, proof, record.inputDigest, { model, inputs, plan });
    return { outcome: 'mismatch' };
  }

  /** Stores a finding with its pending dispute, announces it, and holds the job for the driver's views. */
  private async recordFinding(
    finding: Finding,
    proof: InclusionProof,
    inputDigest: Hash32,
    job: DisputedJob,
  ): Promise<void> {
    // Recorded with its pending entry in one write: a finding is never stored without its dispute to open.
    const pending: PendingFinding = { finding, proof, attempts: 0 };
    // Its model kept first, so a restart plays the game without the sequencer's bytes (review 27).
    if (this.config.chain) await this.keepModel(job.model.modelId, job.model.bytes);
    // With its inputs: a restart resumes the game from them, whatever the sequencer serves then.
    await this.findings.record(
      finding,
      this.config.chain
        ? [
            this.pending.put(pendingKey(finding), pending),
            this.disputedInputs.put(disputedKey(finding.modelId, inputDigest, finding.claimedOutputDigest), {
              jobId: finding.jobId,
              inputs: encodeInputSet(job.inputs).toString('base64'),
            }),
          ]
        : [],
    );
    this.log.warn(
      {
        jobId: finding.jobId,
        executor: finding.executor,
        layer: finding.location.firstDivergentLayer,
        chunk: finding.location.firstDivergentChunk,
      },
      'mismatch found',
    );
    for (const fn of this.listeners) fn(finding);
    if (this.config.chain) {
      // Held for the driver, which plays from this challenger's own trace of the job.
      this.disputed.set(`${finding.modelId}:${inputDigest}:${finding.claimedOutputDigest}`, job);
      // From inside a pass (an answer to a data request audited by pollDataWaits) the next pass is only queued:
      // awaiting it there would wait on the pass itself, and no pass would ever run again.
      if (this.inPass) void this.retryPending();
      else await this.retryPending();
    }
  }

  /**
   * The sequencer did not serve the job's inputs: demands them on chain (request_data, unless a request on the
   * job is already there) and keeps the job in `dataWaits` until the answer is audited or the timeout claimed.
   */
  private async requestInputs(
    client: SettlementClient,
    w: Omit<DataWait, 'requestedAt'>,
  ): Promise<{ outcome: AuditOutcome; reason: string }> {
    const existing = await client.fetchDataRequest(BigInt(w.batchIndex), w.jobIndex);
    if (!existing) {
      await client.requestData(this.keypair, BigInt(w.batchIndex), w.jobIndex);
      this.metrics.inc('data_requests_total');
    }
    await this.store.write([this.dataWaits.put(dataWaitKey(w), { ...w, requestedAt: Date.now() })]);
    this.log.warn(
      { jobId: w.jobId, batch: w.batchIndex, job: w.jobIndex, deposit: DATA_REQUEST_DEPOSIT.toString() },
      'inputs not served: requested on chain',
    );
    return { outcome: 'skipped', reason: 'inputs not served: requested on chain' };
  }

  /**
   * One pass over the jobs whose data was requested on chain: an answered request is audited from the posted
   * inputs; an unanswered one past its deadline (game time) has its timeout claimed (the job is invalidated and
   * the sequencer slashed, the bounty to the requester); a closed one (someone claimed it) is dropped.
   */
  private async pollDataWaits(client: SettlementClient): Promise<void> {
    for (const [key, stored] of await this.dataWaits.entries()) {
      if (this.closed) return;
      // One wait's failure (a lagging read, an answer that does not decode) is logged and retried next pass; it
      // must not end the pass for the waits after it (review 25).
      await this.pollDataWait(client, key, stored).catch((e: Error) =>
        this.log.warn(
          { batch: stored.batchIndex, job: stored.jobIndex, err: e.message },
          'data wait not settled; retried',
        ),
      );
    }
  }

  private async pollDataWait(client: SettlementClient, key: string, stored: DataWait): Promise<void> {
    // Waits stored before jobIndex existed carry it in their proof.
    const w = { ...stored, jobIndex: stored.jobIndex ?? stored.proof!.index };
    const r = await client.fetchDataRequest(BigInt(w.batchIndex), w.jobIndex);
    if (!r) {
      await this.store.write([this.dataWaits.del(key)]);
      return;
    }
    if (r.answered !== 0) {
      const a = await client.fetchDataAnswer(BigInt(w.batchIndex), w.jobIndex);
      if (!a) return;
      const inputs = decodeInputSet(a.inputs);
      const audited = w.proof
        ? {
            jobId: w.jobId!,
            outcome: this.auditInputs(w.jobId!, w.batchIndex, w.batchRoot, w.proof, inputs),
          }
        : await this.answeredProof(client, w, a).then((proof) => ({
            jobId: decodeJobRecord(fromHex(proof.record)).jobId,
            // Posted by answer_data, so proven in the committed root: record faults first, then the inputs.
            outcome: this.auditRecord(proof, w.batchIndex, w.batchRoot, inputs),
          }));
      let outcome: { outcome: AuditOutcome; reason?: string };
      try {
        outcome = await audited.outcome;
      } catch (e) {
        // The model not served yet: the answer stays on chain until the batch is final, so it is audited
        // again next pass (the wait ends when its request account closes).
        if (isRetryable(e)) {
          this.log.warn(
            { batch: w.batchIndex, job: w.jobIndex, err: (e as Error).message },
            'answer not audited yet; retried',
          );
          return;
        }
        outcome = { outcome: 'skipped', reason: (e as Error).message };
      }
      this.log.info(
        { jobId: audited.jobId, batch: w.batchIndex, job: w.jobIndex, ...outcome },
        'audited from inputs posted on chain',
      );
      await this.store.write([
        this.audits.put(`${w.batchIndex}:${audited.jobId}`, {
          jobId: audited.jobId,
          batchIndex: w.batchIndex,
          ...outcome,
          at: Date.now(),
        }),
        this.dataWaits.del(key),
      ]);
      return;
    }
    const [config, slot] = await Promise.all([client.config(), client.sender.getSlot()]);
    if (config.paused !== 0 || gameSlot(config, slot) < r.deadline) return;
    const res = await client.claimDataTimeout(this.keypair, BigInt(w.batchIndex), w.jobIndex);
    const ev = res.events.find((e) => e.name === 'DataTimedOut');
    this.metrics.inc('data_timeouts_claimed_total');
    this.log.warn(
      {
        jobId: w.jobId,
        batch: w.batchIndex,
        requester: r.requester.toBase58(),
        bounty: ev?.name === 'DataTimedOut' ? ev.data.bounty.toString() : undefined,
      },
      'data withheld: timeout claimed, job invalidated, sequencer slashed',
    );
    await this.store.write([this.dataWaits.del(key)]);
  }

  /**
   * The inclusion proof of a job the sequencer did not serve, rebuilt from what answer_data posted (the record, its
   * signature and its opening, which the program checked against the committed root).
   */
  private async answeredProof(
    client: SettlementClient,
    w: { batchIndex: number; batchRoot: Hash32; jobIndex: number },
    a: { record: Buffer; signature: Buffer; siblings: Buffer[]; siblingFees: bigint[] },
  ): Promise<InclusionProof> {
    const batch = await client.fetchBatch(BigInt(w.batchIndex));
    if (!batch) throw new OptinferError('NOT_FOUND', `batch ${w.batchIndex} is no longer on chain`);
    const fee = decodeJobRecord(a.record).fee;
    const proof: InclusionProof = {
      batchIndex: w.batchIndex as BatchIndex,
      batchRoot: w.batchRoot,
      jobCount: batch.jobCount,
      index: w.jobIndex,
      record: toHex(a.record),
      signature: toHex(a.signature),
      siblings: a.siblings.map((x) => toHex(x) as Hash32),
      siblingFees: a.siblingFees.map(String),
      feeSum: String(a.siblingFees.reduce((t, f) => t + f, BigInt(fee))),
    };
    if (!verifyInclusion(proof))
      throw new OptinferError(
        'INVALID_ACCOUNT',
        `the data posted for job ${w.jobIndex} of batch ${w.batchIndex} does not open at the committed root`,
      );
    return proof;
  }

  /** Keeps the configured bond (at least the program's minimum stake) so disputes open without a deposit first. */
  private async bondUpTo(chain: { client: SettlementClient; bondLamports: bigint }): Promise<void> {
    const [config, op] = await Promise.all([
      chain.client.config(),
      chain.client.fetchOperator(this.keypair.publicKey),
    ]);
    // Counted on the whole bond (stakes locked in open disputes included): a restart mid-dispute deposits nothing.
    const have = op ? op.bonded - op.unbonding : 0n;
    const want =
      chain.bondLamports > config.minChallengerBond ? chain.bondLamports : config.minChallengerBond;
    if (have < want) {
      await chain.client.bond(this.keypair, want - have);
      this.log.info({ lamports: (want - have).toString() }, 'bonded');
    }
  }

  /**
   * One pass over the pending findings: each opens its dispute, stays pending after a refusal for now or an error,
   * or is dropped after a final refusal (pending.ts afterAttempt). Passes never overlap; a call while one runs
   * queues one more, which sees every finding pending by then.
   */
  retryPending(): Promise<void> {
    if (this.passQueued) return this.passQueued;
    const next = this.pass
      .then(async () => {
        this.passQueued = null;
        if (this.closed || !this.config.chain) return;
        this.inPass = true;
        try {
          for (const [key, p] of await this.pending.entries()) {
            if (this.closed) return;
            await this.attempt(this.config.chain, key, p);
          }
        } finally {
          this.inPass = false;
        }
      })
      .catch((e: Error) => this.log.warn({ err: e.message }, 'pending findings pass failed; retrying'));
    this.passQueued = next;
    this.pass = next;
    return next;
  }

  /**
   * One pass over the jobs whose data was requested on chain (pollDataWaits), in its own line: auditing an answer may
   * wait for a model's bytes (up to MODEL_HTTP_TIMEOUT_MS), which must not hold the pass that opens disputes
   * (review 25 "model bytes in the pending pass"). Passes never overlap; a call while one runs returns it.
   */
  pollData(): Promise<void> {
    const chain = this.config.chain;
    if (this.dataPassRunning || this.closed || !chain) return this.dataPass;
    this.dataPassRunning = true;
    this.dataPass = this.pollDataWaits(chain.client)
      .catch((e: Error) => this.log.warn({ err: e.message }, 'data requests pass failed; retrying'))
      .finally(() => {
        this.dataPassRunning = false;
      });
    return this.dataPass;
  }

  /**
   * Closes this challenger's resolved games and the upheld Job accounts it paid for once their batch is final
   * (settlement/reclaim.ts): their rent comes back. Passes never overlap.
   */
  reclaimRent(): Promise<void> {
    const chain = this.config.chain;
    if (!chain || this.closed) return this.reclaiming;
    this.reclaiming = this.reclaiming
      .then(() => reclaimGames(chain.client, this.keypair))
      .then((closed) => {
        for (const c of closed) {
          this.metrics.inc('rent_reclaimed_lamports_total', { kind: c.kind }, Number(c.lamports));
          this.log.info(
            { kind: c.kind, account: c.address.toBase58(), lamports: c.lamports.toString() },
            'rent reclaimed',
          );
        }
      })
      .catch((e: Error) => this.log.warn({ err: e.message }, 'rent reclaim failed; retrying'));
    return this.reclaiming;
  }

  /** The findings whose dispute is not open yet. */
  async pendingFindings(): Promise<PendingFinding[]> {
    return (await this.pending.entries()).map(([, p]) => p);
  }

  private async attempt(
    chain: { client: SettlementClient; bondLamports: bigint },
    key: string,
    p: PendingFinding,
  ): Promise<void> {
    const f = p.finding;
    const outcome = await this.openDispute(chain, p).catch((e: Error) => e);
    if (outcome === 'opened') {
      await this.store.write([this.pending.del(key)]);
      return;
    }
    const next = afterAttempt(outcome, Date.now() - f.foundAt);
    if (!next.retry) {
      this.log.warn({ jobId: f.jobId, batch: f.batchIndex, why: next.why }, 'not disputing on chain');
      await this.store.write([this.pending.del(key)]);
      return;
    }
    // Said once per distinct reason: a pause or an RPC outage would otherwise repeat it every pass.
    if (next.why !== p.lastReason)
      this.log.warn(
        { jobId: f.jobId, batch: f.batchIndex, why: next.why },
        'dispute not opened yet; the finding stays pending',
      );
    await this.store.write([this.pending.put(key, { ...p, attempts: p.attempts + 1, lastReason: next.why })]);
  }

  /**
   * Opens the finding's dispute on chain if every opening rule allows it now; otherwise returns the refusal (final
   * or for now). Throws on RPC or transaction errors. Reads the chain afresh each time, so an open that landed
   * although its confirmation was lost comes back as this challenger's own game (notDisputedYet), never a second.
   */
  private async openDispute(
    chain: { client: SettlementClient; bondLamports: bigint },
    p: PendingFinding,
  ): Promise<'opened' | rules.Refusal> {
    const { finding: f, proof } = p;
    const decidable = rules.refereeCanDecide(f);
    if (!decidable.ok) return decidable;
    const { client } = chain;
    const [config, batch, onChainModel, slot] = await Promise.all([
      client.config(),
      client.fetchBatch(BigInt(f.batchIndex)),
      client.fetchModel(fromHex(f.modelId, 32)),
      client.sender.getSlot(),
    ]);
    const committed = rules.batchIsCommitted(batch, f, config.nextBatchIndex);
    if (!committed.ok) return committed;
    const open = rules.windowIsOpen(batch!, config, slot, f.batchIndex);
    if (!open.ok) return open;
    // A record nobody can dispute (unbonded executor, unregistered model) is the sequencer's fault: proven
    // inside the window, it invalidates the job and pays this challenger the bounty from the sequencer's bond.
    const fault = rules.recordFault(await client.fetchOperator(new PublicKey(f.executor)), onChainModel);
    if (fault) {
      const job = await client.fetchJob(BigInt(f.batchIndex), proof.index);
      const standing = rules.jobNotInvalidated(job);
      if (!standing.ok) return standing;
      await this.proveFault(client, proof, fault, f.jobId);
      return 'opened';
    }
    const loaded = rules.modelIsLoaded(onChainModel, f.modelId);
    if (!loaded.ok) return loaded;
    // Its own game only: games other challengers opened on the job (an accomplice's included) do not
    // stop this one; a job another game already proved wrong does.
    const [mine, job] = await Promise.all([
      client.fetchDispute({
        batchIndex: BigInt(f.batchIndex),
        jobIndex: proof.index,
        challenger: this.keypair.publicKey,
      }),
      client.fetchJob(BigInt(f.batchIndex), proof.index),
    ]);
    // A dispute this challenger already opened is played by the driver (views from `disputed` or the finding).
    const fresh = rules.notDisputedYet(mine);
    if (!fresh.ok) return fresh;
    const standing = rules.jobNotInvalidated(job);
    if (!standing.ok) return standing;
    const notSelf = rules.neverCounterYourself(f.executor, this.keypair.publicKey);
    if (!notSelf.ok) return notSelf;
    const staked = rules.stakeIsBonded(await client.fetchOperator(this.keypair.publicKey), config);
    if (!staked.ok) await client.bond(this.keypair, staked.short);
    const { dispute } = await client.openDispute(this.keypair, proof);
    this.log.warn(
      { jobId: f.jobId, dispute: dispute.toBase58(), attempts: p.attempts + 1 },
      'dispute opened',
    );
    await this.driver?.tick();
    return 'opened';
  }

  /** Proves the record fault of the job at `proof` (prove_record_fault) and logs the bounty it paid. */
  private async proveFault(
    client: SettlementClient,
    proof: InclusionProof,
    fault: RecordFault,
    jobId: JobId,
  ) {
    const r = await client.proveRecordFault(this.keypair, { ...openingOf(proof), kind: fault });
    const ev = r.events.find((e) => e.name === 'RecordFaultProven');
    this.metrics.inc('record_faults_proven_total');
    this.log.warn(
      {
        jobId,
        batch: proof.batchIndex,
        fault,
        bounty: ev?.name === 'RecordFaultProven' ? ev.data.bounty.toString() : undefined,
      },
      'record fault proven: job invalidated, sequencer slashed',
    );
  }

  /**
   * Proves that the batch of `proof` escrowed less than its tree's fee sum (its executors go unpaid): the
   * sequencer is slashed once per batch. The job itself stands and is audited as usual.
   */
  private async proveShortEscrow(client: SettlementClient, proof: InclusionProof) {
    try {
      const r = await client.proveShortEscrow(this.keypair, openingOf(proof));
      const ev = r.events.find((e) => e.name === 'EscrowShortProven');
      this.metrics.inc('record_faults_proven_total');
      this.log.warn(
        {
          batch: proof.batchIndex,
          feeSum: proof.feeSum,
          bounty: ev?.name === 'EscrowShortProven' ? ev.data.bounty.toString() : undefined,
        },
        'short escrow proven: sequencer slashed',
      );
    } catch (e) {
      // Another prover may have been first (EscrowShortProven): the audit goes on either way.
      this.log.info({ batch: proof.batchIndex, err: (e as Error).message }, 'short escrow not proven');
    }
  }

  /**
   * After a restart the in-memory map is empty: the finding (in LevelDB) names the job, its inputs were kept
   * with it (checked against the digest on chain), and the model comes from its id.
   */
  private async reloadDisputed(d: DisputeAccount): Promise<DisputedJob | undefined> {
    const modelId = toHex(d.modelId);
    const inputDigest = toHex(d.inputDigest);
    const outputDigest = toHex(d.outputDigest);
    // The game names model, inputs and output: the kept inputs name the finding, so two lies with the same
    // output on one model (review 21 "twin lies") each resume their own.
    const kept = await this.disputedInputs.get(disputedKey(modelId, inputDigest, outputDigest));
    const f = kept
      ? await this.findings.get(kept.jobId)
      : (await this.findings.all()).find(
          (x) => x.modelId === modelId && x.claimedOutputDigest === outputDigest,
        );
    if (!f) return undefined;
    // Findings recorded before their inputs were kept come back from the sequencer.
    const inputs = kept
      ? decodeInputSet(Buffer.from(kept.inputs, 'base64'))
      : await this.source.inputs(f.jobId).catch(() => undefined);
    if (!inputs || tensorSetDigest(inputs) !== inputDigest) return undefined;
    const job: DisputedJob = { model: await this.model(f.modelId), inputs, unrunnable: !!f.unrunnable };
    this.disputed.set(`${modelId}:${inputDigest}:${outputDigest}`, job);
    this.log.info({ jobId: f.jobId }, 'resumed a dispute from the recorded finding');
    return job;
  }

  /** The trace this challenger defends for a disputed job: its own, as its policy presents it. */
  private async disputeViews(d: DisputeAccount) {
    // A squatting policy holds no views, so the driver never moves in its games.
    if (this.policy.abandons) return null;
    const key = `${toHex(d.modelId)}:${toHex(d.inputDigest)}:${toHex(d.outputDigest)}`;
    const job = this.disputed.get(key) ?? (await this.reloadDisputed(d));
    if (!job) return null;
    if (job.plan || job.unrunnable) return this.partialViews(job, d);
    // Run on the inputs as the referee reads them; the trace is seeded with the committed inputs' digest.
    const feed =
      refereeFeed(
        job.model.inputs.map((i) => i.name),
        job.inputs,
      ) ?? job.inputs;
    const t = await this.runner.trace(job.model, feed, { keepTensors: true });
    const compiled = await compileForProgram(job.model);
    return {
      trace: traceViewOf({
        modelId: job.model.modelId,
        inputDigest: tensorSetDigest(job.inputs),
        profileHash: job.model.profileHash,
        layers: this.policy.defend(t.tensors!),
      }),
      model: modelViewOf({ inputs: job.inputs, weights: compiled.weights.map((w) => w.tensor) }),
    };
  }

  /** The partial trace this challenger plays for a job onnxruntime refuses (unrunnable.ts), planned again if need be. */
  private async partialViews(job: DisputedJob, d: DisputeAccount): Promise<Views> {
    let plan = job.plan;
    if (!plan) {
      const p = await planUnrunnable({
        model: job.model,
        inputs: job.inputs,
        inputDigest: toHex(d.inputDigest) as Hash32,
        claimedOutputDigest: toHex(d.outputDigest) as Hash32,
        runner: this.runner,
        secret: this.secret,
      });
      // Thrown, not null: the driver asks again next pass rather than give the game up.
      if (!p.ok) throw new OptinferError('INTERNAL', `disputed job onnxruntime refuses: ${p.reason}`);
      plan = job.plan = p;
    }
    return { trace: plan.trace, model: plan.model, ...(plan.openings ? { openings: plan.openings } : {}) };
  }

  /**
   * The model, downloaded from the sequencer if it is not here yet; a download already running is joined, so a
   * model is fetched once however many callers need it.
   */
  private model(modelId: ModelId): Promise<LoadedModel> {
    const have = this.registry.get(modelId);
    if (have) return Promise.resolve(have);
    let fetching = this.modelFetches.get(modelId);
    if (!fetching) {
      fetching = this.download(modelId).finally(() => this.modelFetches.delete(modelId));
      this.modelFetches.set(modelId, fetching);
    }
    return fetching;
  }

  /**
   * The model if it is here. Otherwise its download starts beside the audits (at most MODEL_FETCHES at once) and
   * UNAVAILABLE is thrown: the caller's audit is retried, and a finished download wakes the batch and data passes.
   * No audit waits for model bytes, which the sequencer alone serves: bytes served just inside their deadline (and
   * wrong, so fetched again every pass) would hold every audit queued behind them, a lie's too (review 26).
   */
  private modelNow(modelId: ModelId): LoadedModel {
    const have = this.registry.get(modelId);
    if (have) return have;
    if (!this.modelFetches.has(modelId)) {
      if (this.modelFetches.size >= MODEL_FETCHES)
        throw new OptinferError(
          'UNAVAILABLE',
          `model ${modelId} is not here and ${this.modelFetches.size} other models are downloading: fetched when one ends`,
        );
      this.model(modelId).then(
        () => {
          if (this.closed) return;
          this.log.info({ modelId }, 'model fetched from the sequencer');
          void this.retryBatches();
          void this.pollData();
        },
        (e: Error) => {
          if (!this.closed)
            this.log.warn(
              { modelId, err: e.message },
              'model not fetched; asked again when an audit needs it',
            );
        },
      );
    }
    throw new OptinferError(
      'UNAVAILABLE',
      `model ${modelId} is being fetched from the sequencer: its jobs are audited once it is here`,
    );
  }

  /**
   * The model's bytes from this challenger's own copy (`<dataDir>/models/<id>.onnx`, kept from an earlier
   * download) or else from the source, and registered. A download is kept before it is used, so a game opened
   * on the model is played after a restart even if the sequencer serves its bytes no more (review 27 "model
   * withheld after a restart").
   */
  private keptModelPath(modelId: ModelId): string {
    return join(this.config.dataDir, 'models', `${modelId}.onnx`);
  }

  /**
   * Keeps the model's bytes as this challenger's own copy, unless a copy holding exactly them is there: written to
   * a temporary file, flushed to disk, renamed over, and the directory flushed, so a crash leaves the old copy or
   * the new one, never part of one. A copy that cannot be written (a full disk) is logged and the work goes on:
   * the copy is a safeguard, never a reason to lose a finding (review 28).
   */
  private async keepModel(modelId: ModelId, bytes: Uint8Array): Promise<void> {
    const kept = this.keptModelPath(modelId);
    const have = await readFile(kept).catch(() => undefined);
    if (have && createHash('sha256').update(have).digest('hex') === modelId) return;
    const tmp = `${kept}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await mkdir(dirname(kept), { recursive: true });
      const f = await open(tmp, 'w');
      try {
        await f.writeFile(bytes);
        await f.sync();
      } finally {
        await f.close();
      }
      await rename(tmp, kept);
      const d = await open(dirname(kept), 'r');
      await d.sync().finally(() => d.close());
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      this.log.warn({ modelId, err: (e as Error).message }, 'model copy not kept; going on without it');
    }
  }

  private async download(modelId: ModelId): Promise<LoadedModel> {
    const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    let bytes: Uint8Array | undefined = await readFile(this.keptModelPath(modelId)).catch(() => undefined);
    if (bytes && hash(bytes) !== modelId) bytes = undefined; // a torn or altered copy: fetched again
    if (!bytes) {
      bytes = await this.source.modelBytes(modelId);
      // Bytes that are not the committed model's are the sequencer not serving it (retried), never a verdict on
      // the model: checked before they are parsed (review 21 "corrupted model bytes").
      const served = hash(bytes);
      if (served !== modelId)
        throw new OptinferError(
          'UNAVAILABLE',
          `the sequencer serves bytes for model ${modelId} that hash to ${served}`,
        );
      await this.keepModel(modelId, bytes);
    }
    if (this.closed) throw new OptinferError('UNAVAILABLE', 'the challenger is closed');
    return this.registry.register(bytes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    if (this.batchTimer) clearInterval(this.batchTimer);
    if (this.reclaimTimer) clearInterval(this.reclaimTimer);
    await this.reclaiming;
    await this.consumer?.stop();
    await this.pass;
    await this.dataPass;
    await this.auditing;
    await this.driver?.stop();
    await this.store.close();
    if (this.ownsRunner) await this.runner.close();
  }
}
