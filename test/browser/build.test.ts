// The committed explorer bundle is the one its sources build (no stale dist), and the node serves it at /explorer and below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildHttp } from '../../sequencer/http.ts';
import type { Sequencer } from '../../sequencer/sequencer.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('explorer/dist is what scripts/build-explorer.mjs builds from explorer/src (run npm run build:explorer)', () => {
  const r = spawnSync(process.execPath, ['scripts/build-explorer.mjs', '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr || r.stdout);
});

test('the node serves the explorer: its page at /explorer and every address below it, its assets by type', async () => {
  // The explorer's routes read no sequencer state: a stand-in with the one field buildHttp reads.
  const app = buildHttp({ sequencer: { config: { maxModelBytes: 1 } } as unknown as Sequencer });
  try {
    for (const url of ['/explorer', '/explorer/', '/explorer/jobs/ab12', '/explorer/disputes']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, url);
      assert.match(String(r.headers['content-type']), /^text\/html/, url);
      assert.match(r.body, /<script type="module" src="\/explorer\/explorer.js">/, url);
    }
    const js = await app.inject({ method: 'GET', url: '/explorer/explorer.js' });
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.ok(js.body.length > 1000);
    const css = await app.inject({ method: 'GET', url: '/explorer/explorer.css' });
    assert.match(String(css.headers['content-type']), /^text\/css/);
    // Nothing outside dist is reachable through the explorer's route.
    const up = await app.inject({ method: 'GET', url: '/explorer/..%2Fsrc%2Fmain.ts' });
    assert.match(String(up.headers['content-type']), /^text\/html/);
    assert.doesNotMatch(up.body, /import/);
    // The API's own 404 stays as it was.
    const api = await app.inject({ method: 'GET', url: '/v1/nothing' });
    assert.equal(api.statusCode, 404);
    assert.equal(api.json().error.code, 'NOT_FOUND');
  } finally {
    await app.close();
  }
});
