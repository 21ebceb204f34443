// Review 25: a hostile sequencer (colluding with executors), and RPC nodes that lag or disagree, against the honest
// challenger's discovery of committed batches, its one audit queue and its pending pass. Each test states a property
// the protocol promises (docs/PROTOCOL.md "A sampled job is audited or demanded, never skipped for what the sequencer
// does not serve", the "Silent batch" and "Audit stalls" rows); a failing test is an attack that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Keypair } from '@solana/web3.js';
import { toHex } from '../state/hash.ts';
import type { ModelId } from '../state/types.ts';
import { toyBatch } from '../dispute/testkit.ts';
import { answerOf, faithful, makeBatch, sha, sleep, until, withholding, world } from './audit-world.ts';
import { HttpSource, type JobSource } from './source.ts';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function stop(server: Server): void {
  server.close();
  server.closeAllConnections();
}

// ---- Threat 1: how the challenger discovers committed batches ---------------------------------------------------

test("rev25 absent clock never reset: the lie's batch reads absent once at its commit (the RPC node behind, review 24's lagging read), is taken up, and the sequencer withholds its data; one more stale read of the account, any time past the grace, drops the batch for good (absentSince is kept from the first miss although the batch was read present since); the lie must still be demanded on chain", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate());
  w.chain.commit(b0);
  w.chain.lag.set(0, 1); // the scan's first read, right after the commit, misses the fresh account
  try {
    // Grace scaled down from ABSENT_GRACE_MS (30 s) to 100 ms; the window is 100 slots.
    const c = await w.start(withholding(w.model), { absentGraceMs: 100 });
    const work = (c as unknown as { batchWork: { entries(): Promise<unknown[]> } }).batchWork;
    assert.ok(await until(async () => (await work.entries()).length === 1, 1000), 'the batch was taken up');
    await sleep(300); // read present every pass since, for 3 graces
    w.chain.lag.set(0, 1); // one stale read (a node behind or disagreeing), long after the commit
    await sleep(100);
    w.chain.slot = 1060n; // past half the window: the withheld sample is to be demanded
    const caught = await until(() => w.caught(0), 1500);
    assert.ok(
      caught,
      `one stale read of a batch read present for ${300} ms (3 graces) dropped it at once: batch-work ${(await work.entries()).length} entries, nothing demanded (${JSON.stringify(w.chain.requested)}), the lie finalizes`,
    );
  } finally {
    await w.close();
  }
});

test("rev25 first run from a lagging listing: a challenger's first run takes its starting point from getProgramAccounts (listBatches); a node that has not indexed the lie's fresh batch yet (the config, from another node, counts it) returns no open batch, so the scan starts at next_batch_index and the lie's batch is never read; it must be audited", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate());
  w.chain.commit(b0);
  w.chain.listLag = 1; // only the first getProgramAccounts read misses it
  try {
    await w.start(faithful(w.model, [b0]));
    const caught = await until(() => w.caught(0), 1500);
    assert.ok(
      caught,
      'the lie committed just before the first run was skipped for good: the scan starts past it',
    );
  } finally {
    await w.close();
  }
});

test("rev25 first run behind 130,000 open batches: Math.min(next, ...open) spreads every open batch index as an argument; past about 125,000 it throws 'Maximum call stack size exceeded' every pass, so a challenger's first run never scans and audits nothing; the open lie must be audited", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate());
  w.chain.commit(b0, { window: 10_000n });
  const OPEN = 130_000;
  // The program's Batch accounts as getProgramAccounts returns them: the lie's and 129,999 open fillers (one job
  // each, their rents come back at close); only index and finalized are read by the first run.
  const address = Keypair.generate().publicKey;
  const filler = toyBatch({ jobCount: 1, challengeWindow: 10_000n });
  w.chain.listed = Array.from({ length: OPEN }, (_, i) => ({
    address,
    batch: { ...filler, index: BigInt(i) },
  }));
  w.chain.next = BigInt(OPEN);
  try {
    await w.start(faithful(w.model, [b0]), { retryMs: 200 });
    const caught = await until(() => w.caught(0), 2000);
    assert.ok(
      caught,
      `the first run never got past its starting point with ${OPEN} open batches: nothing audited`,
    );
  } finally {
    await w.close();
  }
});

// ---- Threat 2: stalls of the one audit queue and of the pending pass ---------------------------------------------

