// Review 24: a hostile sequencer (colluding with executors) against the honest challenger's audit pipeline: how it
// learns of batches, draws its sample, audits, demands data on chain, and what it pays for it. Each test states the
// property the protocol promises (docs/PROTOCOL.md "Data availability", "A sampled job is audited or demanded,
// never skipped for what the sequencer does not serve"); a failing test is an attack that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import * as messages from '../bus/messages.ts';
import { toHex } from '../state/hash.ts';
import { isSampled } from '../state/sample.ts';
import { type Tensor } from '../state/tensor.ts';
import type { ExecutorId, Hash32, JobId } from '../state/types.ts';
import {
  answerOf,
  faithful,
  makeBatch,
  msg,
  sha,
  sleep,
  until,
  world,
  postedUnder,
  lieBatch,
} from './audit-world.ts';
import { HttpSource, type JobSource } from './source.ts';

/** A challenger secret (written where the challenger loads it) for which `pred` holds. */
function pickSecret(dir: string, pred: (s: Uint8Array) => boolean): Uint8Array {
  for (let i = 0; i < 10_000; i++) {
    const s = new Uint8Array(sha(`secret ${i}`));
    if (pred(s)) {
      writeFileSync(join(dir, 'challenger-c1.secret'), toHex(s) + '\n');
      return s;
    }
  }
  throw new Error('no secret found');
}

// ---- Threat 1/3: stalls of the one audit queue --------------------------------------------------------------------

test("rev24 hung listing: the sequencer's HTTP API answers the batch listing with headers and then trickles a byte every 100 ms, forever (HttpSource has no timeout); the challenger must still demand the batch's sample on chain from half the window", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate());
  w.chain.commit(b0);
  let asked = 0;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/v1/batches/')) {
      asked++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(' ');
      const t = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(t));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    // Deadlines scaled down with the test's time (the default is HTTP_TIMEOUT_MS, 15 s).
    await w.start(new HttpSource(url, { json: 300, bytes: 300 }));
    await until(() => asked > 0, 2000);
    assert.ok(asked > 0, 'the challenger asked for the listing');
    w.chain.slot = 1060n; // past half the window: what is not served must be demanded on chain
    const caught = await until(() => w.caught(0), 2000);
    assert.ok(
      caught,
      `one listing response that never ends stalls the whole audit queue: nothing demanded on chain past half the window (requests: ${JSON.stringify(w.chain.requested)}), so the lie finalizes`,
    );
  } finally {
    server.close();
    server.closeAllConnections();
    await w.close();
  }
});

test("rev24 stalled trace: a colluding executor holds the challenger's TRACE request (locate waits up to 120 s, then 120 s more for CHUNKS, before the finding is even recorded); the lie's dispute must be attempted at once, and another batch's lie found meanwhile", async () => {
  const w = await world();
  const silent = Keypair.generate();
  const b0 = await makeBatch(w.model, 0, silent);
  const b1 = await makeBatch(w.model, 1, Keypair.generate());
  w.chain.commit(b0);
  w.chain.commit(b1);
  const held: ((e: Error) => void)[] = [];
  await messages.reply(
    w.bus,
    messages.TRACE,
    silent.publicKey.toBase58() as ExecutorId,
    () => new Promise<never>((_, reject) => held.push(reject)),
  );
  try {
    const c = await w.start(faithful(w.model, [b0, b1]));
    void c.onBatch(msg(b0));
    void c.onBatch(msg(b1));
    // Settling on chain, the challenger no longer asks the executor for its trace (the game locates the
    // divergence), so the held request cannot hold the finding.
    const both = await until(async () => (await w.caught(0)) && (await w.caught(1)), 2500);
    const found = (await c.findings.all()).map((f) => f.batchIndex);
    assert.ok(
      both && w.chain.opens > 0,
      `with the executor silent on the bus, no finding is recorded and no dispute attempted for minutes (findings in batches ${JSON.stringify(found)}, ${w.chain.opens} open attempts): 240 s exceed the 150-slot (60 s) window of chain init, and every other batch waits behind it`,
    );
  } finally {
    for (const r of held) r(new Error('released by the test'));
    await w.close();
  }
});

