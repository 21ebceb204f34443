// Disputes, live: the two parties, the bisection narrowing move by move as a picture (layers, then chunks), both clocks, the one-step outcome.
import { narrowing, type DisputeView, type DisputesView, type NarrowingStep } from '../../../client/index.ts';
import { errorLine, fill, h, short, sol } from '../dom.ts';
import type { ViewContext } from '../main.ts';

/** A cluster's slot time, for turning slots into seconds (the dev chain keeps the same pace). */
const SLOT_MS = 400;

export function disputesView(ctx: ViewContext): void {
  const { client, root } = ctx;
  const list = h('div', { class: 'cards', 'data-testid': 'disputes' });
  const note = h('div');
  fill(
    root,
    h('h1', {}, 'Disputes'),
    h(
      'p',
      { class: 'muted' },
      'A challenger who recomputed a job differently opens a game on chain. The two sides bisect their traces down to one layer, then that layer’s chunk tree down to one chunk, and the program recomputes that one step. Each side has a chess clock.',
    ),
    note,
    list,
  );
  let roles = new Map<string, string>();
  let rolesAt = 0;
  ctx.every(1000, async () => {
    let view: DisputesView;
    try {
      if (Date.now() - rolesAt > 5000) {
        const ops = await client.operators();
        roles = new Map(ops.operators.filter((o) => o.role).map((o) => [o.owner, o.role!]));
        rolesAt = Date.now();
      }
      view = await client.disputes();
      fill(
        note,
        h(
          'p',
          { class: 'muted' },
          `slot ${view.slot} · game slot ${view.gameSlot}${view.paused ? ' · PAUSED' : ''}`,
        ),
      );
    } catch (e) {
      fill(note, errorLine(e));
      return;
    }
    if (view.disputes.length === 0) {
      fill(
        list,
        h(
          'p',
          { class: 'muted' },
          'No dispute on chain. Start a node with a cheating executor to see one (README, “Explorer”).',
        ),
      );
      return;
    }
    // Open games first, then the newest batches.
    const sorted = [...view.disputes].sort(
      (a, b) =>
        Number(a.phase === 'resolved') - Number(b.phase === 'resolved') ||
        Number(b.batchIndex ?? 0) - Number(a.batchIndex ?? 0) ||
        a.job - b.job,
    );
    fill(
      list,
      sorted.map((d) => disputeCard(d, BigInt(view.gameSlot), roles)),
    );
  });
}

function party(
  label: string,
  key: string,
  roles: Map<string, string>,
  won: boolean,
  lost: boolean,
): HTMLElement {
  return h(
    'div',
    { class: `party ${won ? 'won' : lost ? 'lost' : ''}` },
    h('span', { class: 'muted' }, label),
    ' ',
    short(key),
    roles.get(key) && h('span', { class: 'muted' }, ` (${roles.get(key)})`),
    won && h('span', { class: 'badge finalized' }, 'won'),
    lost && h('span', { class: 'badge bad' }, 'lost'),
  );
}

function clock(side: 'executor' | 'challenger', d: DisputeView, gameSlot: bigint): HTMLElement {
  const budget = BigInt(d.clockBudgetSlots);
  let left = BigInt(d.clockSlots[side]);
  const running = d.turn === side && d.phase !== 'resolved';
  if (running) left -= gameSlot - BigInt(d.lastMoveGameSlot);
  if (left < 0n) left = 0n;
  const pct = budget > 0n ? Number((left * 1000n) / budget) / 10 : 0;
  return h(
    'div',
    { class: `clock ${running ? 'running' : ''}`, 'data-clock': side },
    h('span', { class: 'label' }, side, running && h('span', { class: 'to-move' }, ' to move')),
    h('span', { class: 'track' }, h('span', { class: 'fill', style: `width:${Math.min(100, pct)}%` })),
    h('span', { class: 'muted' }, `${left} slots ≈ ${((Number(left) * SLOT_MS) / 1000).toFixed(0)}s`),
  );
}

/** What produced a row: the traces, a layer round, both sides revealing the layer, or a chunk round. */
function moveLabel(s: NarrowingStep, i: number): string {
  if (i === 0) return 'traces';
  if (s.kind === 'layers') return `layer round ${i}`;
  if (s.kind === 'header' || s.level === s.depth) return 'reveal';
  return `chunk round ${s.depth - s.level}`;
}

