// Batches, live: root, jobs, the challenge window counting down, committed and finalized (node and chain), invalidations.
import type { ChainBatchView } from '../../../client/index.ts';
import { duration, errorLine, fill, h, link, short, time } from '../dom.ts';
import type { ViewContext } from '../main.ts';

/** GET /v1/batches rows (the node's own record; job ids only from /v1/batches/:index). */
interface NodeBatch {
  index: number;
  root: string;
  jobCount: number;
  jobIds: string[];
  createdAt: number;
  windowEndsAt: number;
  status: 'pending' | 'committed' | 'finalized';
  finalizedAt?: number;
  invalidated?: number[];
}

/** Batches whose chain view is read on each refresh (the newest ones). */
const CHAIN_READS = 8;

export function batchesView(ctx: ViewContext): void {
  const { client, root } = ctx;
  const list = h('div', { class: 'cards', 'data-testid': 'batches' });
  const note = h('div');
  fill(
    root,
    h('h1', {}, 'Batches'),
    h(
      'p',
      { class: 'muted' },
      'Each batch commits one Merkle root of signed job records on chain; anyone may dispute one of its jobs until its window ends. ',
      link('/submit', 'Submit a job'),
      '.',
    ),
    note,
    list,
  );
  const expanded = new Set<number>();
  const jobsOf = new Map<number, string[]>();
  const chainOf = new Map<number, ChainBatchView | null>();
  let noChain = false;

  ctx.every(1000, async () => {
    let batches: NodeBatch[];
    try {
      batches = (await client.request<NodeBatch[]>('GET', '/v1/batches')).slice(0, 50);
      fill(note);
    } catch (e) {
      fill(note, errorLine(e));
      return;
    }
    if (!noChain) {
      await Promise.all(
        batches
          .filter((b) => b.status !== 'pending')
          .slice(0, CHAIN_READS)
          .filter((b) => !chainOf.get(b.index)?.finalized)
          .map(async (b) => {
            try {
              chainOf.set(b.index, await client.chainBatch(b.index));
            } catch (e) {
              // A node on the local timer has no chain to read: say so once and stop asking.
              if ((e as Error).message?.includes('without a chain')) noChain = true;
              chainOf.set(b.index, null);
            }
          }),
      );
    }
    await Promise.all(
      [...expanded]
        .filter((i) => !jobsOf.has(i))
        .map(async (i) => jobsOf.set(i, ((await client.batch(i)) as unknown as NodeBatch).jobIds)),
    );
    if (batches.length === 0) {
      fill(
        list,
        h('p', { class: 'muted' }, 'No batch yet: submit a job and the sequencer cuts one shortly.'),
      );
      return;
    }
    fill(
      list,
      batches.map((b) => batchCard(b, chainOf.get(b.index) ?? null, noChain, expanded, jobsOf)),
    );
  });
}

function batchCard(
  b: NodeBatch,
  chain: ChainBatchView | null,
  noChain: boolean,
  expanded: Set<number>,
  jobsOf: Map<number, string[]>,
): HTMLElement {
  const left = b.windowEndsAt - Date.now();
  const window =
    b.status === 'finalized'
      ? h('span', {}, `finalized ${b.finalizedAt ? time(b.finalizedAt) : ''}`)
      : b.status === 'pending'
        ? h('span', { class: 'muted' }, 'not yet committed')
        : left > 0
          ? h('span', { class: 'countdown' }, `window closes in ${duration(left)}`)
          : h('span', { class: 'muted' }, 'window over, finalizing');
  const invalid = chain?.invalidatedPositions ?? b.invalidated ?? [];
  const open = expanded.has(b.index);
  const toggle = h(
    'button',
    {
      class: 'link',
      'aria-expanded': String(open),
      onclick: () => {
        if (expanded.has(b.index)) expanded.delete(b.index);
        else expanded.add(b.index);
        toggle.textContent = expanded.has(b.index) ? 'hide jobs' : 'show jobs (loading…)';
      },
    },
    open ? 'hide jobs' : 'show jobs',
  );
  const onChain = noChain
    ? 'local timer (no chain)'
    : chain
      ? chain.closed
        ? 'closed on chain'
        : chain.root === b.root.toLowerCase()
          ? `root on chain · slot ${chain.commitSlot}${chain.openDisputes ? ` · ${chain.openDisputes} open dispute(s)` : ''}`
          : 'on chain with another root!'
      : b.status === 'pending'
        ? '—'
        : 'not read';
  return h(
    'article',
    { class: `card batch status-${b.status}`, 'data-batch': b.index, 'data-status': b.status },
    h(
      'div',
      { class: 'row' },
      h('strong', {}, `Batch ${b.index}`),
      h('span', { class: `badge ${b.status}` }, b.status),
      h('span', {}, `${b.jobCount} job${b.jobCount === 1 ? '' : 's'}`),
    ),
    h(
      'dl',
      {},
      h('dt', {}, 'root'),
      h('dd', {}, short(b.root, 10)),
      h('dt', {}, 'window'),
      h('dd', {}, window),
      h('dt', {}, 'committed'),
      h('dd', {}, b.status === 'pending' ? 'no' : `${time(b.createdAt)} · ${onChain}`),
      h('dt', {}, 'finalized'),
      h('dd', {}, b.status === 'finalized' || chain?.finalized ? 'yes' : 'no'),
      h('dt', {}, 'invalidations'),
      h(
        'dd',
        { class: invalid.length ? 'bad' : '' },
        invalid.length ? `${invalid.length}: job position(s) ${invalid.join(', ')}` : 'none',
      ),
    ),
    toggle,
    open &&
      h(
        'ol',
        { class: 'jobs', start: 0 },
        (jobsOf.get(b.index) ?? []).map((id, i) =>
          h('li', { class: invalid.includes(i) ? 'bad' : '' }, link(`/jobs/${id}`, short(id, 8))),
        ),
      ),
  );
}
