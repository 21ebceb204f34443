// The unbonding cheater's wallet: asks for its bond back right after its lie is committed, then tries to withdraw until told to stop.
import type { Keypair } from '@solana/web3.js';
import { freeBond, gameSlot, unbondReadyAt, type SettlementClient } from '../settlement/index.ts';

/** One withdraw attempt: the game slot it was tried at, and the program's refusal or the lamports paid out. */
export interface WithdrawAttempt {
  /** Game slot (settlement gameSlot: paused slots left out), the time unbond_ready_slot is counted in. */
  at: number;
  ok: boolean;
  /** The refusal's code (e.g. PROGRAM_WITHDRAW_DURING_DISPUTE) when it failed. */
  code?: string;
  lamports?: bigint;
}

/**
 * Attack 3 of issue 13 ("unbonding escapes the slash"), played from the executor's key: the cheating executor
 * process lies about a job (a `--cheat` mode); this wallet, holding the same key, requests an unbond as soon as
 * the lie is in a committed batch, and tries `withdraw` every `everyMs` to get the bond out before a challenger's
 * dispute can lock it.
 */
export class UnbondingCheater {
  readonly attempts: WithdrawAttempt[] = [];
  /** The slot at which its unbond could first be withdrawn (unbond_ready_slot), once requested. */
  readySlot: bigint | undefined;
  private timer: NodeJS.Timeout | null = null;
  private trying: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: SettlementClient,
    private readonly keypair: Keypair,
  ) {}

  /** request_unbond of `amount` lamports (default: all of its free bond); returns the amount. */
  async unbond(amount?: bigint): Promise<bigint> {
    const op = await this.client.fetchOperator(this.keypair.publicKey);
    const want = amount ?? (op ? freeBond(op) : 0n);
    await this.client.requestUnbond(this.keypair, want);
    const [config, after] = await Promise.all([
      this.client.config(),
      this.client.fetchOperator(this.keypair.publicKey),
    ]);
    this.readySlot = unbondReadyAt(config, after!);
    return want;
  }

  /** Tries to withdraw every `everyMs` until stop(), recording each outcome. */
  startWithdrawing(everyMs = 1_000): void {
    this.timer = setInterval(() => {
      this.trying = this.trying.then(() => this.tryOnce());
    }, everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.trying;
  }

  /** Lamports it got out. */
  get withdrawn(): bigint {
    return this.attempts.reduce((s, a) => s + (a.lamports ?? 0n), 0n);
  }

  private async tryOnce(): Promise<void> {
    const [config, slot] = await Promise.all([this.client.config(), this.client.sender.getSlot()]);
    const at = Number(gameSlot(config, slot));
    const before = (await this.client.fetchOperator(this.keypair.publicKey))?.unbonding ?? 0n;
    try {
      await this.client.withdraw(this.keypair);
      this.attempts.push({ at, ok: true, lamports: before });
    } catch (e) {
      this.attempts.push({ at, ok: false, code: (e as { code?: string }).code ?? (e as Error).message });
    }
  }
}
