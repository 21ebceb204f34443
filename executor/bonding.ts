// Joining the chain: bond up to the program's minimum, then play every dispute naming this executor.
import type { Keypair } from '@solana/web3.js';
import { DisputeDriver, type ViewsOf } from '../dispute/driver.ts';
import type { Logger } from '../common/log.ts';
import type { SettlementClient } from '../settlement/index.ts';
import type { InclusionProof } from '../state/job.ts';
import type { JobId } from '../state/types.ts';

export interface ChainJoin {
  client: SettlementClient;
  bondLamports: bigint;
  /**
   * Where the executor reads its jobs' inclusion proofs (the sequencer's, in process or over HTTP) to claim their
   * fees once their batch is finalized (executor/fees.ts); without it, fees are not claimed automatically.
   */
  proofs?: (jobId: JobId) => Promise<InclusionProof | undefined>;
}

/** Deposits what brings the bond up to max(bondLamports, the program's minimum executor bond); returns it. */
export async function bondUpTo(chain: ChainJoin, keypair: Keypair, log: Logger): Promise<bigint> {
  const config = await chain.client.config();
  const op = await chain.client.fetchOperator(keypair.publicKey);
  // Counted on the whole bond (stakes locked in open disputes included): a restart mid-dispute deposits nothing.
  const have = op ? op.bonded - op.unbonding : 0n;
  const want = chain.bondLamports > config.minExecutorBond ? chain.bondLamports : config.minExecutorBond;
  if (have >= want) return 0n;
  await chain.client.bond(keypair, want - have);
  log.info({ lamports: (want - have).toString() }, 'bonded');
  return want - have;
}

/**
 * Bonds, then starts playing any dispute naming this executor (also after a restart), unless `plays` is false.
 * Returns the running driver, to stop on close.
 */
export async function joinChain(o: {
  chain: ChainJoin;
  keypair: Keypair;
  views: ViewsOf;
  plays: boolean;
  log: Logger;
}): Promise<DisputeDriver | null> {
  await bondUpTo(o.chain, o.keypair, o.log);
  if (!o.plays) {
    o.log.warn('policy: this executor will not move in its disputes');
    return null;
  }
  const driver = new DisputeDriver(o.chain.client, o.keypair, o.views, o.log);
  driver.start();
  return driver;
}