/** One row of the picture: the whole range as a track, the part still disputed highlighted. */
function stepRow(s: NarrowingStep, i: number, d: DisputeView): HTMLElement {
  let label: string;
  let from = 0;
  let to = 0;
  let of = 1;
  if (s.kind === 'layers') {
    of = d.layerCount;
    from = s.lo;
    to = s.hi;
    label = s.lo === s.hi ? `layer ${s.lo} disputed` : `layers ${s.lo}–${s.hi} of ${d.layerCount}`;
  } else if (s.kind === 'chunk') {
    const span = 2 ** s.level;
    of = 2 ** s.depth;
    from = s.index * span;
    to = from + span - 1;
    label = from === to ? `chunk ${from} of layer ${d.disagree}` : `chunks ${from}–${to} of ${of}`;
  } else {
    label = `headers of layer ${d.disagree} differ`;
    to = 0;
  }
  const cells =
    of <= 64
      ? Array.from({ length: of }, (_, k) => h('span', { class: k >= from && k <= to ? 'cell in' : 'cell' }))
      : [
          h('span', {
            class: 'span',
            style: `left:${(from / of) * 100}%;width:${Math.max(0.5, ((to - from + 1) / of) * 100)}%`,
          }),
        ];
  return h(
    'li',
    { class: `step ${s.kind}`, 'data-step': i },
    h('span', { class: 'move muted' }, moveLabel(s, i)),
    h('span', { class: `track ${of <= 64 ? 'cells' : 'bar'}` }, cells),
    h('span', { class: 'what' }, label),
  );
}

/** The executor's half of a round already on chain, the challenger's answer awaited: shown as a probe on the last row. */
function halfMove(d: DisputeView, steps: NarrowingStep[]): HTMLElement | null {
  const last = steps.at(-1);
  if (d.turn !== 'challenger' || !last) return null;
  let label: string;
  let cells: HTMLElement[];
  if (d.phase === 'layer-bisect' && last.kind === 'layers') {
    const mid = last.lo + Math.floor((last.hi - last.lo) / 2);
    label = `executor revealed layer ${mid}; the challenger answers`;
    cells =
      d.layerCount <= 64
        ? Array.from({ length: d.layerCount }, (_, k) =>
            h('span', {
              class: k === mid ? 'cell probe' : k >= last.lo && k <= last.hi ? 'cell in' : 'cell',
            }),
          )
        : [];
  } else if (d.phase === 'layer-reveal') {
    label = `executor opened layer ${d.disagree}; the challenger opens its own`;
    cells = [];
  } else if (d.phase === 'chunk-bisect' && last.kind === 'chunk') {
    label = `executor revealed both children of chunk node ${last.index}; the challenger answers`;
    cells = [];
  } else return null;
  return h(
    'li',
    { class: 'step pending', 'data-step': 'pending' },
    h('span', { class: 'move muted' }, 'half-move'),
    h('span', { class: 'track cells' }, cells),
    h('span', { class: 'what' }, label),
  );
}

function disputeCard(d: DisputeView, gameSlot: bigint, roles: Map<string, string>): HTMLElement {
  const resolved = d.phase === 'resolved';
  const steps = narrowing(d);
  const outcome = resolved
    ? h(
        'p',
        { class: d.winner === 'challenger' ? 'bad' : 'good', 'data-testid': 'outcome' },
        `Resolved: the ${d.winner} won`,
        d.decidedBy === 'one-step'
          ? ` by the one-step: the program recomputed ${d.headerMismatch ? `layer ${d.disagree}’s header` : `chunk ${d.chunkIndex} of layer ${d.disagree}`} and ${d.winner === 'executor' ? 'it matched the executor’s' : 'it did not match the executor’s'}.`
          : ' on time: the other side’s clock ran out.',
        d.winner === 'challenger'
          ? ` The executor’s stake (${sol(d.executorStake)}) is slashed and the job runs again.`
          : ` The challenger’s stake (${sol(d.challengerStake)}) is slashed.`,
      )
    : h(
        'p',
        {},
        `Phase ${d.phase}, ${d.turn} to move (${d.moves} moves so far)`,
        d.stepDone ? `, one-step ${d.stepDone} elements done` : '',
      );
  return h(
    'article',
    {
      class: `card dispute ${resolved ? 'resolved' : 'open'}`,
      'data-dispute': d.address,
      'data-phase': d.phase,
      'data-moves': d.moves,
      'data-winner': d.winner ?? '',
    },
    h(
      'div',
      { class: 'row' },
      h('strong', {}, `Batch ${d.batchIndex ?? '?'} · job ${d.job}`),
      h('span', { class: `badge ${resolved ? 'finalized' : 'committed'}` }, d.phase),
      h('span', { class: 'muted' }, `${d.moves} moves`),
    ),
    party('executor', d.executor, roles, d.winner === 'executor', d.winner === 'challenger'),
    party('challenger', d.challenger, roles, d.winner === 'challenger', d.winner === 'executor'),
    h('div', { class: 'clocks' }, clock('executor', d, gameSlot), clock('challenger', d, gameSlot)),
    steps.length
      ? h(
          'ol',
          { class: 'narrowing', 'data-testid': 'narrowing' },
          steps.map((s, i) => stepRow(s, i, d)),
          halfMove(d, steps),
        )
      : h('p', { class: 'muted' }, 'Waiting for both traces.'),
    outcome,
  );
}