test("rev24 announcement flood: the sequencer announces 600 batches at indices never committed (free bus messages, each kept 10 minutes and read every pass), then commits the lie's batch just after a pass began (it sees passes begin: each asks for a withheld batch's listing first); the next pass comes after the window, so the lie, withheld, must still be demanded on chain in its window", async () => {
  const w = await world();
  // A batch the sequencer withholds for a long window: every pass asks for its listing first (its index sorts first).
  const canary = await makeBatch(w.model, 0, Keypair.generate(), { honest: true });
  const lie = await makeBatch(w.model, 1, Keypair.generate());
  w.chain.commit(canary, { window: 1_000_000n });
  // Time scaled 50x: 8 ms a slot (400 ms), 2 ms an RPC round trip (100 ms): a 100-slot window lasts 800 ms.
  const t0 = Date.now();
  w.chain.latencyMs = 2;
  w.chain.slotFn = () => 1000n + BigInt(Math.floor((Date.now() - t0) / 8));
  let canaryAsked = 0;
  const source: JobSource = {
    // Nothing is served: the lie must be demanded from half its window.
    batch: async (i) => {
      if (i === 0) canaryAsked++;
      return undefined;
    },
    proof: async () => undefined,
    inputs: async () => undefined,
    modelBytes: async () => w.model.bytes,
  };
  const FAKES = 600;
  try {
    await w.start(source);
    for (let k = 0; k < FAKES; k++)
      await messages.send(w.bus, messages.BATCH_COMMITTED, undefined, {
        index: 1_000_000 + k,
        root: toHex(sha(`fake ${k}`)) as Hash32,
        jobCount: 2,
        windowEndsAt: Date.now() + 600_000,
      });
    // Announcements are hints: each starts a pass, none is taken up as work (no read of an index never committed).
    await sleep(200);
    assert.equal(w.chain.fetchedAbove(1_000_000), 0, 'a fake announcement was taken up');
    const seen = canaryAsked;
    assert.ok(await until(() => canaryAsked > seen, 20_000), 'a pass began');
    const committedAt = w.chain.now();
    w.chain.commit(lie, { commitSlot: committedAt });
    await until(() => w.chain.now() >= committedAt + 110n, 5000);
    await sleep(50);
    assert.ok(
      await w.caught(1),
      `the lie's batch, committed at slot ${committedAt} with a 100-slot window, was never demanded (${JSON.stringify(w.chain.requested)}): each pass reads ${FAKES} never-committed announcements, ${w.chain.reads} RPC reads so far`,
    );
  } finally {
    await w.close();
  }
});

test('rev24 unexpirable announcements: batches announced at indices no batch can have (0.5, 1.5, ...) must be dropped after the grace like any never-committed announcement, not kept in LevelDB and read every pass forever', async () => {
  const w = await world();
  try {
    const c = await w.start(faithful(w.model, []));
    for (let k = 0; k < 50; k++)
      await messages.send(w.bus, messages.BATCH_COMMITTED, undefined, {
        index: k + 0.5,
        root: toHex(sha(`frac ${k}`)) as Hash32,
        jobCount: 2,
        windowEndsAt: Date.now() + 600_000,
      });
    await sleep(800); // 40 passes
    const work = (c as unknown as { batchWork: { entries(): Promise<unknown[]> } }).batchWork;
    const left = (await work.entries()).length;
    const before = w.chain.reads;
    await sleep(200);
    const perPass = (w.chain.reads - before) / 10;
    assert.equal(
      left,
      0,
      `${left} announcements of impossible indices stay in batch-work for good (about ${perPass.toFixed(0)} RPC reads a pass): the sequencer grows the challenger's storage and per-pass work without bound, once`,
    );
  } finally {
    await w.close();
  }
});

// ---- Threat 1/2: sequencer content that makes an audit fail for good ------------------------------------------------

