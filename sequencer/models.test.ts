// Models: content-addressed registration (file, record, settlement, announcement), serving bytes, and recovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import type { ModelRegisteredMessage } from '../bus/messages.ts';
import { silentLogger } from '../common/log.ts';
import { OptinferError } from '../state/errors.ts';
import { sha256, hashHex } from '../state/hash.ts';
import type { ModelId } from '../state/types.ts';
import type { Ledger } from './ledger.ts';
import { ModelCatalog } from './models.ts';
import { FakeInspector, int8, tempLedger, waitFor } from './testing.ts';

const BYTES = new Uint8Array([8, 1, 2, 3, 4]);
const ID = hashHex(sha256(BYTES)) as ModelId;

async function setup(opts: { provable?: boolean; maxModelBytes?: number; settlementFails?: boolean } = {}) {
  const t = await tempLedger();
  mkdirSync(join(t.dir, 'models'), { recursive: true });
  const bus = createMemoryBus();
  const onChain: ModelId[] = [];
  /** Whether the model's record was already written when settlement was asked to register it. */
  const recordedFirst: boolean[] = [];
  const settlement = {
    async registerModel(id: ModelId) {
      if (opts.settlementFails)
        throw new OptinferError('PROGRAM_MODEL_TOO_LARGE', 'the program refused the model');
      recordedFirst.push((await t.ledger.models.get(id)) !== undefined);
      onChain.push(id);
    },
  };
  const inspector = new FakeInspector(opts.provable);
  const catalog = (ledger: Ledger) =>
    new ModelCatalog(
      { dataDir: t.dir, maxModelBytes: opts.maxModelBytes ?? 1024 },
      ledger,
      inspector,
      settlement,
      bus,
      silentLogger,
    );
  return {
    ...t,
    bus,
    onChain,
    recordedFirst,
    inspector,
    catalog,
    async close() {
      await bus.close();
      await t.close();
    },
  };
}

test('a model is stored under its sha256, its file first, and announced; the same bytes register once', async () => {
  const s = await setup();
  try {
    const heard: ModelRegisteredMessage[] = [];
    const sub = await s.bus.subscribe<ModelRegisteredMessage>(messages.MODEL_REGISTERED.all, (m) => {
      heard.push(m);
    });
    const models = s.catalog(s.ledger);
    const info = await models.register(BYTES, 'tiny');
    assert.equal(info.modelId, ID, 'the id is the hash of the bytes, not what the inspector says');
    assert.equal(info.name, 'tiny');
    assert.deepEqual(new Uint8Array(readFileSync(join(s.dir, 'models', `${ID}.onnx`))), BYTES);
    assert.deepEqual(await s.ledger.models.get(ID), info);
    assert.deepEqual(models.list(), [info]);
    assert.equal(models.get(ID), info);
    await waitFor(() => heard.length === 1, 'the announcement');
    assert.deepEqual(heard[0], { modelId: ID, name: 'tiny' });

    const again = await models.register(BYTES, 'other name');
    assert.equal(again, info);
    assert.deepEqual(s.inspector.inspected, ['tiny'], 'not inspected twice');
    assert.equal(s.onChain.length, 0, 'an unprovable model is not registered on chain');
    await sub.unsubscribe();
  } finally {
    await s.close();
  }
});

test('a model over maxModelBytes is refused before it is inspected or stored', async () => {
  const s = await setup({ maxModelBytes: 4 });
  try {
    const models = s.catalog(s.ledger);
    await assert.rejects(
      models.register(BYTES, 'big'),
      (e: Error & { code?: string }) =>
        e.code === 'PAYLOAD_TOO_LARGE' && e.message === 'model: expected at most 4 bytes, got 5',
    );
    assert.deepEqual(s.inspector.inspected, []);
    assert.equal(existsSync(join(s.dir, 'models', `${ID}.onnx`)), false);
    assert.deepEqual(await s.ledger.models.entries(), []);
  } finally {
    await s.close();
  }
});

test('a provable model is registered with settlement before its record is written', async () => {
  const s = await setup({ provable: true });
  try {
    await s.catalog(s.ledger).register(BYTES, 'provable');
    assert.deepEqual(s.onChain, [ID]);
    assert.deepEqual(s.recordedFirst, [false], 'no record names a model settlement cannot dispute yet');
  } finally {
    await s.close();
  }
});

test('executors fetch a registered model over the bus; an unknown one is NOT_FOUND', async () => {
  const s = await setup();
  try {
    const models = s.catalog(s.ledger);
    const sub = await models.serve();
    await models.register(BYTES, 'tiny');
    const reply = await messages.request(s.bus, messages.MODEL_FETCH, undefined, { modelId: ID });
    assert.deepEqual(new Uint8Array(reply.bytes), BYTES);
    await assert.rejects(
      messages.request(s.bus, messages.MODEL_FETCH, undefined, { modelId: 'cd'.repeat(32) }),
      /not registered/,
    );
    assert.throws(
      () => models.bytes('cd'.repeat(32) as ModelId),
      (e: Error & { code?: string }) => e.code === 'NOT_FOUND',
    );
    await sub.unsubscribe();
  } finally {
    await s.close();
  }
});

