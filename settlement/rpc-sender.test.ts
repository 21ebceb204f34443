// RpcSender over a web3.js-shaped connection backed by LiteSVM (preflight by simulation, confirmation,
// getTransaction), with injected faults: transport errors, blockhash expiry, a transaction that lands
// after its expiry was reported. Also the onLogs event subscription and error mapping from preflight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Keypair,
  SendTransactionError,
  TransactionExpiredBlockheightExceededError,
  type Connection,
  type Logs,
  type PublicKey,
} from '@solana/web3.js';
import { FailedTransactionMetadata } from 'litesvm';
import { getTransactionDecoder } from '@solana/kit';
import { utils } from '@coral-xyz/anchor';
import { isOptinferError } from '../state/errors.ts';
import { LiteSvmSender, RpcSender, liteSvmErrorJson } from './sender.ts';
import { SettlementClient } from './client.ts';
import { subscribeEvents, eventsNamed, fetchEventsSince, type LogEvents } from './events.ts';
import { PARAMS } from './testkit.ts';
import { RENT_PAYER_FIELD, fieldOffset } from './accounts.ts';

type Fault = 'network' | 'expire' | 'late' | 'laggy' | 'throttle' | 'nopreflight';

/** Just the Connection methods RpcSender and subscribeEvents use, over LiteSVM. */
class SvmConnection {
  faults: Fault[] = [];
  sends = 0;
  executed = 0;
  private landed = new Map<string, { slot: number; logs: string[]; cu: number; err: unknown }>();
  private listeners = new Map<number, (l: Logs, ctx: { slot: number }) => void>();
  private nextId = 1;
  private order: string[] = [];
  private hidden = new Map<string, number>();
  private decoder = getTransactionDecoder();
  constructor(readonly local: LiteSvmSender) {}
  private get svm() {
    return this.local.svm;
  }

