// Plays one party's side of every open dispute it is in, from its own stored data: moves, one-step, timeouts.
import type { Keypair, PublicKey } from '@solana/web3.js';
import { PHASE } from './phases.ts';
import { SIDE, type DisputeAccount } from '../settlement/accounts.ts';
import type { SettlementClient } from '../settlement/client.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { playMove, sideOf, submitOneStep } from './moves.ts';
import { playOnlyFromOwnTrace, stepOnlyAtLeaf, timeoutOnlyWhenClockRanOut } from './rules.ts';
import type { ModelView, TraceView } from './views.ts';
import type { ChunkPicker } from './step-data.ts';

export const DEFAULT_DISPUTE_POLL_MS = 500;
/** Bisection over 2^16 layers and a 2^16-chunk tensor takes about 70 moves; this bounds one pass. */
const MAX_MOVES_PER_PASS = 256;

/** Which chunks a one-step opens, given the dispute at its leaf (submitOneStep's `openings`). */
export type OpeningsOf = (d: DisputeAccount) => 'auto' | 'whole' | ChunkPicker;

/**
 * This party's views of a disputed job, or null when it holds no data for it (then it can only claim timeouts).
 * `openings`: which chunks its one-step opens, when not always the default ('auto').
 */
export interface Views {
  trace: TraceView;
  model: ModelView;
  openings?: OpeningsOf;
}
export type ViewsOf = (d: DisputeAccount) => Promise<Views | null>;

/**
 * Polls the chain for open disputes naming this party and makes every move that is its turn. Polling, not
 * events, so a restarted node resumes exactly where the chain says the game stands.
 */
export class DisputeDriver {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly views = new Map<string, Views | null>();
  readonly resolved = new Map<string, { winner: number; mine: boolean }>();
  /** Games this party ended as moot: another game on the job had already invalidated it. */
  readonly moot = new Set<string>();
  private readonly lastError = new Map<string, string>();

  constructor(
    private readonly client: SettlementClient,
    private readonly signer: Keypair,
    private readonly viewsOf: ViewsOf,
    private readonly log: Logger = silentLogger,
    private readonly pollMs = DEFAULT_DISPUTE_POLL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.pollMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.running) await new Promise((r) => setTimeout(r, 20));
  }

  /** One pass over this party's open disputes. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const open = await this.client.listDisputes({ party: this.signer.publicKey, open: true });
      for (const { address, dispute } of open) {
        // Keep moving while it is this party's turn: a poll interval per move would spend the chess clock.
        // One failing game (say, a dishonest party unable to move) must not stall the others.
        await this.playAll(address, dispute).then(
          () => this.lastError.delete(address.toBase58()),
          async (e: Error) => {
            // The other side's one-step (or timeout claim) can end the game between our read and our move.
            const now = await this.client.fetchDispute(address).catch(() => null);
            const side = sideOf(dispute, this.signer.publicKey);
            if (now?.phase === PHASE.RESOLVED && side !== null) return this.record(address, side);
            // Said once per distinct failure: a party that cannot move (say, a trace that does not end at the
            // output it claimed) would otherwise repeat the same line every poll until its clock runs out.
            if (this.lastError.get(address.toBase58()) === e.message) return;
            this.lastError.set(address.toBase58(), e.message);
            this.log.warn(
              { dispute: address.toBase58(), phase: dispute.phase, err: e.message },
              'dispute move failed',
            );
          },
        );
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'dispute pass failed; retrying');
    } finally {
      this.running = false;
    }
  }

  private async playAll(address: PublicKey, first: DisputeAccount): Promise<void> {
    if (await this.endIfMoot(address, first)) return;
    let d = first;
    for (let moves = 0; moves < MAX_MOVES_PER_PASS; moves++) {
      if (!(await this.play(address, d))) return;
      d = await this.client.dispute(address);
      if (d.phase === PHASE.RESOLVED) return;
    }
  }

  /**
   * Several challengers may each play a game on one job. Once one of them wins, the job is invalidated and
   * the program refuses the others' one-step and timeout (GameMoot): this party ends its game instead, which
   * unlocks both stakes and returns the game's rent to its challenger. True when it did.
   */
  private async endIfMoot(address: PublicKey, d: DisputeAccount): Promise<boolean> {
    if (d.phase === PHASE.RESOLVED || !(await this.client.jobInvalidated(d.batch, d.jobIndex))) return false;
    await this.client.endMootGame(this.signer, address);
    this.moot.add(address.toBase58());
    this.log.info(
      { dispute: address.toBase58(), job: d.jobIndex },
      'game ended as moot: another game already invalidated the job',
    );
    return true;
  }

  /** Makes this party's move if it has one; true when it moved. */
  private async play(address: PublicKey, d: DisputeAccount): Promise<boolean> {
    const key = address.toBase58();
    const side = sideOf(d, this.signer.publicKey);
    if (side === null) return false;
    // Clocks run in game time: the slots the program spent paused never count against the other side.
    const [config, slot] = await Promise.all([this.client.config(), this.client.sender.getSlot()]);
    if (timeoutOnlyWhenClockRanOut(d, side, config, slot).ok) {
      await this.client.claimTimeout(this.signer, address);
      this.log.info({ dispute: key }, 'claimed a timeout: the other side ran out of clock');
      await this.record(address, side);
      return false;
    }
    // Only views found are kept: none now (a restart before the job's data came back) is asked again next tick.
    const v = this.views.get(key) ?? (await this.viewsOf(d));
    if (v) this.views.set(key, v);
    if (!playOnlyFromOwnTrace(v).ok || !v) return false;
    if (stepOnlyAtLeaf(d).ok) {
      // The one-step runs on the challenger's clock but anyone may submit it: each side proves itself right.
      await submitOneStep(this.client, this.signer, address, v.trace, v.model, {
        ...(v.openings ? { openings: v.openings(d) } : {}),
      });
      this.log.info({ dispute: key, layer: d.disagree, chunk: d.chunkIndex }, 'one-step submitted');
      await this.client.closeProofBuffer(this.signer, address).catch(() => {});
      await this.record(address, side);
      return false;
    }
    // playMove keeps to neverMoveOutOfTurn: null when the other side is to move.
    const r = await playMove(this.client, this.signer, address, v.trace, d);
    if (r) this.log.debug({ dispute: key, phase: d.phase }, 'dispute move');
    return r !== null;
  }

  private async record(address: PublicKey, side: number): Promise<void> {
    const d = await this.client.dispute(address);
    if (d.phase !== PHASE.RESOLVED) return;
    const mine = d.winner === side;
    this.resolved.set(address.toBase58(), { winner: d.winner, mine });
    this.log.info(
      { dispute: address.toBase58(), winner: d.winner === SIDE.EXECUTOR ? 'executor' : 'challenger', mine },
      'dispute resolved',
    );
  }
}
