// A challenger's own model directories (--models): content-addressed copies read before the sequencer's.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { ModelRegistry } from '../executor/model.ts';
import { OptinferError, isOptinferError } from '../state/errors.ts';
import type { ModelId } from '../state/types.ts';
import { faithful, makeBatch, until, world } from './audit-world.ts';
import { ModelDirs, withModelDirs } from './model-dirs.ts';
import type { JobSource } from './source.ts';

const demo = readFileSync(DEMO_MODEL_PATH);
const idOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex') as ModelId;

test('model dirs: a directory that does not exist is refused at start, naming the flag and what was expected', async () => {
  await assert.rejects(
    ModelDirs.open(['/nonexistent/optinfer-models']),
    (e) =>
      isOptinferError(e, 'INVALID_CONFIG') &&
      /--models \/nonexistent\/optinfer-models: expected a directory of ONNX files/.test(e.message),
  );
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-models-'));
  const file = join(dir, 'plain.txt');
  writeFileSync(file, 'x');
  await assert.rejects(ModelDirs.open([file]), /expected a directory/);
  rmSync(dir, { recursive: true, force: true });
});

test('model dirs: a file is found by the SHA-256 of its bytes under any name, in subdirectories too; a changed file is not used; a file added later is found by the next scan', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-models-'));
  try {
    mkdirSync(join(dir, 'nested', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'nested', 'deeper', 'whatever-name.onnx'), demo);
    writeFileSync(join(dir, 'notes.txt'), demo); // not .onnx: not read
    const dirs = await ModelDirs.open([dir], 0);
    const id = idOf(demo);
    assert.deepEqual(Buffer.from((await dirs.find(id))!), demo);
    assert.equal(await dirs.find('ab'.repeat(32) as ModelId), undefined);
    // Changed after the scan: its bytes no longer hash to the id, so it is not served as that model.
    writeFileSync(
      join(dir, 'nested', 'deeper', 'whatever-name.onnx'),
      Buffer.concat([demo, Buffer.from([0])]),
    );
    assert.equal(await dirs.find(id), undefined);
    // Added later: found by the rescan a miss makes.
    writeFileSync(join(dir, 'again.onnx'), demo);
    assert.deepEqual(Buffer.from((await dirs.find(id))!), demo);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("withheld model bytes, held by the challenger: the sequencer serves a lie's listing, proof and inputs but never its model's bytes, so no audit of the model can run; a challenger given a directory holding the model finds the lie without the sequencer", async () => {
  const w = await world();
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-models-'));
  try {
    writeFileSync(join(dir, 'demo.onnx'), demo);
    const lie = await makeBatch(w.model, 0, Keypair.generate());
    w.chain.commit(lie, { window: 1_000_000n });
    const withheld: JobSource = {
      ...faithful(w.model, [lie]),
      modelBytes: async (id) => {
        throw new OptinferError('NOT_FOUND', `model ${id} is unknown to the sequencer`);
      },
    };
    // The challenger's registry starts empty: the model must come from somewhere.
    const own = new ModelRegistry();
    const c = await w.start(withModelDirs(withheld, await ModelDirs.open([dir])), { registry: own });
    const found = await until(
      async () => (await c.findings.all()).some((f) => f.batchIndex === 0 && f.position === 1),
      5000,
    );
    await own.close();
    assert.ok(found, 'the lie was found from the model in the directory');
  } finally {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
