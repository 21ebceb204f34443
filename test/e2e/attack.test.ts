// End to end under attack: separate processes over a real nats-server, settling on the local Solana validator.
// One honest executor against 1, 2 and 5 dishonest ones (each cheat a knob of the same executor), two
// challengers; every role killed with SIGKILL once mid-dispute in the first scenario.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Keypair, PublicKey } from '@solana/web3.js';
import {
  BATCH_CLAIM_BITS_OFFSET,
  decodeJob,
  eventsNamed,
  fetchEventsSince,
  PHASE,
  PROGRAM_ID,
  SIDE,
  type OperatorAccount,
  type OptinferEvent,
  parseEvents,
  type RpcSender,
} from '../../settlement/index.ts';
import { signVoucher } from '../../state/voucher.ts';
import { decodeJobRecord, verifyInclusion } from '../../state/job.ts';
import { fromHex } from '../../state/hash.ts';
import { rentExempt } from '../../settlement/reclaim.ts';
import { runCli, waitFor } from '../helpers/node-process.ts';
import {
  BOUNTY_BPS,
  CHALLENGER_BOND,
  EXECUTOR_BOND,
  MIN_EXECUTOR_BOND,
  startCluster,
  USER_DEPOSIT,
  type Cluster,
  type ClusterOptions,
  type JobResult,
} from './cluster.ts';

/** The program's bounty split (game.rs bps_of), exact in integers. */
const bpsOf = (amount: bigint, bps: number) =>
  (amount / 10_000n) * BigInt(bps) + ((amount % 10_000n) * BigInt(bps)) / 10_000n;

const bonded = (op: OperatorAccount | null) => (op ? op.bonded : 0n);

/** Every event the program logged on the cluster so far, oldest first (its transactions' logs, read back over RPC). */
async function programEvents(c: Cluster): Promise<OptinferEvent[]> {
  const conn = (c.client.sender as RpcSender).connection;
  return (await fetchEventsSince(conn, { limit: 100_000 })).flatMap((t) => t.events);
}

/** One successful transaction of the program: its events, and every account's lamports before and after it. */
interface ProgramTx {
  signature: string;
  events: OptinferEvent[];
  keys: string[];
  pre: bigint[];
  post: bigint[];
  /** The fee its first key (the fee payer) paid. */
  fee: bigint;
}

/** Every successful transaction of the program on the cluster so far, oldest first, with its balances. */
async function programTxs(c: Cluster): Promise<ProgramTx[]> {
  const conn = (c.client.sender as RpcSender).connection;
  const sigs: string[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await conn.getSignaturesForAddress(PROGRAM_ID, { before, limit: 1000 }, 'confirmed');
    sigs.push(...page.filter((s) => !s.err).map((s) => s.signature));
    if (page.length < 1000) break;
    before = page[page.length - 1].signature;
  }
  const out: ProgramTx[] = [];
  for (const signature of sigs.reverse()) {
    const tx = await conn.getTransaction(signature, {
      commitment: 'confirmed',
      maxSupportedTransactionVersion: 0,
    });
    if (!tx?.meta || tx.meta.err) continue;
    const keys = tx.transaction.message
      .getAccountKeys({ accountKeysFromLookups: tx.meta.loadedAddresses })
      .keySegments()
      .flat()
      .map((k) => k.toBase58());
    out.push({
      signature,
      events: parseEvents(tx.meta.logMessages ?? []),
      keys,
      pre: tx.meta.preBalances.map(BigInt),
      post: tx.meta.postBalances.map(BigInt),
      fee: BigInt(tx.meta.fee),
    });
  }
  return out;
}

/** A Dispute, Job or DataRequest account the program created on the cluster, and who paid its rent. */
interface Rented {
  kind: 'dispute' | 'job' | 'data request';
  address: string;
  payer: string;
}