test("rev25 serialized deadlines (listings): the sequencer keeps a few decoy batches (one honest job each) open whose listing requests it holds; HttpSource gives each up after its deadline (15 s), but the one audit queue waits out every deadline in turn each pass, so 4 decoys hold a pass for a 150-slot (60 s) window; the lie's batch, committed after them and withheld, must be demanded inside its window", async () => {
  const w = await world();
  const DECOYS = 12;
  const exec = Keypair.generate();
  // Time scaled: 8 ms a slot, deadline 100 ms; the lie's 100-slot window lasts 800 ms, the decoys hold 1.2 s a pass.
  const t0 = Date.now();
  w.chain.slotFn = () => 1000n + BigInt(Math.floor((Date.now() - t0) / 8));
  for (let i = 0; i < DECOYS; i++) {
    // Long windows stand for decoys committed afresh every few seconds (each is held until half its window).
    const d = await makeBatch(w.model, i, exec, { honest: true, n: 1 });
    w.chain.commit(d, { window: 1_000_000n });
  }
  const lie = await makeBatch(w.model, DECOYS, exec);
  w.chain.commit(lie, { commitSlot: 1000n, window: 100n });
  const server = createServer((req, res) => {
    const m = /^\/v1\/batches\/(\d+)/.exec(req.url ?? '');
    if (m && Number(m[1]) < DECOYS) return; // held: no headers, no body
    res.writeHead(404).end();
  });
  const url = await listen(server);
  try {
    await w.start(new HttpSource(url, { json: 100, bytes: 100 }));
    await until(() => w.chain.now() >= 1000n + 100n + 20n, 5000);
    await sleep(50);
    assert.ok(
      await w.caught(DECOYS),
      `the lie's batch was never visited inside its window: ${DECOYS} held listings x the deadline each pass (${JSON.stringify(w.chain.requested)} demanded); the lie finalizes`,
    );
  } finally {
    stop(server);
    await w.close();
  }
});

test("rev25 serialized deadlines (model bytes in the pending pass): the sequencer withholds the inputs of jobs on a model of its own, answers their demands on chain, then trickles that model's bytes (HttpSource: 120 s each); each pending pass waits out the deadline for every such answer before it reaches the next pass's findings, so a lie found in its window gets its dispute attempted only after the window", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const M2 = toHex(sha('a model only the sequencer serves')) as ModelId;
  const WAITS = 6;
  const t0 = Date.now();
  w.chain.slotFn = () => 1000n + BigInt(Math.floor((Date.now() - t0) / 8));
  const decoy = await makeBatch(w.model, 0, exec, { n: WAITS, modelId: M2 });
  w.chain.commit(decoy, { window: 1_000_000n });
  w.chain.answerer = (b, j) => (b === 0 ? answerOf(decoy, j) : undefined);
  const lie = await makeBatch(w.model, 1, exec);
  let modelAsks = 0;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/v1/models/')) {
      modelAsks++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('x');
      const t = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(t));
      return;
    }
    res.writeHead(404).end();
  });
  const url = await listen(server);
  const http = new HttpSource(url, { json: 300, bytes: 300 });
  const base = faithful(w.model, [decoy, lie]);
  const source: JobSource = {
    ...base,
    inputs: async (id) => (decoy.records.some((r) => r.jobId === id) ? undefined : base.inputs(id)),
    modelBytes: (id) => (id === M2 ? http.modelBytes(id) : base.modelBytes(id)),
  };
  try {
    await w.start(source);
    assert.ok(
      await until(() => w.chain.requested.length === WAITS, 2000),
      'the decoy jobs were demanded and answered',
    );
    // The sequencer sees a pending pass begin (its first model request), and commits the lie then.
    const seen = modelAsks;
    await until(() => modelAsks > seen && modelAsks % WAITS === 1, 5000);
    const at = w.chain.now();
    w.chain.commit(lie, { commitSlot: at, window: 100n });
    assert.ok(await until(() => w.caught(1), 1000), 'the lie was found at once from what was served');
    await until(() => w.chain.now() >= at + 120n, 3000);
    assert.ok(
      w.chain.opens > 0,
      `the lie was found inside its window but its dispute was never attempted in it: the pending pass was waiting out ${WAITS} model-byte deadlines (${modelAsks} model requests)`,
    );
  } finally {
    stop(server);
    await w.close();
  }
});

test('rev25 huge listing: HttpSource reads a body of any size within its deadline; a listing (at most 1,024 ids, about 70 kB) streamed at line rate is buffered whole, 64 MB here in well under the 15 s deadline (GBs over a LAN, and model bytes get 120 s: the challenger is killed for memory and fetches the same again after its restart); it must stop reading past what a listing can hold', async () => {
  const CAP = 64 << 20;
  let sent = 0;
  const chunk = Buffer.alloc(1 << 20, 0x20);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const pump = () => {
      while (sent < CAP) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  const url = await listen(server);
  try {
    await new HttpSource(url, { json: 15_000, bytes: 15_000 }).batch(0).catch((e: Error) => e);
    assert.ok(
      sent <= 8 << 20,
      `the challenger read ${(sent / (1 << 20)).toFixed(0)} MB of one batch listing before giving up`,
    );
  } finally {
    stop(server);
  }
});
