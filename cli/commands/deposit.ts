// `optinfer deposit`: a user adds lamports to its job deposit on the program, which a sequencer taking payments draws by its vouchers.
import { connectRpc } from '../../settlement/index.ts';
import { loadKeypair } from '../../common/keys.ts';
import { OptinferError } from '../../state/errors.ts';

export interface DepositOptions {
  rpc: string;
  ws?: string;
  /** The user's Solana CLI keypair file: pays the lamports and owns the deposit. */
  keypair: string;
  lamports: bigint;
  json: boolean;
}

/** Sends `deposit` for the user and prints the deposit after it: balance, drawn over its life, and the transaction. */
export async function depositCommand(o: DepositOptions): Promise<number> {
  if (o.lamports <= 0n)
    throw new OptinferError('INVALID_INPUT', 'deposit: expected a positive number of lamports, got 0');
  const user = loadKeypair(o.keypair);
  const { client } = connectRpc({ rpc: o.rpc, ws: o.ws });
  let signature: string;
  try {
    signature = (await client.deposit(user, o.lamports)).signature;
  } catch (e) {
    if (e instanceof OptinferError && e.code !== 'UNAVAILABLE')
      throw new OptinferError(e.code, `deposit: ${e.message}`, e.details, { cause: e });
    throw new OptinferError(
      'UNAVAILABLE',
      `deposit: cannot send to the cluster at ${o.rpc}: ${(e as Error).message} (pass --rpc URL)`,
      undefined,
      { cause: e },
    );
  }
  const d = await client.fetchDeposit(user.publicKey);
  const v = {
    user: user.publicKey.toBase58(),
    amount: o.lamports.toString(),
    balance: (d?.balance ?? 0n).toString(),
    drawn: (d?.drawn ?? 0n).toString(),
    signature,
  };
  process.stdout.write(
    o.json
      ? JSON.stringify(v, null, 2) + '\n'
      : `deposited ${v.amount} lamports for ${v.user} (tx ${signature})\n  balance ${v.balance} lamports; drawn by the sequencer so far ${v.drawn}\n`,
  );
  return 0;
}
