// LevelDB store: real LevelDB on disk, atomic multi-table writes, ordering, reopen, lock errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, seqKey } from './store.ts';

test('writes across tables are atomic and survive a reopen; keys iterate in numeric order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-store-'));
  const s = await Store.open(dir);
  const jobs = s.table<{ n: number }>('jobs');
  const queue = s.table<string>('queue');
  await s.write([jobs.put('a', { n: 1 }), queue.put(seqKey(10), 'a'), queue.put(seqKey(9), 'b')]);
  await s.write([queue.del(seqKey(9))]);
  await s.close();

  const s2 = await Store.open(dir);
  assert.deepEqual(await s2.table('jobs').get('a'), { n: 1 });
  assert.deepEqual(await s2.table<string>('queue').entries(), [[seqKey(10), 'a']]);
  assert.equal(await s2.table('jobs').get('missing'), undefined);
  await s2.close();
});

test('a second open of the same data dir fails with a clear message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-store-'));
  const s = await Store.open(dir);
  await assert.rejects(Store.open(dir), (e: Error) =>
    /cannot open database at .*another optinfer process/.test(e.message),
  );
  await s.close();
});