  /** Calls for which the blockhash stays the same (a slot has not passed yet). */
  sameBlockhash = 0;
  blockhashCalls = 0;
  async getLatestBlockhash() {
    this.blockhashCalls++;
    if (this.sameBlockhash > 0) this.sameBlockhash--;
    else this.svm.expireBlockhash();
    return { blockhash: this.svm.latestBlockhash() as string, lastValidBlockHeight: 1000 };
  }
  async sendRawTransaction(wire: Buffer, opts: { skipPreflight?: boolean }) {
    this.sends++;
    const fault = this.faults.shift();
    if (fault === 'network') throw new TypeError('fetch failed');
    if (fault === 'throttle') throw new Error('429 Too Many Requests');
    const tx = this.decoder.decode(wire) as Parameters<LiteSvmSender['svm']['sendTransaction']>[0];
    const signature = utils.bytes.bs58.encode(wire.subarray(1, 65));
    if (!opts.skipPreflight && fault !== 'nopreflight') {
      const sim = this.svm.simulateTransaction(tx);
      if (sim instanceof FailedTransactionMetadata) {
        const err = liteSvmErrorJson(sim.err()) as { InstructionError?: [number, { Custom?: number }] };
        const c = err.InstructionError?.[1]?.Custom;
        throw new SendTransactionError({
          action: 'simulate',
          signature: '',
          transactionMessage: `Transaction simulation failed: Error processing Instruction ${err.InstructionError?.[0]}: ${
            c !== undefined ? `custom program error: 0x${c.toString(16)}` : JSON.stringify(err)
          }`,
          logs: sim.meta().logs(),
        });
      }
    }
    if (fault === 'expire') return signature; // dropped by the cluster
    const res = this.svm.sendTransaction(tx);
    this.executed++;
    const meta = res instanceof FailedTransactionMetadata ? res.meta() : res;
    const rec = {
      slot: Number(this.svm.getClock().slot),
      logs: meta.logs(),
      cu: Number(meta.computeUnitsConsumed()),
      err: res instanceof FailedTransactionMetadata ? liteSvmErrorJson(res.err()) : null,
    };
    this.landed.set(signature, rec);
    for (const l of this.listeners.values())
      l({ signature, err: rec.err as never, logs: rec.logs }, { slot: rec.slot });
    this.order.push(signature);
    if (fault === 'late' || fault === 'laggy') this.landed.set(`late:${signature}`, rec);
    // 'laggy': the status lookups right after the expiry do not see it yet.
    if (fault === 'laggy') this.hidden.set(signature, 1);
    return signature;
  }
  async confirmTransaction(s: { signature: string }) {
    const rec = this.landed.get(s.signature);
    if (!rec || this.landed.has(`late:${s.signature}`)) {
      this.landed.delete(`late:${s.signature}`);
      throw new TransactionExpiredBlockheightExceededError(s.signature);
    }
    return { context: { slot: rec.slot }, value: { err: rec.err } };
  }
  async getSignatureStatus(sig: string) {
    const hide = this.hidden.get(sig) ?? 0;
    if (hide > 0) {
      this.hidden.set(sig, hide - 1);
      return { context: { slot: 0 }, value: null };
    }
    const rec = this.landed.get(sig);
    return { context: { slot: 0 }, value: rec ? { confirmationStatus: 'confirmed', err: rec.err } : null };
  }
  async getTransaction(sig: string) {
    const rec = this.landed.get(sig);
    if (!rec) return null;
    return { slot: rec.slot, meta: { logMessages: rec.logs, computeUnitsConsumed: rec.cu, err: rec.err } };
  }
  async getAccountInfo(pk: PublicKey) {
    const d = this.local.accountData(pk);
    return d ? { data: d } : null;
  }
  async getBalance(pk: PublicKey) {
    return Number(this.local.balance(pk));
  }
  async getSlot() {
    return Number(this.svm.getClock().slot);
  }
  async getSignaturesForAddress(_: PublicKey, o: { until?: string; before?: string; limit?: number }) {
    // Newest first, stopping at `until`, starting after `before`.
    const newest = this.order.slice().reverse();
    const from = o.before ? newest.indexOf(o.before) + 1 : 0;
    const out = [];
    for (const sig of newest.slice(from)) {
      if (sig === o.until || out.length >= (o.limit ?? 1000)) break;
      out.push({ signature: sig, slot: this.landed.get(sig)!.slot, err: this.landed.get(sig)!.err });
    }
    return out;
  }
  /** The options of each getProgramAccounts call, as RpcSender sent them. */
  listings: { filters: { memcmp: { offset: number; bytes: string } }[]; dataSlice?: unknown }[] = [];
  async getProgramAccounts(
    _: PublicKey,
    o: {
      filters: { memcmp: { offset: number; bytes: string } }[];
      dataSlice?: { offset: number; length: number };
    },
  ) {
    this.listings.push(o);
    // The cluster applies every memcmp filter (base58 bytes at an offset) and the slice.
    const [disc, ...rest] = o.filters.map((f) => ({
      offset: f.memcmp.offset,
      bytes: utils.bytes.bs58.decode(f.memcmp.bytes),
    }));
    assert.ok(!disc || disc.offset === 0, 'the discriminator filter comes first');
    return this.local
      .programAccounts(disc?.bytes, { memcmp: rest, dataSlice: o.dataSlice })
      .map((a) => ({ pubkey: a.address, account: { lamports: Number(a.lamports), data: a.data } }));
  }
  onLogs(_: PublicKey, cb: (l: Logs, ctx: { slot: number }) => void) {
    const id = this.nextId++;
    this.listeners.set(id, cb);
    return id;
  }
  async removeOnLogsListener(id: number) {
    this.listeners.delete(id);
  }
}