/** The Dispute, Job and DataRequest accounts the program's events show created (games opened, data requested). */
function rentedAccounts(c: Cluster, txs: ProgramTx[]): Map<string, Rented> {
  const out = new Map<string, Rented>();
  const add = (kind: Rented['kind'], address: PublicKey, payer: PublicKey) => {
    const a = address.toBase58();
    // A job's account is paid by whoever made it first (its first game, or a data request).
    if (!out.has(a)) out.set(a, { kind, address: a, payer: payer.toBase58() });
  };
  const { pdas } = c.client;
  for (const e of txs.flatMap((t) => t.events)) {
    if (e.name === 'DisputeOpened') {
      add('job', pdas.job(pdas.batch(e.data.batchIndex), e.data.jobIndex), e.data.challenger);
      add('dispute', e.data.dispute, e.data.challenger);
    } else if (e.name === 'DataRequested') {
      const batch = pdas.batch(e.data.batchIndex);
      add('job', pdas.job(batch, e.data.jobIndex), e.data.requester);
      add('data request', pdas.dataRequest(batch, e.data.jobIndex), e.data.requester);
    }
  }
  return out;
}

/** The books of one rented account: lamports in at creation and back at close, and to whom. */
interface RentBooks {
  paid: bigint;
  /** Null while the account stands (an invalidated job's verdict record). */
  back: bigint | null;
  to: string | null;
}

/**
 * The rent an account took at creation (the transaction that brought it from 0 lamports) and gave back at its close
 * (the one that took it to 0), with the key the close's event names as paid; and the lamports each close transaction
 * moved into that key's wallet (net of the fee when it sent the transaction, and of a data timeout's bounty).
 */
function rentBooks(r: Rented, txs: ProgramTx[]): RentBooks & { received: bigint | null; closeSig?: string } {
  let paid: bigint | null = null;
  for (const t of txs) {
    const i = t.keys.indexOf(r.address);
    if (i < 0) continue;
    if (paid === null) {
      if (t.pre[i] === 0n && t.post[i] > 0n) paid = t.post[i];
      continue;
    }
    if (t.post[i] !== 0n) continue;
    const back = t.pre[i];
    let to: string | null = null;
    let bounty = 0n;
    for (const e of t.events) {
      if ((e.name === 'DisputeClosed' || e.name === 'GameMooted') && e.data.dispute.toBase58() === r.address)
        to = e.data.challenger.toBase58();
      else if (e.name === 'JobClosed' && r.kind === 'job') to = e.data.payer.toBase58();
      else if (e.name === 'DataRequestClosed' && r.kind === 'data request') to = e.data.requester.toBase58();
      else if (e.name === 'DataTimedOut' && r.kind === 'data request') {
        to = e.data.requester.toBase58();
        bounty = e.data.bounty;
      }
    }
    // Every account this transaction closed to the same key counts in what that key received.
    const j = to === null ? -1 : t.keys.indexOf(to);
    const received = j < 0 ? null : t.post[j] - t.pre[j] + (j === 0 ? t.fee : 0n) - bounty;
    return { paid: paid ?? 0n, back, to, received, closeSig: t.signature };
  }
  return { paid: paid ?? 0n, back: null, to: null, received: null };
}