test("rev24 malformed listing: the sequencer serves the lie's batch listing with the committed root and job count but job ids that are not hex; the draw throws every pass, so the batch is never drawn over positions; the lie must still be demanded on chain", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate());
  w.chain.commit(b0);
  const source: JobSource = {
    ...faithful(w.model, [b0]),
    batch: async () => ({ ...b0.listing, jobIds: ['zz', 'yy'] as JobId[] }),
    proof: async () => undefined,
    inputs: async () => undefined,
  };
  try {
    await w.start(source);
    await sleep(200);
    w.chain.slot = 1060n;
    const caught = await until(() => w.caught(0), 1500);
    assert.ok(caught, `the lie's position was never demanded: ${JSON.stringify(w.chain.requested)}`);
  } finally {
    await w.close();
  }
});

test("rev24 malformed proof: the sequencer serves the lie's inclusion proof once with the committed root and a record that is not hex (verifyInclusion throws INVALID_HASH, a 'bad-input' error); the audit must not be recorded as skipped for good: the lie must be found once a valid proof is served, or demanded", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate());
  w.chain.commit(b0);
  const base = faithful(w.model, [b0]);
  let broken = 0;
  const source: JobSource = {
    ...base,
    proof: async (id) => {
      const p = await base.proof(id);
      if (id === b0.records[1].jobId && broken++ === 0) return { ...p!, record: 'zz' };
      return p;
    },
  };
  try {
    const c = await w.start(source);
    await c.onBatch(msg(b0));
    assert.ok(broken > 0, "the lie's proof was asked for");
    w.chain.slot = 1060n;
    const caught = await until(() => w.caught(0), 1500);
    assert.ok(
      caught,
      'one malformed proof recorded the lie as skipped: it is never audited again nor demanded on chain',
    );
  } finally {
    await w.close();
  }
});

for (const [name, posted] of [
  // Valid UTF-8, sorted and short, so answer_data takes it; decodeInputSet's `out[name] = …` sets the object's
  // prototype instead of an input, and the decoded set is empty.
  ['named __proto__', (t: Tensor) => postedUnder(Buffer.from('__proto__'), t)],
  // Not UTF-8: the program takes names as bytes; a string decoder turns the byte into U+FFFD, so the decoded set's
  // digest is no longer the record's.
  ['named 0xff', (t: Tensor) => postedUnder(Buffer.from([0xff]), t)],
  // A surrogate encoded in three bytes (not UTF-8 either), after a valid letter.
  ['named a + an encoded surrogate', (t: Tensor) => postedUnder(Buffer.from([0x61, 0xed, 0xa0, 0x80]), t)],
] as const) {
  test(`rev24 unrepresentable input name (${name}): a colluding sequencer commits a lie whose one input's name the challenger's string-keyed maps cannot hold; it withholds the inputs and answers the demand on chain (the program checks only bytes and digest); the lie must be found from the posted inputs, not recorded as skipped`, async () => {
    const w = await world();
    const exec = Keypair.generate();
    const b0 = await makeBatch(w.model, 0, exec);
    // Job 1 rebuilt with the lie's input under the odd name: its record commits to that name's bytes.
    const { digest, bytes } = posted(b0.inputs[1].x);
    const made = await lieBatch(w.model, exec, digest);
    const lieRecord = made.records[1];
    w.chain.commit(made);
    w.chain.answerer = (_b, j) => (j === 1 ? { ...answerOf(made, 1), inputs: bytes } : undefined);
    const base = faithful(w.model, [made]);
    const source: JobSource = {
      ...base,
      inputs: async (id) => (id === lieRecord.jobId ? undefined : base.inputs(id)),
    };
    try {
      const c = await w.start(source);
      await c.onBatch(msg(made));
      assert.ok(w.chain.requested.includes('0:1'), "the lie's inputs were demanded on chain and answered");
      await until(async () => (await c.findings.all()).some((f) => f.position === 1), 1500);
      const found = (await c.findings.all()).some((f) => f.position === 1);
      const audits = (c as unknown as { audits: { get(k: string): Promise<unknown> } }).audits;
      const audit = await audits.get(`0:${lieRecord.jobId}`);
      assert.ok(
        found,
        `the inputs posted on chain for the lie were decoded into another set, and the audit recorded for good: ${JSON.stringify(audit)}; the lie finalizes`,
      );
    } finally {
      await w.close();
    }
  });
}

// ---- Threat 1: the draw made once, re-rolled through a stale copy of the batch's work ---------------------------