function world() {
  const local = new LiteSvmSender();
  const conn = new SvmConnection(local);
  const sender = new RpcSender(conn as unknown as Connection, { retryDelayMs: 1 });
  const client = new SettlementClient(sender);
  const authority = Keypair.generate();
  // The authority is the sequencer too: its bond and each batch's fault reserve (one slash) come from here.
  local.airdrop(authority.publicKey, 40_000_000_000n);
  const params = {
    sequencer: authority.publicKey,
    treasury: Keypair.generate().publicKey,
    ...PARAMS,
  };
  return { local, conn, sender, client, authority, params };
}

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isOptinferError(e), `OptinferError expected, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('RpcSender: sent with preflight, confirmed, with compute units and decoded events', async () => {
  const { conn, client, authority, params } = world();
  const r = await client.initialize(authority, params);
  assert.equal(conn.sends, 1);
  assert.ok(r.computeUnits > 1000);
  assert.ok(r.size > 0 && r.size <= 1232);
  assert.deepEqual(
    r.events.map((e) => e.name),
    ['ConfigUpdated'],
  );
  const c = await client.commitBatch(authority, { index: 0, root: Buffer.alloc(32, 1), jobCount: 2 });
  assert.equal(eventsNamed(c.events, 'BatchCommitted')[0].jobCount, 2);
  assert.equal((await client.fetchBatch(0))!.jobCount, 2);
});

test('RpcSender: program errors in preflight map to PROGRAM_<NAME> and are not retried', async () => {
  const { conn, client, authority, params } = world();
  await client.initialize(authority, params);
  const sends = conn.sends;
  await rejects(
    client.commitBatch(authority, { index: 4, root: Buffer.alloc(32), jobCount: 1 }),
    'PROGRAM_BAD_BATCH_INDEX',
  );
  const stranger = Keypair.generate();
  (conn as SvmConnection).local.airdrop(stranger.publicKey, 1_000_000_000n);
  await rejects(
    client.commitBatch(stranger, { index: 0, root: Buffer.alloc(32), jobCount: 1 }),
    'PROGRAM_NOT_SEQUENCER',
  );
  assert.equal(conn.sends, sends + 2, 'one send each');
  assert.equal(conn.executed, 1, 'nothing executed after initialize');
});

test('RpcSender: a failure that passes preflight (state changed in between) is mapped from the landed transaction', async () => {
  const { conn, client, authority, params } = world();
  await client.initialize(authority, params);
  conn.faults = ['nopreflight'];
  await assert.rejects(
    client.commitBatch(authority, { index: 3, root: Buffer.alloc(32), jobCount: 1 }),
    (e: unknown) => {
      assert.ok(isOptinferError(e));
      assert.equal(e.code, 'PROGRAM_BAD_BATCH_INDEX');
      const d = e.details as { logs: string[]; instruction: number; customCode: number };
      assert.equal(d.customCode, 6009);
      // Instruction 0 tops the sequencer's bond up to one fault slash; commit_batch is instruction 1.
      assert.equal(d.instruction, 1);
      assert.ok(d.logs.some((l) => l.includes('custom program error: 0x1779')));
      return true;
    },
  );
  assert.equal(conn.executed, 2, 'executed once, not retried');
});

test('RpcSender: transport errors and blockhash expiry are retried with a fresh blockhash', async () => {
  const { conn, client, authority, params } = world();
  conn.faults = ['network', 'throttle', 'expire'];
  const r = await client.initialize(authority, params);
  assert.equal(conn.sends, 4);
  assert.equal(conn.executed, 1);
  assert.ok(r.signature);
  assert.ok((await client.fetchConfig())!.sequencer.equals(authority.publicKey));
});

test('RpcSender: a transaction that lands after its expiry was reported is not sent again', async () => {
  const { conn, client, authority, params } = world();
  await client.initialize(authority, params);
  conn.faults = ['late'];
  const r = await client.commitBatch(authority, { index: 0, root: Buffer.alloc(32, 1), jobCount: 1 });
  assert.equal(conn.executed, 2, 'commit_batch executed once');
  assert.equal(conn.sends, 2);
  assert.ok(r.computeUnits > 0);
  assert.equal(eventsNamed(r.events, 'BatchCommitted').length, 1);
});

test('RpcSender: a retry refused because the earlier attempt landed late returns the earlier one', async () => {
  const { conn, client, authority, params } = world();
  await client.initialize(authority, params);
  conn.faults = ['laggy'];
  const r = await client.commitBatch(authority, { index: 0, root: Buffer.alloc(32, 1), jobCount: 1 });
  assert.equal(conn.sends, 3, 'initialize, the laggy commit, the refused retry');
  assert.equal(conn.executed, 2);
  assert.equal(eventsNamed(r.events, 'BatchCommitted').length, 1);
});

test('fetchEventsSince: the events a follower missed, oldest first, failed transactions skipped', async () => {
  const { conn, client, authority, params } = world();
  const first = await client.initialize(authority, params);
  for (let i = 0; i < 3; i++) {
    await client.commitBatch(authority, { index: i, root: Buffer.alloc(32, i), jobCount: i + 1 });
  }
  conn.faults = ['nopreflight'];
  await client
    .commitBatch(authority, { index: 9, root: Buffer.alloc(32), jobCount: 1 })
    .catch(() => undefined);
  const missed = await fetchEventsSince(conn as unknown as Connection, { until: first.signature });
  assert.deepEqual(
    missed.map((m) => eventsNamed(m.events, 'BatchCommitted')[0].jobCount),
    [1, 2, 3],
  );
  // At most `limit` signatures are read, the failed one included.
  assert.equal((await fetchEventsSince(conn as unknown as Connection, { limit: 3 })).length, 2);
  // Listings over getProgramAccounts with a discriminator filter.
  assert.deepEqual(
    (await client.listBatches()).map((b) => b.batch.index),
    [0n, 1n, 2n],
  );
});

test('RpcSender: listings narrowed by memcmp on the payer field and sliced to it (earnings: rent outstanding)', async () => {
  const { local, conn, client, authority, params } = world();
  await client.initialize(authority, params);
  await client.commitBatch(authority, { index: 0, root: Buffer.alloc(32, 1), jobCount: 2 });
  await client.commitBatch(authority, { index: 1, root: Buffer.alloc(32, 2), jobCount: 2 });
  conn.listings = [];
  const mine = await client.listPaidBy('Batch', authority.publicKey);
  assert.deepEqual(
    mine.map((a) => a.lamports),
    [0, 1].map((i) => local.balance(client.pdas.batch(i))),
  );
  const offset = fieldOffset('Batch', 'payer');
  assert.equal(offset, 8 + 32, 'after the discriminator and the root');
  assert.deepEqual(conn.listings[0].filters[1], {
    memcmp: { offset, bytes: authority.publicKey.toBase58() },
  });
  assert.equal(conn.listings[0].dataSlice, undefined);
  assert.deepEqual(await client.listPaidBy('Batch', Keypair.generate().publicKey), []);
  const sliced = await client.listPaidBy('Batch', undefined, { whole: false });
  assert.deepEqual(conn.listings[2].dataSlice, { offset, length: 32 });
  assert.equal(sliced.length, 2);
  for (const a of sliced) assert.ok(a.data.equals(authority.publicKey.toBuffer()));
  // Every payer field the views read sits at a fixed offset the IDL gives.
  assert.deepEqual(
    (['Batch', 'Job', 'Dispute', 'DataRequest', 'ProofBuffer'] as const).map((k) =>
      fieldOffset(k, RENT_PAYER_FIELD[k]),
    ),
    [40, 40, 104, 40, 40],
  );
});

test('RpcSender: the same transaction twice in one slot waits for a new blockhash instead of being dropped', async () => {
  const { conn, client, authority, params } = world();
  await client.initialize(authority, params);
  await client.bond(authority, 1_000_000_000n);
  conn.sameBlockhash = 3;
  const calls = conn.blockhashCalls;
  await client.bond(authority, 1_000_000_000n);
  assert.ok(conn.blockhashCalls - calls >= 3, 'polled until the blockhash changed');
  assert.equal((await client.fetchBond(authority.publicKey))!.bonded, 2_000_000_000n, 'both bonds happened');
});

test('RpcSender: gives up after maxAttempts with TRANSACTION_RETRIES_EXHAUSTED', async () => {
  const { conn, client, authority, params } = world();
  conn.faults = ['network', 'network', 'network', 'network'];
  await rejects(client.initialize(authority, params), 'TRANSACTION_RETRIES_EXHAUSTED');
  assert.equal(conn.executed, 0);
});

test('subscribeEvents: events of successful transactions, in order; failed ones skipped; unsubscribe', async () => {
  const { conn, client, authority, params } = world();
  const got: LogEvents[] = [];
  const unsubscribe = subscribeEvents(conn as unknown as Connection, (e) => got.push(e));
  await client.initialize(authority, params);
  await client.commitBatch(authority, { index: 0, root: Buffer.alloc(32, 1), jobCount: 3 });
  // Committing an existing batch again fails creating its account (before the index check).
  await rejects(
    client.commitBatch(authority, { index: 0, root: Buffer.alloc(32, 1), jobCount: 3 }),
    'PROGRAM_ACCOUNT_ALREADY_IN_USE',
  );
  await unsubscribe();
  await client.commitBatch(authority, { index: 1, root: Buffer.alloc(32, 1), jobCount: 3 });
  assert.deepEqual(
    got.map((g) => g.events.map((e) => e.name)),
    // The first commit bonds the sequencer's one fault slash in the same transaction (commitBatch's top-up).
    [['ConfigUpdated'], ['Bonded', 'BatchCommitted']],
  );
  assert.ok(got.every((g) => g.signature.length > 40 && g.slot >= 1));
});
