// Review 28: attacks on the challenger's kept model copies (<dataDir>/models/<sha256>.onnx, review 27) across crashes,
// restarts and a disk that cannot take them. Each test states what must hold; a failing test is an attack that
// succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { ModelRegistry } from '../executor/model.ts';
import { OptinferError } from '../state/errors.ts';
import { faithful, makeBatch, msg, until, world, gameViews } from './audit-world.ts';
import type { JobSource } from './source.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('rev28 torn kept copy never repaired: the kept model copy is left at its full size but holding other bytes (keepModel renames without fsync, so a power cut can leave the renamed file full of zeros; a bit flip does the same); download() sees the copy does not hash to the id and fetches the model again, but keepModel skips any copy of the right size, so the bad copy stays; the challenger finds a lie and opens its game, restarts, and the colluding sequencer stops serving the model: the game has no views and is lost on time. A kept copy that does not hash to its id must be replaced by the next good download', async () => {
  const w = await world();
  const exec = Keypair.generate();
  const made = await makeBatch(w.model, 0, exec);
  const lieRecord = made.records[1];
  w.chain.commit(made, { window: 1_000_000n });
  // What a crash after the rename (data not yet on disk) leaves: the right size, zeros.
  const kept = join(w.dir, 'models', `${w.model.modelId}.onnx`);
  mkdirSync(join(w.dir, 'models'), { recursive: true });
  writeFileSync(kept, Buffer.alloc(w.model.bytes.length));
  let serveModel = true;
  const base = faithful(w.model, [made]);
  const source: JobSource = {
    ...base,
    modelBytes: async (id) => {
      if (!serveModel) throw new OptinferError('NOT_FOUND', `model ${id} is unknown to the sequencer`);
      return base.modelBytes(id);
    },
  };
  // Both runs' registries start empty, as the challenger role's does (cli/roles.ts).
  const own = new ModelRegistry();
  const fresh = new ModelRegistry();
  try {
    const first = await w.start(source, { registry: own });
    await first.onBatch(msg(made));
    assert.ok(
      await until(async () => (await first.findings.all()).some((f) => f.position === 1), 5000),
      'the lie was found from the model the sequencer served',
    );
    await first.close();
    const copy = sha256(readFileSync(kept));
    serveModel = false;
    const second = await w.start(source, { registry: fresh });
    const views = await gameViews(second, w.model.modelId, lieRecord);
    assert.ok(
      views && typeof views === 'object',
      `after the restart the lie's game has no views (${String(views)}): the kept copy still hashes to ${copy}, not the model id ${w.model.modelId}, although the model was downloaded whole in the first run; the driver never moves and the game is lost on time`,
    );
  } finally {
    await own.close();
    await fresh.close();
    await w.close();
  }
});

test("rev28 kept copy that cannot be written loses the finding: the disk under <dataDir>/models cannot take the model (full: a hostile sequencer's models are all kept, never evicted; stood in for here by <dataDir>/models being a plain file, so the write fails as ENOSPC would, while the small LevelDB writes still succeed); recordFinding awaits keepModel before it records anything, so a lie found on a model the sequencer serves in full is never recorded and no game is opened; keeping a copy is a convenience for restarts and must never cost a finding", async () => {
  const w = await world();
  const exec = Keypair.generate();
  const made = await makeBatch(w.model, 0, exec);
  w.chain.commit(made, { window: 1_000_000n });
  writeFileSync(join(w.dir, 'models'), 'not a directory');
  try {
    const c = await w.start(faithful(w.model, [made]));
    await c.onBatch(msg(made));
    const found = await until(
      async () => (await c.findings.all()).some((f) => f.batchIndex === 0 && f.position === 1),
      3000,
    );
    assert.ok(
      found,
      `the lie (served in full, model in memory) was re-executed and mismatched, but no finding was recorded and no dispute attempted (${w.chain.opens} opens): keepModel threw inside recordFinding, so the lie finalizes`,
    );
  } finally {
    await w.close();
  }
});
