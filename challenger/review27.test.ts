// Review 27: a hostile sequencer (colluding with executors) against the honest challenger's handling of input names
// (bytes posted on chain, JSON served over HTTP, inputs kept in LevelDB) and of model bytes across a restart. Each
// test states the property the protocol promises (docs/PROTOCOL.md threat table); a failing test is an attack that
// succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { ModelRegistry } from '../executor/model.ts';
import { OptinferError } from '../state/errors.ts';
import { decodeInputsJson } from '../state/tensor-json.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { tensorSetDigest, type Tensor } from '../state/tensor.ts';
import {
  answerOf,
  faithful,
  makeBatch,
  msg,
  until,
  world,
  postedUnder,
  lieBatch,
  gameViews,
} from './audit-world.ts';
import type { JobSource } from './source.ts';

// ---- Threat 2: input names -----------------------------------------------------------------------------------------

test("rev27 BOM-named input answered on chain: a colluding sequencer commits a lie whose one input is named by the bytes EF BB BF 'x' (well-formed UTF-8: U+FEFF then 'x'), withholds its inputs and answers the demand on chain; tensorNameFromBytes's fatal TextDecoder strips the leading BOM, so the decoded set hashes to another digest; the lie must be found from the posted inputs, not recorded as skipped", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const x: Tensor = {
    dtype: 'int8',
    dims: [1, 16],
    data: new Uint8Array(16).map((_, k) => (k * 7 + 1) & 0xff),
  };
  const { digest, bytes } = postedUnder(Buffer.from([0xef, 0xbb, 0xbf, 0x78]), x);
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
      `the inputs posted on chain under the name U+FEFF 'x' were decoded as 'x' (BOM stripped) and the audit recorded for good: ${JSON.stringify(audit)}; the lie finalizes`,
    );
  } finally {
    await w.close();
  }
});

test("rev27 served name with a lone surrogate: a colluding sequencer serves the lie's inputs over HTTP as JSON whose one input is named \"\\ud800\" (JSON.parse makes a lone surrogate; decodeInputsJson takes it); servedInputs hashes them outside its try, tensorNameBytes throws INVALID_INPUT (bad-input, not retryable), and auditBatch records the lie 'skipped' for good: never re-audited, never demanded; the lie must be treated as withheld and demanded on chain", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const b0 = await makeBatch(w.model, 0, exec);
  w.chain.commit(b0);
  // Exactly what HttpSource.inputs makes of the sequencer's body.
  const body = JSON.parse('{"inputs":{"\\ud800":{"dtype":"int8","dims":[1,1],"data":[1]}}}');
  const base = faithful(w.model, [b0]);
  const source: JobSource = {
    ...base,
    inputs: async (id) => (id === b0.records[1].jobId ? decodeInputsJson(body) : base.inputs(id)),
  };
  try {
    const c = await w.start(source);
    await c.onBatch(msg(b0));
    w.chain.slot = 1060n; // past half the window: anything not served must be demanded by now
    await until(() => w.caught(0), 1500);
    const audits = (c as unknown as { audits: { get(k: string): Promise<unknown> } }).audits;
    const audit = await audits.get(`0:${b0.records[1].jobId}`);
    assert.ok(
      await w.caught(0),
      `the lie's audit was recorded for good from inputs the sequencer served unhashable: ${JSON.stringify(audit)}; nothing demanded on chain (requests: ${JSON.stringify(w.chain.requested)}), so the lie finalizes`,
    );
  } finally {
    await w.close();
  }
});

// ---- Threat 3: restarts ------------------------------------------------------------------------------------------

test("rev27 BOM-named kept inputs across a restart: a colluding sequencer serves the lie's inputs (JSON keeps a leading U+FEFF in a name) under the name U+FEFF 'x'; the challenger finds the lie and keeps its inputs (encodeInputSet: the name's bytes EF BB BF 78); after a restart decodeInputSet strips the BOM, the kept set no longer hashes to the game's input digest, and the game has no views (lost on time, the challenger's stake with it); the restarted challenger must still play its game", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const x: Tensor = {
    dtype: 'int8',
    dims: [1, 16],
    data: new Uint8Array(16).map((_, k) => (k * 5 + 2) & 0xff),
  };
  const served: TensorMap = decodeInputsJson(
    JSON.parse(
      JSON.stringify({
        inputs: { '\ufeffx': { dtype: 'int8', dims: [1, 16], data: [...new Int8Array(x.data.buffer)] } },
      }),
    ),
  );
  const made = await lieBatch(w.model, exec, tensorSetDigest(served));
  const lieRecord = made.records[1];
  w.chain.commit(made);
  const base = faithful(w.model, [made]);
  const source: JobSource = {
    ...base,
    inputs: async (id) => (id === lieRecord.jobId ? served : base.inputs(id)),
  };
  try {
    const first = await w.start(source);
    await first.onBatch(msg(made));
    assert.ok(
      (await first.findings.all()).some((f) => f.position === 1),
      'the lie was found from the served inputs',
    );
    await first.close(); // as a kill would leave it: finding, pending entry and kept inputs in LevelDB
    const second = await w.start(source);
    const views = await gameViews(second, w.model.modelId, lieRecord);
    assert.ok(
      views && typeof views === 'object',
      `after the restart the lie's game has no views (${String(views)}): the kept inputs decode under another name, the driver never moves and the game is lost on time`,
    );
  } finally {
    await w.close();
  }
});

test("rev27 model withheld after a restart: the challenger finds a lie (model bytes served then) and opens its game; it restarts (the challenger role's ModelRegistry is in memory only) and the colluding sequencer no longer serves the model's bytes; the game's views need the model, fetched from that sequencer alone, so the driver never moves and the honest challenger loses its stake on time; a challenger in a game must keep what it needs to play it", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const made = await makeBatch(w.model, 0, exec);
  const lieRecord = made.records[1];
  w.chain.commit(made);
  let serveModel = true;
  const base = faithful(w.model, [made]);
  const source: JobSource = {
    ...base,
    modelBytes: async (id) => {
      if (!serveModel) throw new OptinferError('NOT_FOUND', `model ${id} is unknown to the sequencer`);
      return base.modelBytes(id);
    },
  };
  const fresh = new ModelRegistry();
  try {
    const first = await w.start(source);
    await first.onBatch(msg(made));
    assert.ok(
      (await first.findings.all()).some((f) => f.position === 1),
      'the lie was found',
    );
    await first.close();
    serveModel = false;
    // The restarted process: same data dir, a registry holding no model yet (cli/roles.ts makes a new one).
    const second = await w.start(source, { registry: fresh });
    const views = await gameViews(second, w.model.modelId, lieRecord);
    assert.ok(
      views && typeof views === 'object',
      `after the restart the lie's game has no views (${String(views)}): its model comes only from the colluding sequencer, so the driver never moves and the challenger's game is lost on time`,
    );
  } finally {
    await fresh.close();
    await w.close();
  }
});