test("rev24 stale draw: the sequencer delays the first listing past a pass's snapshot of batch-work, so two audits of the batch hold a copy without the draw; it withholds the lie's proof once asked and lists a made-up id at its position, and the second copy draws again and drops the lie; the lie must still be demanded", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate());
  const fake = toHex(sha('made-up id')) as JobId;
  const RATE = 0.5;
  // Sampled by its own id, not under the made-up one: without the re-roll the lie is demanded for sure.
  pickSecret(
    w.dir,
    (s) => isSampled(s, b0.batch.root, b0.records[1].jobId, RATE) && !isSampled(s, b0.batch.root, fake, RATE),
  );
  w.chain.commit(b0);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let atLie = b0.records[1].jobId;
  let lieAsked = false;
  const source: JobSource = {
    ...faithful(w.model, [b0]),
    batch: async () => {
      await gate;
      return { ...b0.listing, jobIds: [b0.records[0].jobId, atLie] };
    },
    proof: async (id) => {
      if (id === b0.records[0].jobId) return b0.batch.proof(0);
      if (id === b0.records[1].jobId) {
        lieAsked = true;
        atLie = fake; // the fetch told the sequencer the lie is sampled
      }
      return undefined;
    },
  };
  try {
    const c = await w.start(source, { sampleRate: RATE });
    void c.onBatch(msg(b0));
    await sleep(300); // passes take their snapshot of batch-work while the first audit waits for the listing
    release();
    await until(() => lieAsked, 2000);
    assert.ok(lieAsked, 'the lie was sampled and its proof asked for');
    await sleep(300);
    w.chain.slot = 1060n;
    const caught = await until(() => w.caught(0), 1500);
    assert.ok(
      caught,
      `the sampled lie was re-drawn away and never demanded: ${JSON.stringify(w.chain.requested)}`,
    );
  } finally {
    await w.close();
  }
});

// ---- Threat 1/4: how the challenger discovers committed batches --------------------------------------------------

for (const [name, setup] of [
  [
    'during a pause',
    // Program paused at game slot 1005: the first run's scan reads every open batch as not disputable.
    async (w: Awaited<ReturnType<typeof world>>) => {
      w.chain.paused = 1;
      w.chain.pauseStart = 1005n;
      return async () => {
        w.chain.paused = 0;
        w.chain.pausedSlots = 5n;
        w.chain.slot = 1012n;
      };
    },
  ],
  [
    'after the window was shortened',
    // Batch 0 (the lie) committed under a 10,000-slot window; the authority then set 100 slots, batch 1 committed
    // under it is closed already while batch 0 is open: windows no longer close in commit order.
    async (w: Awaited<ReturnType<typeof world>>) => {
      w.chain.batches.get(0)!.window = 10_000n;
      const b1 = await makeBatch(w.model, 1, Keypair.generate(), { honest: true });
      w.chain.commit(b1, { commitSlot: 1010n, window: 100n });
      w.chain.slot = 1200n;
      return undefined;
    },
  ],
  [
    'behind 1,024 newer batches',
    // The sequencer commits 1,024 one-job batches after the lie (their rents and reserves come back): a first run
    // looks back at most SCAN_BACK_MAX = 1024 batches.
    async (w: Awaited<ReturnType<typeof world>>) => {
      w.chain.batches.get(0)!.window = 10_000n;
      for (let i = 1; i <= 1024; i++)
        w.chain.batches.set(i, {
          root: sha(`filler ${i}`),
          jobCount: 1,
          commitSlot: 1000n + BigInt(i),
          window: 10_000n,
        });
      w.chain.next = 1025n;
      return undefined;
    },
  ],
] as const) {
  test(`rev24 first run ${name}: a challenger started while the lie's batch is open (never announced) must audit it`, async () => {
    const w = await world();
    const b0 = await makeBatch(w.model, 0, Keypair.generate());
    w.chain.commit(b0);
    const after = await setup(w);
    let lastFiller = 0;
    const base = faithful(w.model, [b0]);
    const source: JobSource = {
      ...base,
      batch: async (i) => {
        if (i === 1024) lastFiller++;
        return base.batch(i);
      },
    };
    try {
      await w.start(source, { retryMs: 50 });
      await sleep(300);
      await after?.();
      // A full pass over the fillers, if any, has gone by.
      if (w.chain.next > 1000n) await until(() => lastFiller >= 2, 10_000);
      const caught = await until(() => w.caught(0), 1500);
      assert.ok(
        caught,
        "the open lie's batch committed before the challenger's first run was never taken up",
      );
    } finally {
      await w.close();
    }
  });
}