/** POST /v1/jobs with `body`: the status and the error message, if any. */
async function post(c: Cluster, body: unknown): Promise<{ status: number; message: string }> {
  const res = await fetch(`${c.seqUrl}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const j = (await res.json()) as { error?: { message?: string } };
  return { status: res.status, message: j.error?.message ?? '' };
}

/**
 * The sequencer takes payments on a cluster by default: a job without a voucher is a 402 naming its fee, a voucher of
 * a user with no deposit a 402 naming the balance available (0) and the fee.
 */
async function assertUnpaidRefused(c: Cluster): Promise<void> {
  const inputs = { x: { dtype: 'int8', dims: [1, 16], data: Array.from({ length: 16 }, () => 1) } };
  const none = await post(c, { modelId: c.modelId, inputs, fee: '12345' });
  assert.equal(none.status, 402, `a job without a voucher: ${none.status} ${none.message}`);
  assert.match(none.message, /job fee 12345 lamports: payment required/);
  const stranger = Keypair.generate();
  const terms = {
    programId: PROGRAM_ID,
    user: stranger.publicKey,
    sequencer: c.sequencer,
    cumulative: 12_345n,
  };
  const broke = await post(c, {
    modelId: c.modelId,
    inputs,
    fee: '12345',
    payment: {
      user: stranger.publicKey.toBase58(),
      cumulative: '12345',
      signature: signVoucher(terms, stranger.secretKey).toString('hex'),
    },
  });
  assert.equal(broke.status, 402, `a voucher with no deposit: ${broke.status} ${broke.message}`);
  assert.match(broke.message, /balance 0 lamports available, job fee 12345 lamports/);
}

async function scenario(
  opts: ClusterOptions,
  jobs: number,
  duringDisputes?: (c: Cluster) => Promise<void>,
): Promise<void> {
  const c = await startCluster(opts);
  try {
    const ops = async () =>
      new Map(
        await Promise.all(
          [...c.roles.values()].map(
            async (r) => [r.name, await c.client.fetchOperator(r.keypair.publicKey)] as const,
          ),
        ),
      );
    const before = await ops();
    const treasuryBefore = BigInt(await c.client.sender.getBalance(c.client.pdas.vault()));
    for (const e of c.executors) assert.equal(bonded(before.get(e.name)!), EXECUTOR_BOND, e.name);

    await assertUnpaidRefused(c);
    const submitted: { jobId: string; expected: string; fee: bigint }[] = [];
    for (let i = 0; i < jobs; i++) submitted.push(await c.submit(i));

    if (duringDisputes) {
      await waitFor(
        'a dispute open on chain',
        async () => (await c.client.listDisputes({ open: true })).length > 0,
        120_000,
        250,
      );
      await duringDisputes(c);
    }

    const final: JobResult[] = [];
    for (const s of submitted) {
      final.push(
        await waitFor(
          `job ${s.jobId} finalized`,
          async () => {
            const j = await c.job(s.jobId).catch(() => undefined);
            return j?.status === 'finalized' && j;
          },
          300_000,
          250,
        ),
      );
    }
    // Every job finalized with the result an honest run gives, provably in a batch finalized on chain.
    const honest = new Set(c.executors.filter((e) => !e.cheat).map((e) => e.keypair.publicKey.toBase58()));
    for (const [i, j] of final.entries()) {
      assert.equal(j.outputDigest, submitted[i].expected, `job ${j.jobId}: wrong final output`);
      // A different model can agree with the right one on some input; then its result is right and stands.
      const by = c.executors.find((e) => e.keypair.publicKey.toBase58() === j.executor);
      assert.ok(
        honest.has(j.executor!) || by?.cheat?.mode === 'other-model',
        `job ${j.jobId} finalized from ${by?.name}, a cheating executor`,
      );
      assert.ok(j.proof && verifyInclusion(j.proof), `job ${j.jobId}: inclusion proof does not verify`);
      assert.ok(
        await c.batchFinal(j.batch!.index, j.batch!.root),
        `batch ${j.batch!.index} is not finalized on chain with the node's root`,
      );
    }

    // Let disputes still being played (a late second challenger, say) end before the books are checked.
    await waitFor(
      'every dispute resolved',
      async () => (await c.client.listDisputes({ open: true })).length === 0,
      120_000,
      250,
    );
    const disputes = await c.disputes();
    const after = await ops();
    const treasuryAfter = BigInt(await c.client.sender.getBalance(c.client.pdas.vault()));

    const accomplice = (k: PublicKey) =>
      c.challengers.some((r) => r.challengerCheat && r.keypair.publicKey.equals(k));
    // Every dispute was opened by a challenger against a dishonest executor, and an honest challenger won it
    // (an accomplice's abandoned game is lost on time, or ended as moot and closed once the job fell).
    // A false-alarm challenger contests honest jobs too, and loses those games.
    const falseAlarm = (k: PublicKey) =>
      c.challengers.some((r) => r.challengerCheat === 'false-alarm' && r.keypair.publicKey.equals(k));
    for (const { address, dispute: d } of disputes) {
      const against = c.executors.find((e) => e.keypair.publicKey.equals(d.executor));
      assert.equal(d.phase, PHASE.RESOLVED);
      if (falseAlarm(d.challenger) && !against?.cheat) {
        assert.equal(d.winner, SIDE.EXECUTOR, `dispute ${address.toBase58()}: a false alarm won`);
        continue;
      }
      assert.ok(against?.cheat, `dispute ${address.toBase58()} names an honest executor`);
      if (accomplice(d.challenger)) continue;
      assert.equal(d.winner, SIDE.CHALLENGER, `dispute ${address.toBase58()} won by the ${against.name}`);
    }
    const won = disputes.filter(({ dispute: d }) => d.winner === SIDE.CHALLENGER);
    const lost = disputes.filter(({ dispute: d }) => d.winner === SIDE.EXECUTOR);
    // Every dishonest executor lost at least one full minimum stake; every honest bond is intact.
    for (const e of c.executors) {
      const op = after.get(e.name)!;
      if (!e.cheat) {
        // An honest executor's bond only grows: by the bounties of the false alarms it won.
        const defended = lost
          .filter(({ dispute: d }) => d.executor.equals(e.keypair.publicKey))
          .reduce((s, { dispute: d }) => s + bpsOf(d.challengerStake, BOUNTY_BPS), 0n);
        assert.equal(op.bonded, EXECUTOR_BOND + defended, `${e.name}: honest bond changed`);
        assert.equal(op.locked, 0n);
        continue;
      }
      const slashed = won
        .filter(({ dispute: d }) => d.executor.equals(e.keypair.publicKey))
        .reduce((s, { dispute: d }) => s + d.executorStake, 0n);
      assert.ok(slashed >= MIN_EXECUTOR_BOND, `${e.name} (${e.cheat.mode}) slashed only ${slashed} lamports`);
      assert.equal(op.locked, 0n, `${e.name}: stake still locked`);
    }
    // Each resolved game moved its loser's stake: the bounty to the winner, the rest to the vault (moot
    // games moved nothing). Nothing created or lost.
    const stakeOf = (d: (typeof disputes)[number]['dispute']) =>
      d.winner === SIDE.CHALLENGER ? d.executorStake : d.challengerStake;
    const slashedTotal = disputes.reduce((s, { dispute: d }) => s + stakeOf(d), 0n);
    const bounties = disputes.reduce((s, { dispute: d }) => s + bpsOf(stakeOf(d), BOUNTY_BPS), 0n);
    assert.ok(won.length > 0 && bounties > 0n, 'no bounty was paid');
    for (const r of c.challengers) {
      const mine = (x: typeof disputes) =>
        x.filter(({ dispute: d }) => d.challenger.equals(r.keypair.publicKey));
      const expected =
        mine(won).reduce((s, { dispute: d }) => s + bpsOf(d.executorStake, BOUNTY_BPS), 0n) -
        mine(lost).reduce((s, { dispute: d }) => s + d.challengerStake, 0n);
      // A held-back challenger had no account yet at the start: it bonded CHALLENGER_BOND on launch.
      const start = opts.holdBack?.includes(r.name) ? CHALLENGER_BOND : bonded(before.get(r.name)!);
      const gain = bonded(after.get(r.name)!) - start;
      assert.equal(gain, expected, `${r.name}: bond did not move by exactly its games' stakes`);
      if (!r.challengerCheat) assert.ok(gain >= 0n, `${r.name}: honest challenger lost bond`);
      assert.equal(after.get(r.name)!.locked, 0n);
    }
    // A job invalidated by a challenger that did not pay its Job account repays that payer's Job
    // rent from the vault's share (refund_job_rent pays it out of the Job account later).
    let refunds = 0n;
    for (const { dispute: d } of won) {
      // An invalidated job's account is never closed.
      const j = await c.client.fetchJob(d.batch, d.jobIndex);
      if (j && !j.payer.equals(d.challenger)) {
        const data = await c.client.sender.getAccountData(c.client.pdas.job(d.batch, d.jobIndex));
        refunds += rentExempt(data!.length);
      }
    }
    assert.equal(
      treasuryAfter - treasuryBefore,
      slashedTotal - bounties - refunds,
      'the vault did not get the remainder',
    );

    // Executor pay to the lamport: each executor's role claims, from each batch's escrow, exactly the fees
    // of the final jobs it ran (an invalidated job's fee reaches the executor of its re-run instead).
    const owed = new Map<string, bigint>();
    for (const j of final) {
      const fee = decodeJobRecord(fromHex(j.proof!.record)).fee;
      owed.set(j.executor!, (owed.get(j.executor!) ?? 0n) + fee);
    }
    const feesOf = async () =>
      new Map(
        await Promise.all(
          c.executors.map(
            async (e) =>
              [
                e.keypair.publicKey.toBase58(),
                (await c.client.fetchOperator(e.keypair.publicKey))?.feesEarned ?? 0n,
              ] as const,
          ),
        ),
      );
    const paid = await waitFor(
      'every executor paid the fees of its final jobs',
      async () => {
        const now = await feesOf();
        return [...now].every(([k, v]) => v === (owed.get(k) ?? 0n)) && now;
      },
      120_000,
      500,
    ).catch(async (e) => {
      process.stderr.write(
        `fees owed ${JSON.stringify([...owed].map(([k, v]) => [k, String(v)]))}, paid ${JSON.stringify([...(await feesOf())].map(([k, v]) => [k, String(v)]))}\n`,
      );
      throw e;
    });
    const total = final.reduce((s, j) => s + decodeJobRecord(fromHex(j.proof!.record)).fee, 0n);
    assert.equal(
      [...paid.values()].reduce((s, v) => s + v, 0n),
      total,
      "the fees paid are the final jobs' fees",
    );

    // The user's deposit drops by exactly the fees of its finalized jobs: the sequencer draws its vouchers once
    // their jobs are final (every job here is; an invalidated run's fee is charged once, at its re-run's batch).
    const charged = submitted.reduce((s, j) => s + j.fee, 0n);
    assert.equal(charged, total, "the fees the user signed for are the final jobs' fees");
    const dep = await waitFor(
      "the user's deposit drawn by its finalized fees",
      async () => {
        const d = await c.client.fetchDeposit(c.user.publicKey);
        return d && d.drawn >= charged && d;
      },
      120_000,
      500,
    );
    assert.equal(dep!.drawn, charged, "drawn is exactly the fees of the user's finalized jobs");
    assert.equal(dep!.balance, USER_DEPOSIT - charged, 'the deposit dropped by exactly those fees');

    // Every challenger's `optinfer earnings` bounties are the bounties the program's events paid it: its won games
    // (DisputeResolved names the dispute, DisputeOpened its challenger) and any fault it proved.
    const events = await programEvents(c);
    const openedBy = new Map(
      eventsNamed(events, 'DisputeOpened').map((e) => [e.dispute.toBase58(), e.challenger.toBase58()]),
    );
    const bountyOf = new Map<string, bigint>();
    for (const r of c.challengers) {
      const me = r.keypair.publicKey.toBase58();
      const fromEvents =
        eventsNamed(events, 'DisputeResolved')
          .filter((e) => e.winner === SIDE.CHALLENGER && openedBy.get(e.dispute.toBase58()) === me)
          .reduce((s, e) => s + e.bounty, 0n) +
        eventsNamed(events, 'RecordFaultProven')
          .filter((e) => e.prover.toBase58() === me)
          .reduce((s, e) => s + e.bounty, 0n) +
        eventsNamed(events, 'EscrowShortProven')
          .filter((e) => e.prover.toBase58() === me)
          .reduce((s, e) => s + e.bounty, 0n) +
        eventsNamed(events, 'DataTimedOut')
          .filter((e) => e.requester.toBase58() === me)
          .reduce((s, e) => s + e.bounty, 0n);
      const cli = await runCli([
        'earnings',
        '--json',
        '--rpc',
        c.rpcUrl,
        '--keypair',
        join(c.dir, 'keys', `${r.name}.json`),
      ]);
      assert.equal(cli.code, 0, `optinfer earnings for ${r.name}: ${cli.out}`);
      const e = JSON.parse(cli.stdout) as { bounties: string };
      assert.equal(BigInt(e.bounties), fromEvents, `${r.name}: earnings bounties vs the program's events`);
      bountyOf.set(r.name, fromEvents);
      if (!r.challengerCheat && won.some(({ dispute: d }) => d.challenger.equals(r.keypair.publicKey)))
        assert.ok(fromEvents > 0n, `${r.name} won games and earned no bounty`);
    }

    // Every batch is finalized, then closed by the sequencer once its grace is over (its settlement loop's
    // reclaim): the rent each close returns is what its commit paid, and the rest is the unclaimed escrow and
    // the untouched fault reserve, both back to the sequencer too.
    const { nextBatchIndex } = await c.client.config();
    await waitFor(
      `all ${nextBatchIndex} batches closed`,
      async () => {
        for (let i = 0n; i < nextBatchIndex; i++)
          if ((await c.client.batchState(i)).state !== 'closed') return false;
        return true;
      },
      300_000,
      1_000,
    );
    // Every Dispute, Job and DataRequest account is closed by the roles too (challengers close their resolved games
    // and the upheld jobs they paid for, the sequencer the answered data requests, a timeout claim an unanswered one),
    // its rent back to whoever paid it; an invalidated job's account stays as its verdict record, holding exactly its
    // rent (a Job rent refund put in it for another challenger is paid out by refund_job_rent).
    const rented = rentedAccounts(c, await programTxs(c));
    const standing = async () => {
      const left: string[] = [];
      for (const r of rented.values()) {
        const data = await c.client.sender.getAccountData(new PublicKey(r.address));
        if (!data) continue;
        const lamports = BigInt(await c.client.sender.getBalance(new PublicKey(r.address)));
        if (r.kind === 'job' && lamports === rentExempt(data.length) && decodeJob(data).invalidated !== 0)
          continue;
        left.push(`${r.kind} ${r.address} (${lamports} lamports, paid by ${r.payer})`);
      }
      return left;
    };
    await waitFor(
      'every game, upheld job and data request closed',
      async () => (await standing()).length === 0,
      180_000,
      2_000,
    ).catch(async (e) => {
      process.stderr.write(`never closed: ${(await standing()).join('; ')}\n`);
      throw e;
    });
    const txs = await programTxs(c);
    const closedEvents = txs.flatMap((t) => t.events);
    const committed = eventsNamed(closedEvents, 'BatchCommitted');
    const closed = new Map(eventsNamed(closedEvents, 'BatchClosed').map((e) => [e.index, e]));
    const claimed = new Map<bigint, bigint>();
    for (const f of eventsNamed(closedEvents, 'FeesClaimed'))
      claimed.set(f.batchIndex, (claimed.get(f.batchIndex) ?? 0n) + f.amount);
    const faulted = new Set([
      ...eventsNamed(closedEvents, 'RecordFaultProven').map((e) => e.batchIndex),
      ...eventsNamed(closedEvents, 'EscrowShortProven').map((e) => e.batchIndex),
      ...eventsNamed(closedEvents, 'DataTimedOut').map((e) => e.batchIndex),
    ]);
    assert.equal(BigInt(committed.length), nextBatchIndex, 'a BatchCommitted event per batch');
    let rentPaid = 0n;
    let rentBack = 0n;
    for (const b of committed) {
      const x = closed.get(b.index);
      assert.ok(x, `batch ${b.index}: no BatchClosed event`);
      assert.ok(x.payer.equals(c.sequencer), `batch ${b.index}: rent back to ${x.payer.toBase58()}`);
      assert.ok(!faulted.has(b.index), `batch ${b.index}: a sequencer fault was proven on it`);
      const paid = rentExempt(BATCH_CLAIM_BITS_OFFSET + Math.ceil(b.jobCount / 8));
      const escrowLeft = b.feeTotal - (claimed.get(b.index) ?? 0n);
      const back = x.lamports - escrowLeft - b.faultReserve;
      assert.equal(back, paid, `batch ${b.index}: rent recovered vs rent paid`);
      rentPaid += paid;
      rentBack += back;
    }
    assert.equal(rentBack, rentPaid);
    // Each Dispute, Job and DataRequest: what its close returned is what its creation took, to the key that paid it.
    const acct = new Map<
      Rented['kind'],
      { n: number; paid: bigint; back: bigint; kept: number; keptRent: bigint }
    >();
    for (const r of rentedAccounts(c, txs).values()) {
      const b = rentBooks(r, txs);
      const row = acct.get(r.kind) ?? { n: 0, paid: 0n, back: 0n, kept: 0, keptRent: 0n };
      acct.set(r.kind, row);
      row.n++;
      row.paid += b.paid;
      assert.ok(b.paid > 0n, `${r.kind} ${r.address}: no creation seen`);
      if (b.back === null) {
        // Only an invalidated job stands: it keeps its rent as the verdict record (the winner's bounty repays it).
        const data = await c.client.sender.getAccountData(new PublicKey(r.address));
        const j = data && r.kind === 'job' ? decodeJob(data) : null;
        assert.ok(j && j.invalidated !== 0, `${r.kind} ${r.address} never closed`);
        assert.equal(j.payer.toBase58(), r.payer, `job ${r.address}: payer`);
        assert.equal(
          BigInt(await c.client.sender.getBalance(new PublicKey(r.address))),
          b.paid,
          `job ${r.address}: the verdict record holds more or less than its rent`,
        );
        row.kept++;
        row.keptRent += b.paid;
        continue;
      }
      assert.equal(b.to, r.payer, `${r.kind} ${r.address}: rent back to ${b.to}, paid by ${r.payer}`);
      assert.equal(b.back, b.paid, `${r.kind} ${r.address}: rent recovered vs rent paid`);
      assert.equal(
        b.received,
        b.back,
        `${r.kind} ${r.address}: ${r.payer} did not receive it (${b.closeSig})`,
      );
      row.back += b.back;
    }
    const acctLine = (['dispute', 'job', 'data request'] as const)
      .map((k) => {
        const x = acct.get(k) ?? { n: 0, paid: 0n, back: 0n, kept: 0, keptRent: 0n };
        return (
          `${x.n} ${k}s rent ${x.paid} paid and ${x.back} recovered` +
          (x.kept > 0 ? ` (${x.kept} invalidated kept as verdicts, ${x.keptRent} rent)` : '')
        );
      })
      .join(', ');
    process.stderr.write(
      `books: ${final.length} jobs, fees ${total} lamports drawn from the user and paid to executors; ` +
        `${committed.length} batches, rent ${rentPaid} paid and ${rentBack} recovered; ${acctLine}; bounties ` +
        `${[...bountyOf].map(([n, b]) => `${n} ${b}`).join(', ')} as the events say\n`,
    );
  } catch (e) {
    process.stderr.write(`cluster logs (${c.dir}):\n${c.logs()}\n`);
    throw e;
  } finally {
    await c.stop();
  }
}