test('after a restart every model is inspected again and provable ones re-registered with settlement', async () => {
  const s = await setup({ provable: true });
  try {
    await s.catalog(s.ledger).register(BYTES, 'tiny');
    const ledger = await s.reopen();
    const models = s.catalog(ledger);
    assert.equal(models.get(ID), undefined);
    await models.recover();
    assert.equal(models.get(ID)?.name, 'tiny');
    assert.deepEqual(s.inspector.inspected, ['tiny', 'tiny']);
    assert.deepEqual(s.onChain, [ID, ID], 'an interrupted on-chain registration is finished');
    models.validateInputs(models.get(ID)!, { x: int8([1]) });
    assert.throws(() => models.validateInputs(models.get(ID)!, {}), /input 'x'/);
  } finally {
    await s.close();
  }
});

test('recovery refuses a model whose file is gone', async () => {
  const s = await setup();
  try {
    await s.catalog(s.ledger).register(BYTES, 'tiny');
    rmSync(join(s.dir, 'models', `${ID}.onnx`));
    await assert.rejects(
      s.catalog(s.ledger).recover(),
      (e: Error & { code?: string }) => e.code === 'STORE_CORRUPT' && /is missing/.test(e.message),
    );
  } finally {
    await s.close();
  }
});

const files = (dir: string) => readdirSync(join(dir, 'models')).sort();

test('a model the chain refuses after it was stored is deleted: no file, no record, not listed', async () => {
  const s = await setup({ provable: true, settlementFails: true });
  try {
    const models = s.catalog(s.ledger);
    await assert.rejects(models.register(BYTES, 'refused'), /the program refused the model/);
    assert.deepEqual(files(s.dir), [], 'the stored file was deleted with the refusal');
    assert.deepEqual(await s.ledger.models.entries(), []);
    assert.deepEqual(models.list(), []);
  } finally {
    await s.close();
  }
});

test('a model the inspector refuses leaves nothing behind', async () => {
  const s = await setup();
  try {
    await assert.rejects(s.catalog(s.ledger).register(new Uint8Array(0), 'empty'), /expected ONNX bytes/);
    assert.deepEqual(files(s.dir), []);
  } finally {
    await s.close();
  }
});

test('a streamed upload over maxModelBytes is cut at the cap: the rest is never pulled, nothing is stored', async () => {
  const s = await setup({ maxModelBytes: 1000 });
  try {
    let pulled = 0;
    async function* endless() {
      for (;;) {
        pulled += 100;
        yield new Uint8Array(100).fill(7);
      }
    }
    await assert.rejects(
      s.catalog(s.ledger).register(endless(), 'big'),
      (e: Error & { code?: string }) =>
        e.code === 'PAYLOAD_TOO_LARGE' && e.message === 'model: expected at most 1000 bytes, got more',
    );
    assert.equal(pulled, 1100, 'reading stopped at the first chunk past the cap');
    assert.deepEqual(s.inspector.inspected, []);
    assert.deepEqual(files(s.dir), []);
  } finally {
    await s.close();
  }
});

test('a streamed upload is hashed as it arrives and stored under its sha256, like the same bytes whole', async () => {
  const s = await setup();
  try {
    async function* chunks() {
      for (const b of BYTES) yield new Uint8Array([b]);
    }
    const info = await s.catalog(s.ledger).register(chunks(), 'streamed');
    assert.equal(info.modelId, ID);
    assert.deepEqual(files(s.dir), [`${ID}.onnx`]);
    assert.deepEqual(new Uint8Array(readFileSync(join(s.dir, 'models', `${ID}.onnx`))), BYTES);
  } finally {
    await s.close();
  }
});

test('uploads are inspected one at a time (a model is read whole only to be inspected)', async () => {
  const s = await setup();
  try {
    let inside = 0;
    let most = 0;
    const inspect = s.inspector.inspect.bind(s.inspector);
    s.inspector.inspect = async (bytes, name) => {
      most = Math.max(most, ++inside);
      await new Promise((r) => setTimeout(r, 20));
      inside--;
      return inspect(bytes, name);
    };
    const models = s.catalog(s.ledger);
    await Promise.all([1, 2, 3, 4].map((i) => models.register(new Uint8Array([8, i]), `m${i}`)));
    assert.equal(most, 1);
    assert.equal(models.list().length, 4);
  } finally {
    await s.close();
  }
});

test('recover deletes uploads a crash interrupted and model files no record names', async () => {
  const s = await setup();
  try {
    await s.catalog(s.ledger).register(BYTES, 'kept');
    const stray = 'ef'.repeat(32);
    writeFileSync(join(s.dir, 'models', `${stray}.onnx`), 'half registered');
    writeFileSync(
      join(s.dir, 'models', 'incoming-0b1c2d3e-aaaa-4bbb-8ccc-123456789abc.part'),
      'half uploaded',
    );
    writeFileSync(join(s.dir, 'models', 'README'), 'not ours to delete');
    await s.catalog(await s.reopen()).recover();
    assert.deepEqual(files(s.dir), [`${ID}.onnx`, 'README']);
  } finally {
    await s.close();
  }
});
