// The explorer in a real browser (Debian's chromium, driven by playwright-core): the demo's story on a dev node, from the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PublicKey } from '@solana/web3.js';
import { startDev, type DevNode } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { OptinferClient } from '../../client/index.ts';
import type { CheatConfig } from '../../adversary/index.ts';

const CHROMIUM = '/usr/bin/chromium';
/** A phone's screen: every page must fit it without sideways scrolling. */
const PHONE = { width: 390, height: 844 };

// Without the browser the suite cannot run: a skip on a developer's machine, a failure on CI (setup.sh installs it).
const missing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing: apt-get install -y chromium (scripts/setup.sh installs it)`;
if (missing && process.env.CI) throw new Error(`browser suite on CI: ${missing}`);
const skip = missing ? `skipped: ${missing}` : false;

let browser: Browser;

before(async () => {
  if (missing) return;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Containers run as root without user namespaces; /dev/shm is small there.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});
after(async () => browser?.close());

function dev(cheat: CheatConfig, executors: number, challengeWindowMs: number): Promise<DevNode> {
  return startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'optinfer-explorer-')),
    executors,
    sampleRate: 1,
    batchMaxJobs: 4,
    batchMaxAgeMs: 200,
    challengeWindowMs,
    cheat,
    logger: silentLogger,
    chain: 'litesvm',
  });
}

/** A page on a phone-sized screen that fails the test on any script error of the explorer's. */
async function phonePage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({
    viewport: PHONE,
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors };
}

async function fitsTheScreen(page: Page, what: string): Promise<void> {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `${what}: ${scroll} px wide on a ${width} px screen`);
}

test(
  'a job submitted from the explorer reaches finalized, with its inclusion proof verified in the browser',
  { skip, timeout: 180_000 },
  async () => {
    const node = await dev({ mode: 'none', rate: 0 }, 1, 4000);
    try {
      const { page, errors } = await phonePage();
      await page.goto(`${node.url}/explorer/submit`);
      // The demo model is offered and random inputs of its shape are drawn.
      await page.waitForSelector(`[data-testid=model] option[value="${node.demoModel.modelId}"]`, {
        state: 'attached',
      });
      const inputs = JSON.parse(await page.inputValue('[data-testid=inputs]'));
      assert.deepEqual(inputs.x.dims, [1, 16]);
      await fitsTheScreen(page, 'the submit form');
      await page.click('[data-testid=submit]');

      // The page moves to the job's own address.
      await page.waitForURL(/\/explorer\/jobs\/[0-9a-f]+$/);
      const jobId = new URL(page.url()).pathname.split('/').pop()!;
      const api = new OptinferClient({ url: node.url });
      assert.equal((await api.job(jobId, { outputs: false, proof: false })).modelId, node.demoModel.modelId);

      await page.waitForSelector('[data-testid=job-status]:text-is("finalized")', { timeout: 120_000 });
      await page.waitForSelector('[data-testid=proof][data-proof=verified]', { timeout: 30_000 });
      const phases = await page.$$eval('[data-testid=timeline] li.done', (li) =>
        li.map((l) => l.getAttribute('data-phase')),
      );
      assert.ok(phases.includes('committed') && phases.includes('finalized'), phases.join(' → '));
      assert.match(await page.innerText('[data-testid=proof-verdict]'), /Verified in this browser/);
      assert.match(await page.innerText('body'), /Outputs/);
      await fitsTheScreen(page, 'the job page');

      // The address is linkable: a fresh page at it shows the same job, verified again there.
      const fresh = await browser.newPage({ viewport: PHONE });
      await fresh.goto(`${node.url}/explorer/jobs/${jobId}`);
      await fresh.waitForSelector('[data-testid=proof][data-proof=verified]', { timeout: 30_000 });
      await fresh.close();

      // The batch list shows the job's batch finalized, with its root.
      const batch = (await api.job(jobId, { outputs: false, proof: false })).batch!;
      await page.goto(`${node.url}/explorer`);
      const card = page.locator(`[data-batch="${batch.index}"][data-status=finalized]`);
      await card.waitFor({ timeout: 30_000 });
      assert.match(await card.innerText(), /invalidations\s*none/);
      assert.equal(await card.locator('code.key').first().getAttribute('title'), batch.root);
      await fitsTheScreen(page, 'the batch list');

      await page.goto(`${node.url}/explorer/operators`);
      await page.waitForSelector('[data-testid=operators] [data-owner]');
      assert.match(await page.innerText('[data-testid=operators]'), /executor/);
      await fitsTheScreen(page, 'the operators');
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await node.close();
    }
  },
);

test(
  "a cheating executor's dispute is shown move by move, layers then chunks, to the one-step that convicts it",
  { skip, timeout: 300_000 },
  async () => {
    // Executor 0 corrupts layer 1 of every trace; the challenger audits every job and disputes it on chain.
    const node = await dev({ mode: 'wrong-layer', rate: 1, layer: 1 }, 2, 20_000);
    try {
      const { page, errors } = await phonePage();
      await page.goto(`${node.url}/explorer/submit`);
      await page.waitForSelector(`[data-testid=model] option[value="${node.demoModel.modelId}"]`, {
        state: 'attached',
      });
      // Four jobs from the form: the two executors share them, so the cheater runs some.
      for (let i = 0; i < 4; i++) {
        await page.goto(`${node.url}/explorer/submit`);
        await page.waitForSelector(`[data-testid=model] option[value="${node.demoModel.modelId}"]`, {
          state: 'attached',
        });
        await page.click('[data-testid=submit]');
        await page.waitForURL(/\/explorer\/jobs\//);
      }
      await page.goto(`${node.url}/explorer/disputes`);

      // Sample the page as the game goes: the moves it showed, and the picture's rows at each.
      const seen = new Map<string, { moves: Set<number>; rows: Set<number> }>();
      let done: { address: string; rows: string[]; outcome: string } | undefined;
      const deadline = Date.now() + 240_000;
      while (!done && Date.now() < deadline) {
        const cards = await page.$$eval('[data-dispute]', (els) =>
          els.map((el) => ({
            address: el.getAttribute('data-dispute')!,
            phase: el.getAttribute('data-phase')!,
            winner: el.getAttribute('data-winner')!,
            moves: Number(el.getAttribute('data-moves')),
            rows: [...el.querySelectorAll('[data-testid=narrowing] .step')].map(
              (s) => `${s.className} ${s.querySelector('.what')?.textContent}`,
            ),
            outcome: el.querySelector('[data-testid=outcome]')?.textContent ?? '',
          })),
        );
        for (const c of cards) {
          const s = seen.get(c.address) ?? { moves: new Set(), rows: new Set() };
          s.moves.add(c.moves);
          s.rows.add(c.rows.length);
          seen.set(c.address, s);
          if (c.phase === 'resolved' && s.moves.size >= 3) done = c;
        }
        await new Promise((r) => setTimeout(r, 150));
      }
      assert.ok(
        done,
        `no dispute seen live to its end: ${JSON.stringify([...seen].map(([a, s]) => [a, [...s.moves]]))}`,
      );
      const s = seen.get(done.address)!;
      // The picture grew while the game went on: rows were added move by move, not drawn once at the end.
      assert.ok(s.rows.size >= 2, `rows seen: ${[...s.rows].join(', ')}`);
      // Layers narrowed to one, then the chunk descent (or the header) down to the one step.
      assert.match(done.rows[0], /step layers/);
      assert.ok(
        done.rows.some((r) => /layer \d+ disputed/.test(r)),
        done.rows.join('\n'),
      );
      assert.ok(
        done.rows.some((r) => /step (chunk|header)/.test(r)),
        done.rows.join('\n'),
      );
      assert.match(done.outcome, /the challenger won by the one-step/);
      // The page names both parties: the cheating executor and the node's challenger.
      const card = page.locator(`[data-dispute="${done.address}"]`);
      assert.equal(await card.locator('.party.lost code').getAttribute('title'), node.executors[0].id);
      assert.match(await card.locator('.party.won').innerText(), /challenger/);
      assert.equal(await card.locator('[data-clock]').count(), 2);
      await fitsTheScreen(page, 'the disputes');

      // The batch list counts the invalidation.
      const view = await new OptinferClient({ url: node.url }).disputes();
      const lost = view.disputes.find((d) => d.address === done!.address)!;
      const batchIndex = lost.batchIndex!;
      // Its position among the batch's invalidations (the cheater's other jobs there lose theirs too).
      const invalidated = (t: string) =>
        (/invalidations\s*\d+: job position\(s\) ([\d, ]+)/.exec(t)?.[1] ?? '')
          .split(', ')
          .includes(String(lost.job));
      await page.goto(`${node.url}/explorer`);
      const batch = page.locator(`[data-batch="${batchIndex}"]`);
      await batch.waitFor();
      let text = '';
      for (
        const until = Date.now() + 30_000;
        Date.now() < until;
        await new Promise((r) => setTimeout(r, 250))
      ) {
        text = await batch.innerText();
        if (invalidated(text)) break;
      }
      assert.ok(invalidated(text), text);

      // The operators page shows the convicted executor's slash and the challenger's bounty, as the program counts them.
      await page.goto(`${node.url}/explorer/operators`);
      const cheater = page.locator(`[data-owner="${node.executors[0].id}"] [data-slashed]`);
      await cheater.waitFor();
      // The page refreshes every 2 s and the cheater's other games may still resolve: wait until it shows what the chain says.
      let shown = '';
      let onChain = 0n;
      for (
        const until = Date.now() + 20_000;
        Date.now() < until;
        await new Promise((r) => setTimeout(r, 250))
      ) {
        onChain = (await node.chain!.fetchOperator(new PublicKey(node.executors[0].id)))!.slashed;
        shown = (await cheater.getAttribute('data-slashed')) ?? '';
        if (shown === onChain.toString()) break;
      }
      assert.ok(onChain > 0n, 'the program counted the slash');
      assert.equal(shown, onChain.toString(), 'the page shows the slash the program counted');
      const challenger = (await new OptinferClient({ url: node.url }).operators()).operators.find(
        (o) => o.role === 'challenger',
      )!;
      const won = await page
        .locator(`[data-owner="${challenger.owner}"] [data-earned]`)
        .getAttribute('data-earned');
      assert.ok(BigInt(won!) > 0n, `the challenger's bounties: ${won}`);
      await fitsTheScreen(page, 'the operators with earnings');
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await node.close();
    }
  },
);
