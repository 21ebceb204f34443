// The executor's result store over a temporary LevelDB: results by job id, jobs by a dispute's digests, restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, hashHex, sha256 } from '../state/hash.ts';
import type { Hash32, JobId, ModelId } from '../state/types.ts';
import { digestKey, ResultStore, type StoredResult } from './results.ts';

const h = (s: string) => hashHex(sha256(new TextEncoder().encode(s)));

function result(n: number): { r: StoredResult; inputDigest: Hash32 } {
  return {
    r: {
      jobId: h(`job${n}`) as JobId,
      modelId: h('model') as ModelId,
      inputs: { x: { dtype: 'int8', dims: [1, 2], b64: Buffer.from([n, n + 1]).toString('base64') } },
      outputDigest: h(`out${n}`),
      at: 1_700_000_000_000 + n,
    },
    inputDigest: h(`in${n}`),
  };
}

test('a stored result is found by job id and by the digests a dispute names, as hex or as bytes', async () => {
  const store = await ResultStore.open(mkdtempSync(join(tmpdir(), 'optinfer-results-')));
  try {
    const { r, inputDigest } = result(1);
    await store.put(r, inputDigest);
    assert.deepEqual(await store.get(r.jobId), r);
    assert.deepEqual(
      await store.byDigests({ modelId: r.modelId, inputDigest, outputDigest: r.outputDigest }),
      r,
    );
    const onChain = {
      modelId: fromHex(r.modelId, 32),
      inputDigest: fromHex(inputDigest, 32),
      outputDigest: fromHex(r.outputDigest, 32),
    };
    assert.deepEqual(await store.byDigests(onChain), r);
    assert.equal(digestKey(onChain), `${r.modelId}:${inputDigest}:${r.outputDigest}`);
  } finally {
    await store.close();
  }
});

test('unknown jobs and digests that match no stored result give undefined', async () => {
  const store = await ResultStore.open(mkdtempSync(join(tmpdir(), 'optinfer-results-')));
  try {
    const { r, inputDigest } = result(2);
    await store.put(r, inputDigest);
    assert.equal(await store.get(h('nope') as JobId), undefined);
    // Same job, another claimed output: not the result this executor committed to.
    assert.equal(
      await store.byDigests({ modelId: r.modelId, inputDigest, outputDigest: h('other') }),
      undefined,
    );
  } finally {
    await store.close();
  }
});

test('results survive closing and reopening the store (an executor restart)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-results-'));
  const first = await ResultStore.open(dir);
  const a = result(3);
  const b = result(4);
  await first.put(a.r, a.inputDigest);
  await first.put(b.r, b.inputDigest);
  await first.close();
  const again = await ResultStore.open(dir);
  try {
    assert.deepEqual(await again.get(a.r.jobId), a.r);
    assert.deepEqual(
      await again.byDigests({
        modelId: b.r.modelId,
        inputDigest: b.inputDigest,
        outputDigest: b.r.outputDigest,
      }),
      b.r,
    );
  } finally {
    await again.close();
  }
});
