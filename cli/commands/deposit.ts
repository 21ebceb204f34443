// `optinfer deposit` and `optinfer withdraw-deposit`: a user's job deposit on the program, which a sequencer taking payments draws by its vouchers.
import {
  connectRpc,
  eventsNamed,
  gameSlot,
  toRealSlot,
  type SettlementClient,
} from '../../settlement/index.ts';
import { loadKeypair } from '../../common/keys.ts';
import { OptinferError } from '../../state/errors.ts';

export interface DepositOptions {
  rpc: string;
  ws?: string;
  /** The user's Solana CLI keypair file: pays the lamports and owns the deposit. */
  keypair: string;
  lamports: bigint;
  json: boolean;
  /** An already connected client instead of one for `rpc` (tests run the commands on LiteSVM). */
  client?: SettlementClient;
}

/** A send that fails on the cluster keeps its code (PROGRAM_* and the like), prefixed with the command; a transport failure names the cluster. */
async function sending<T>(what: string, rpc: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof OptinferError && e.code !== 'UNAVAILABLE')
      throw new OptinferError(e.code, `${what}: ${e.message}`, e.details, { cause: e });
    throw new OptinferError(
      'UNAVAILABLE',
      `${what}: cannot reach the cluster at ${rpc}: ${(e as Error).message} (pass --rpc URL)`,
      undefined,
      { cause: e },
    );
  }
}

/** Sends `deposit` for the user and prints the deposit after it: balance, drawn over its life, and the transaction. */
export async function depositCommand(o: DepositOptions): Promise<number> {
  if (o.lamports <= 0n)
    throw new OptinferError('INVALID_INPUT', 'deposit: expected a positive number of lamports, got 0');
  const user = loadKeypair(o.keypair);
  const client = o.client ?? connectRpc({ rpc: o.rpc, ws: o.ws }).client;
  const before = await sending('deposit', o.rpc, () => client.fetchDeposit(user.publicKey));
  const { signature } = await sending('deposit', o.rpc, () => client.deposit(user, o.lamports));
  const d = await client.fetchDeposit(user.publicKey);
  const cancelled = (before?.withdrawReadySlot ?? 0n) !== 0n;
  const v = {
    user: user.publicKey.toBase58(),
    amount: o.lamports.toString(),
    balance: (d?.balance ?? 0n).toString(),
    drawn: (d?.drawn ?? 0n).toString(),
    withdrawalCancelled: cancelled,
    signature,
  };
  process.stdout.write(
    o.json
      ? JSON.stringify(v, null, 2) + '\n'
      : `deposited ${v.amount} lamports for ${v.user} (tx ${signature})\n  balance ${v.balance} lamports; drawn by the sequencer so far ${v.drawn}\n` +
          (cancelled
            ? '  the pending withdrawal is cancelled: a sequencer taking payments takes your jobs again\n'
            : ''),
  );
  return 0;
}

export type WithdrawDepositOptions = Omit<DepositOptions, 'lamports'>;

/**
 * `withdraw-deposit`, in two runs one dispute clock apart: the first asks the program to pay back the unspent
 * deposit (request_withdraw_deposit) and prints the slot from which it can; the second, from that slot, takes it
 * (withdraw_deposit) and prints the lamports paid. Between the two a sequencer taking payments refuses the user's
 * jobs and may still draw the vouchers it holds; a deposit cancels the request.
 */
export async function withdrawDepositCommand(o: WithdrawDepositOptions): Promise<number> {
  const what = 'withdraw-deposit';
  const user = loadKeypair(o.keypair);
  const me = user.publicKey.toBase58();
  const client = o.client ?? connectRpc({ rpc: o.rpc, ws: o.ws }).client;
  const [config, d, slot] = await sending(what, o.rpc, () =>
    Promise.all([client.config(), client.fetchDeposit(user.publicKey), client.sender.getSlot()]),
  );
  if (!d)
    throw new OptinferError(
      'NOT_FOUND',
      `${what}: ${me} has no deposit on the program at ${o.rpc} (\`optinfer deposit LAMPORTS --keypair FILE\` makes one)`,
    );
  const now = gameSlot(config, slot);
  const paused = config.paused !== 0;
  const pauseNote = paused ? ' (the program is paused: the delay stands still until it resumes)' : '';
  const print = (v: Record<string, unknown>, lines: string[]) =>
    process.stdout.write(o.json ? JSON.stringify(v, null, 2) + '\n' : lines.join('\n') + '\n');

  if (d.withdrawReadySlot === 0n) {
    if (d.balance === 0n)
      throw new OptinferError(
        'PROGRAM_DEPOSIT_EMPTY',
        `${what}: the deposit of ${me} is empty: nothing to withdraw (the sequencer drew ${d.drawn} lamports over its life)`,
      );
    const res = await sending(what, o.rpc, () => client.requestWithdrawDeposit(user));
    const ready =
      eventsNamed(res.events, 'DepositWithdrawRequested')[0]?.readySlot ?? now + config.clockSlots;
    const readySlot = toRealSlot(config, ready);
    print(
      {
        user: me,
        action: 'requested',
        balance: d.balance.toString(),
        drawn: d.drawn.toString(),
        readySlot: readySlot.toString(),
        readyGameSlot: ready.toString(),
        slot: slot.toString(),
        delaySlots: config.clockSlots.toString(),
        signature: res.signature,
      },
      [
        `requested the withdrawal of the deposit of ${me} (tx ${res.signature})`,
        `  balance    ${d.balance} lamports; drawn by the sequencer so far ${d.drawn}`,
        `  ready      from slot ${readySlot} (now slot ${slot}; a delay of one dispute clock, ${config.clockSlots} slots)${pauseNote}`,
        `  meanwhile  a sequencer taking payments refuses your jobs and may still draw the vouchers you signed;`,
        `             \`optinfer deposit\` cancels the request`,
        `  then run \`optinfer withdraw-deposit\` again to take the balance back`,
      ],
    );
    return 0;
  }

  const readySlot = toRealSlot(config, d.withdrawReadySlot);
  const notReady = () =>
    new OptinferError(
      'PROGRAM_DEPOSIT_WITHDRAW_NOT_READY',
      `${what}: the withdrawal of the deposit of ${me} (balance ${d.balance} lamports) is ready from slot ${readySlot}, ` +
        `now slot ${slot}${paused ? '' : ` (${readySlot - slot} slots to go)`}${pauseNote}; run it again then`,
    );
  if (now < d.withdrawReadySlot) throw notReady();
  const res = await sending(what, o.rpc, () => client.withdrawDeposit(user)).catch((e: OptinferError) => {
    throw e.code === 'PROGRAM_DEPOSIT_WITHDRAW_NOT_READY' ? notReady() : e;
  });
  const paid = eventsNamed(res.events, 'DepositWithdrawn')[0]?.amount ?? d.balance;
  const after = await client.fetchDeposit(user.publicKey);
  print(
    {
      user: me,
      action: 'withdrawn',
      amount: paid.toString(),
      balance: (after?.balance ?? 0n).toString(),
      drawn: (after?.drawn ?? d.drawn).toString(),
      signature: res.signature,
    },
    [
      `withdrew ${paid} lamports from the deposit of ${me} to its wallet (tx ${res.signature})`,
      `  balance ${after?.balance ?? 0n} lamports; drawn by the sequencer over the deposit's life ${after?.drawn ?? d.drawn}`,
      `  the account stays (its rent and its drawn total keep old vouchers worthless); \`optinfer deposit\` refills it`,
    ],
  );
  return 0;
}