test(
  '1 honest vs 1 wrong-output executor; sequencer, executors and challengers each killed -9 mid-dispute',
  { timeout: 600_000 },
  async () => {
    // Clocks of 60 s (600 slots): the five kills and restarts all fall inside the cheater's losing dispute.
    await scenario({ evil: [{ mode: 'wrong-output' }], clockSlots: 600 }, 8, async (c) => {
      for (const name of ['challenger-0', 'sequencer', 'honest-0', 'evil-0-wrong-output', 'challenger-1']) {
        // The wrong-output executor cannot defend its output, so its disputes run until its clock is out
        // (clockSlots): every crash below lands while a dispute is being played.
        const open = await c.client.listDisputes({ open: true });
        assert.ok(open.length > 0, `no dispute open when ${name} was killed`);
        await c.crash(name);
      }
    });
  },
);

test(
  '1 honest vs 2: wrong at layer 2 with an honest trace before it; a different model',
  { timeout: 600_000 },
  async () => {
    await scenario({ evil: [{ mode: 'wrong-layer', layer: 2 }, { mode: 'other-model' }] }, 9);
  },
);

test(
  '1 honest vs 5: wrong output, wrong layer, other model, equivocation, silence in the dispute',
  { timeout: 900_000 },
  async () => {
    await scenario(
      {
        evil: [
          { mode: 'wrong-output' },
          { mode: 'wrong-layer', layer: 1 },
          { mode: 'other-model' },
          { mode: 'equivocate', layer: 0 },
          { mode: 'silent' },
        ],
        clockSlots: 200,
      },
      12,
    );
  },
);

