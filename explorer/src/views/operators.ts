// Operators, live: each bond on the program with its locked stake, unbonding part, open disputes, the jobs it covers
// and its lifetime earnings (bounties, fees) and slashes as the program counts them.
import type { OperatorView } from '../../../client/index.ts';
import { errorLine, fill, h, short, sol } from '../dom.ts';
import type { ViewContext } from '../main.ts';

export function operatorsView(ctx: ViewContext): void {
  const { client, root } = ctx;
  const list = h('div', { class: 'cards', 'data-testid': 'operators' });
  const note = h('div');
  fill(root, h('h1', {}, 'Operators'), note, list);
  ctx.every(2000, async () => {
    try {
      const v = await client.operators();
      fill(
        note,
        h(
          'p',
          { class: 'muted' },
          `Executors bond at least ${sol(v.minExecutorBond)}, challengers ${sol(v.minChallengerBond)}; each job not yet final locks one executor stake.`,
        ),
      );
      fill(
        list,
        v.operators.length
          ? v.operators.map(card)
          : h('p', { class: 'muted' }, 'No bond on the program yet.'),
      );
    } catch (e) {
      fill(note, errorLine(e));
    }
  });
}

/** Lamports that may be negative (a net after slashes), in SOL. */
function signedSol(lamports: string): string {
  return lamports.startsWith('-') ? `−${sol(lamports.slice(1))}` : sol(lamports);
}

function card(o: OperatorView): HTMLElement {
  const row = (k: string, v: string | HTMLElement) => [h('dt', {}, k), h('dd', {}, v)];
  return h(
    'article',
    { class: 'card operator', 'data-owner': o.owner },
    h(
      'div',
      { class: 'row' },
      short(o.owner, 8),
      o.role && h('span', { class: 'badge' }, o.role),
      !o.exists && h('span', { class: 'muted' }, 'not bonded'),
    ),
    h(
      'dl',
      {},
      row('bonded', sol(o.bonded)),
      row('locked', sol(o.locked)),
      row('as challenger', sol(o.challengerLocked)),
      row('free', sol(o.free)),
      row(
        'unbonding',
        o.unbonding === '0' ? 'none' : `${sol(o.unbonding)} (ready at slot ${o.unbondReadySlot})`,
      ),
      row('open disputes', String(o.openDisputes)),
      row('jobs covered', o.jobsCovered),
      row('bounties won', h('span', { 'data-earned': o.earnings.bounties }, sol(o.earnings.bounties))),
      row('fees earned', sol(o.earnings.fees)),
      row('slashed', h('span', { 'data-slashed': o.earnings.slashed }, sol(o.earnings.slashed))),
      row('net', signedSol(o.earnings.net)),
    ),
  );
}
