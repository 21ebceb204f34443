// Review 26: a hostile sequencer that serves model bytes slowly, against the honest challenger's audits of answers
// posted on chain (pollData) and its one audit queue. Each test states a property the protocol promises
// (docs/PROTOCOL.md "Late answer" and the "Audit stalls" rows); a failing test is an attack that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Keypair } from '@solana/web3.js';
import { toHex } from '../state/hash.ts';
import type { ModelId } from '../state/types.ts';
import { answerOf, faithful, makeBatch, sha, until, world } from './audit-world.ts';
import { HttpSource, type JobSource } from './source.ts';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A sequencer's model endpoint that trickles bytes and ends the body just inside the deadline (`ms`), with bytes
 * that are not the model's: no deadline runs out, so HttpSource's pause after a timeout never starts, and every
 * fetch of the model costs the challenger `ms`.
 */
function trickling(ms: number) {
  let asks = 0;
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/v1/models/')) {
      res.writeHead(404).end();
      return;
    }
    asks++;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write('x');
    const t = setInterval(() => res.write('x'), 20);
    const end = setTimeout(() => res.end('x'), ms);
    res.on('close', () => {
      clearInterval(t);
      clearTimeout(end);
    });
  });
  return { server, asks: () => asks };
}

test("rev26 answer behind a decoy download: the sequencer withholds the inputs of jobs on a model only it serves, answers their demands on chain, and serves that model's bytes just inside HttpSource's deadline (wrong bytes, so every pass fetches them again); a lie's inputs, withheld too, are answered late, leaving one clock (150 slots) to dispute it, while the pass that audits answers waits out a decoy download per answered decoy; the lie's dispute must be attempted inside that clock", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const M2 = toHex(sha('a model only the sequencer serves')) as ModelId;
  const DECOYS = 6;
  const t0 = Date.now();
  w.chain.slotFn = () => 1000n + BigInt(Math.floor((Date.now() - t0) / 8));
  const decoy = await makeBatch(w.model, 0, exec, { n: DECOYS, modelId: M2 });
  w.chain.commit(decoy, { window: 1_000_000n });
  w.chain.answerer = (b, j) => (b === 0 ? answerOf(decoy, j) : undefined);
  const lie = await makeBatch(w.model, 1, exec);
  const slow = trickling(250);
  const url = await listen(slow.server);
  const http = new HttpSource(url, { json: 300, bytes: 300 });
  const base = faithful(w.model, [decoy, lie]);
  const source: JobSource = {
    ...base,
    // Every input withheld: decoys and the lie are demanded on chain.
    inputs: async () => undefined,
    modelBytes: (id) => (id === M2 ? http.modelBytes(id) : base.modelBytes(id)),
  };
  try {
    await w.start(source);
    assert.ok(
      await until(() => w.chain.requested.length === DECOYS, 3000),
      'the decoy jobs were demanded and answered',
    );
    w.chain.commit(lie, { commitSlot: w.chain.now(), window: 100n });
    assert.ok(await until(() => w.chain.requested.includes('1:1'), 3000), "the lie's inputs were demanded");
    // The sequencer answers the lie late, while the answers' pass is inside a decoy download.
    const seen = slow.asks();
    await until(() => slow.asks() > seen, 3000);
    const at = w.chain.now();
    const req = w.chain.requests.get('1:1')!;
    w.chain.answers.set('1:1', answerOf(lie, 1));
    w.chain.requests.set('1:1', { ...req, answered: 1 });
    // As answer_data does: an answer leaves one clock to dispute the job, past the window if it came late.
    const onChain = w.chain.batches.get(1)!;
    onChain.disputableUntil = at + 150n;
    await until(() => w.chain.opens > 0 || w.chain.now() >= at + 150n, 5000);
    assert.ok(
      w.chain.opens > 0,
      `the lie was answered at slot ${at} but its dispute was not attempted within one clock (150 slots): the answers' pass was waiting out decoy downloads (${slow.asks()} model requests)`,
    );
  } finally {
    slow.server.close();
    slow.server.closeAllConnections();
    await w.close();
  }
});

test("rev26 batch behind a decoy download: the sequencer keeps decoy batches of one job each on a model only it serves, their listings and inputs served at once and the model's bytes just inside the deadline (wrong bytes); the one audit queue waits out a download per decoy before it reaches the lie's batch, committed after them and served in full, so the lie is found after its window; it must be found inside it", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const DECOYS = 5;
  const t0 = Date.now();
  w.chain.slotFn = () => 1000n + BigInt(Math.floor((Date.now() - t0) / 8));
  const decoys = [];
  for (let i = 0; i < DECOYS; i++) {
    const M = toHex(sha(`decoy model ${i}`)) as ModelId;
    const d = await makeBatch(w.model, i, exec, { n: 1, modelId: M });
    w.chain.commit(d, { window: 1_000_000n });
    decoys.push(d);
  }
  const lie = await makeBatch(w.model, DECOYS, exec);
  const slow = trickling(250);
  const url = await listen(slow.server);
  const http = new HttpSource(url, { json: 300, bytes: 300 });
  const base = faithful(w.model, [...decoys, lie]);
  const source: JobSource = {
    ...base,
    modelBytes: (id) => (id === w.model.modelId ? base.modelBytes(id) : http.modelBytes(id)),
  };
  try {
    await w.start(source);
    await until(() => slow.asks() > 0, 3000);
    const at = w.chain.now();
    w.chain.commit(lie, { commitSlot: at, window: 100n });
    await until(async () => (await w.caught(DECOYS)) || w.chain.now() >= at + 100n, 5000);
    assert.ok(
      await w.caught(DECOYS),
      `the lie's batch, committed at slot ${at} and served in full, was not audited inside its 100-slot window: the audit queue was waiting out decoy downloads (${slow.asks()} model requests)`,
    );
  } finally {
    slow.server.close();
    slow.server.closeAllConnections();
    await w.close();
  }
});