for (const announced of [false, true]) {
  test(`rev24 lagging read (${announced ? 'announced at its commit' : 'silent'}): the config read already shows the lie's batch committed while the batch account read, from an RPC node one slot behind, misses it; the challenger takes that miss for a closed batch and never reads the index again; it must audit the lie`, async () => {
    const w = await world();
    const b0 = await makeBatch(w.model, 0, Keypair.generate());
    try {
      const c = await w.start(faithful(w.model, [b0]), { retryMs: announced ? 200 : 20 });
      await sleep(100); // the first run has started watching at index 0
      w.chain.commit(b0);
      w.chain.lag.set(0, 1);
      if (announced) void c.onBatch(msg(b0));
      const caught = await until(() => w.caught(0), 1500);
      assert.ok(caught, 'one stale account read skipped a committed batch for good');
    } finally {
      await w.close();
    }
  });
}

// ---- Threat 3: lamports ----------------------------------------------------------------------------------------

test('rev24 re-announced batch: after the challenger audited every sampled job of a batch from what the sequencer served, the sequencer announces the batch again and stops serving its listing; the challenger must not pay deposits to demand jobs it has audited (the sequencer answers and takes each deposit)', async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate(), { honest: true });
  w.chain.commit(b0);
  w.chain.answerer = (_b, j) => answerOf(b0, j);
  let serve = true;
  const base = faithful(w.model, [b0]);
  const source: JobSource = { ...base, batch: async (i) => (serve ? base.batch(i) : undefined) };
  try {
    const c = await w.start(source);
    await c.onBatch(msg(b0));
    assert.equal(c.stats.audited, 2, 'both jobs audited from what was served');
    await sleep(200); // the chain scan has passed index 0
    serve = false;
    await messages.send(w.bus, messages.BATCH_COMMITTED, undefined, msg(b0));
    await sleep(100);
    w.chain.slot = 1060n;
    await sleep(500);
    assert.equal(
      w.chain.deposits,
      0n,
      `the challenger demanded jobs it had already audited (${JSON.stringify(w.chain.requested)}), ${w.chain.depositsToAnswerer} lamports of answer pay to the answering sequencer, for one free bus message`,
    );
  } finally {
    await w.close();
  }
});

// (Open, on branch i-rev24: 'rev24 withhold and answer', the deposit economics of on-chain demands.)

test("rev24 request rent kept: the sequencer (or its sybil answerer) answers the challenger's data requests and never sends close_data_request; the challenger's role never closes them either, so each answered demand leaves its request account's rent (751 bytes: about 6.1M lamports, 12 deposits) locked for good; once the batch is final the challenger must get it back", async () => {
  const w = await world();
  const b0 = await makeBatch(w.model, 0, Keypair.generate(), { honest: true });
  w.chain.commit(b0);
  w.chain.answerer = (_b, j) => answerOf(b0, j);
  const source: JobSource = {
    batch: async () => undefined,
    proof: async () => undefined,
    inputs: async () => undefined,
    modelBytes: async () => w.model.bytes,
  };
  try {
    const c = await w.start(source);
    await sleep(200);
    w.chain.slot = 1060n;
    assert.ok(await until(() => c.stats.audited >= 2, 3000), 'both demands answered and audited');
    w.chain.batches.get(0)!.finalized = true;
    w.chain.slot = 1400n;
    await c.reclaimRent();
    await sleep(300);
    assert.deepEqual(
      w.chain.closedRequests.sort(),
      ['0:0', '0:1'],
      `answered requests of a final batch left open, their rent locked: ${JSON.stringify([...w.chain.requests.keys()])}`,
    );
  } finally {
    await w.close();
  }
});
