// Rent recovery: closes the accounts a role paid for once the program lets them go (finalized batches after their grace, resolved games, upheld jobs).
import type { PublicKey, Signer } from '@solana/web3.js';
import { PHASE } from './accounts.ts';
import { closable, type SettlementClient } from './client.ts';

/** One account closed and the lamports it returned. */
export interface Reclaimed {
  kind: 'batch' | 'dispute' | 'job' | 'job-refund' | 'data-request';
  address: PublicKey;
  lamports: bigint;
}

/** The rent-exempt minimum of an account of `len` data bytes (the runtime's 3480 lamports per byte-year, 2 years, 128 bytes of overhead). */
export const rentExempt = (len: number): bigint => BigInt(128 + len) * 6960n;

/**
 * Closes every finalized batch whose rent `payer` paid once its grace is over (close_batch): the sequencer's
 * reclaim. One getProgramAccounts read, then one transaction per batch closed.
 */
export async function reclaimBatches(client: SettlementClient, payer: Signer): Promise<Reclaimed[]> {
  const [batches, config, slot] = await Promise.all([
    client.listBatches(),
    client.config(),
    client.sender.getSlot(),
  ]);
  const out: Reclaimed[] = [];
  for (const { address, batch } of batches) {
    if (!batch.payer.equals(payer.publicKey) || !closable(batch, config, slot)) continue;
    const lamports = await client.sender.getBalance(address);
    await client.closeBatch(payer, batch.index);
    out.push({ kind: 'batch', address, lamports });
  }
  return out;
}

/**
 * Closes `challenger`'s resolved games, the upheld Job accounts it paid for and its answered data requests, once
 * their batch is final (finalized, or already closed): the challenger's reclaim. A job a game invalidated keeps its account (the verdict
 * record); when another challenger's game invalidated it, the Job rent refund it holds is paid out (refund_job_rent).
 */
export async function reclaimGames(client: SettlementClient, challenger: Signer): Promise<Reclaimed[]> {
  const me = challenger.publicKey;
  const [disputes, jobs, batches] = await Promise.all([
    client.listDisputes({ party: me }),
    client.listJobs(),
    client.listBatches(),
  ]);
  const open = new Map(batches.map((b) => [b.address.toBase58(), b.batch.finalized !== 0]));
  // A Job or Dispute names a batch that was committed; with no account left it was closed, which only a finalized one is.
  const final = (batch: PublicKey) => open.get(batch.toBase58()) ?? true;
  const out: Reclaimed[] = [];
  // A close the program refuses (a batch a lagging listing left out reads as closed, so final) waits for the next
  // pass; it must not end this one for the accounts after it (review 25).
  const close = async (
    kind: Reclaimed['kind'],
    address: PublicKey,
    lamports: bigint,
    f: () => Promise<unknown>,
  ) => {
    if (
      await f().then(
        () => true,
        () => false,
      )
    )
      out.push({ kind, address, lamports });
  };
  for (const { address, dispute: d } of disputes) {
    if (!d.challenger.equals(me) || d.phase !== PHASE.RESOLVED || !final(d.batch)) continue;
    const lamports = await client.sender.getBalance(address);
    await close('dispute', address, lamports, () => client.closeDispute(challenger, address));
  }
  for (const { address, job: j } of jobs) {
    // A job another challenger invalidated holds this payer's rent refund above its own rent.
    if (j.payer.equals(me) && j.invalidated !== 0) {
      const data = await client.sender.getAccountData(address);
      const lamports = (await client.sender.getBalance(address)) - rentExempt(data?.length ?? 0);
      if (lamports > 0n)
        await close('job-refund', address, lamports, () =>
          client.refundJobRent(challenger, j.batch, j.jobIndex),
        );
      continue;
    }
    if (!j.payer.equals(me) || j.invalidated !== 0 || j.openGames !== 0 || !final(j.batch)) continue;
    const lamports = await client.sender.getBalance(address);
    await close('job', address, lamports, () => client.closeJob(challenger, j.batch, j.jobIndex));
  }
  // Its answered data requests of final batches: anyone may close them, and an answerer that never does would keep
  // the request's rent locked for good (review 24 "request rent kept").
  for (const { address, request: r, batchIndex, batchFinal } of await client.listDataRequests()) {
    if (!r.requester.equals(me) || r.answered === 0 || !batchFinal) continue;
    const lamports = await client.sender.getBalance(address);
    await close('data-request', address, lamports, () =>
      client.closeDataRequest(challenger, batchIndex ?? r.batch, r.jobIndex),
    );
  }
  return out;
}