test(
  'false alarm: a challenger contests honest jobs and loses each game; the upheld Job accounts it paid for come back to it',
  { timeout: 600_000 },
  async () => {
    await scenario(
      {
        evil: [{ mode: 'wrong-layer', layer: 2 }],
        challengers: 2,
        challengerCheats: ['false-alarm', 'none'],
        clockSlots: 200,
      },
      4,
    );
  },
);

test(
  "squatter: the cheating executor's accomplice opens a game on its wrong job first and abandons it; the honest challenger, started only then, still wins",
  { timeout: 600_000 },
  async () => {
    await scenario(
      {
        evil: [{ mode: 'wrong-layer', layer: 2 }],
        challengers: 2,
        challengerCheats: ['squat', 'none'],
        // The honest challenger starts only once the accomplice's game is open: it cannot open first.
        holdBack: ['challenger-1'],
        // 90 s of 100 ms slots: room to start the late challenger (onnxruntime, bond) inside the window.
        windowSlots: 900,
        clockSlots: 200,
      },
      4,
      async (c) => {
        const squatter = c.challengers.find((r) => r.challengerCheat === 'squat')!;
        const honest = c.challengers.find((r) => !r.challengerCheat)!;
        assert.equal(honest.name, 'challenger-1');
        const by = (all: Awaited<ReturnType<typeof c.client.listDisputes>>, r: typeof squatter) =>
          all.map((x) => x.dispute).filter((d) => d.challenger.equals(r.keypair.publicKey));
        // Before the honest challenger runs, every open game is the accomplice's (against the old
        // one-game-per-job program, that alone shut out every later challenger).
        const first = await c.client.listDisputes();
        assert.ok(by(first, squatter).length > 0, 'the accomplice opened first');
        assert.equal(by(first, honest).length, 0);
        await c.launch(honest.name);
        // Its own game on a job the accomplice already holds: the squatter's does not shut it out.
        await waitFor(
          'a game of the honest challenger on a job the accomplice opened first',
          async () => {
            const all = await c.client.listDisputes();
            return by(all, squatter).some((s) =>
              by(all, honest).some((h) => h.batch.equals(s.batch) && h.jobIndex === s.jobIndex),
            );
          },
          180_000,
          250,
        );
      },
    );
  },
);
