// One job at /explorer/jobs/<id>: its status timeline (client.watch), outputs, and its inclusion proof verified here in the browser.
import type { JobEvent, JobView, TensorJson, Verification } from '../../../client/index.ts';
import { errorLine, fill, h, link, short, time } from '../dom.ts';
import type { ViewContext } from '../main.ts';

const PHASES = ['queued', 'assigned', 'executed', 'committed', 'finalized'] as const;

export function jobView(ctx: ViewContext, [jobId]: string[]): void {
  const { client, root } = ctx;
  const timeline = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const facts = h('div', { class: 'card' });
  const outputs = h('div', { class: 'card' }, h('h2', {}, 'Outputs'), h('p', { class: 'muted' }, 'Not yet.'));
  const proof = h(
    'div',
    { class: 'card', 'data-testid': 'proof', 'data-proof': 'none' },
    h('h2', {}, 'Inclusion proof'),
    h('p', { class: 'muted' }, 'The job is not in a committed batch yet.'),
  );
  const problems = h('div');
  fill(
    root,
    h('h1', {}, 'Job ', short(jobId, 10)),
    problems,
    h('h2', {}, 'Status'),
    timeline,
    facts,
    outputs,
    proof,
  );

  const events: JobEvent[] = [];
  let verifiedAt: string | undefined;

  const drawTimeline = () => {
    const reached = new Map(events.map((e) => [e.phase, e]));
    const last = events.at(-1);
    // A job first seen mid-way has passed the phases before the one it is in (their times unknown here).
    const at = Math.max(-1, ...events.map((e) => PHASES.indexOf(e.phase as (typeof PHASES)[number])));
    const steps = PHASES.map((p, i) => {
      const e = reached.get(p);
      return h(
        'li',
        { class: e || i < at ? (last?.phase === p ? 'done current' : 'done') : 'todo', 'data-phase': p },
        h('span', { class: 'dot' }),
        h('span', { class: 'phase' }, p),
        e && h('span', { class: 'muted' }, time(e.at)),
      );
    });
    const extra = events
      .filter((e) => e.phase === 'invalidated' || e.phase === 'failed')
      .map((e) =>
        h(
          'li',
          { class: 'done bad', 'data-phase': e.phase },
          h('span', { class: 'dot' }),
          h('span', { class: 'phase' }, e.phase),
          h(
            'span',
            { class: 'muted' },
            `${time(e.at)}${e.batch ? ` · batch ${e.batch.index} lost a dispute; the job runs again` : ''}`,
          ),
        ),
      );
    fill(timeline, steps, extra);
    timeline.setAttribute('data-status', last?.status ?? '');
  };

  const drawFacts = (j: JobView) =>
    fill(
      facts,
      h(
        'dl',
        {},
        h('dt', {}, 'status'),
        h('dd', { 'data-testid': 'job-status' }, j.status),
        h('dt', {}, 'model'),
        h('dd', {}, short(j.modelId, 10)),
        h('dt', {}, 'fee'),
        h('dd', {}, `${j.fee} lamports`),
        h('dt', {}, 'executor'),
        h('dd', {}, short(j.executor)),
        h('dt', {}, 'batch'),
        h('dd', {}, j.batch ? `${j.batch.index}` : '—'),
        j.waiting && h('dt', {}, 'waiting'),
        j.waiting && h('dd', {}, j.waiting),
        j.error && h('dt', {}, 'error'),
        j.error && h('dd', { class: 'bad' }, j.error),
      ),
    );

  const drawOutputs = (o: Record<string, TensorJson> | undefined) => {
    if (!o) return;
    fill(
      outputs,
      h('h2', {}, 'Outputs'),
      Object.entries(o).map(([name, t]) =>
        h(
          'div',
          { class: 'tensor' },
          h('strong', {}, name),
          h('span', { class: 'muted' }, ` ${t.dtype} [${t.dims.join(', ')}]`),
          h('pre', {}, 'base64' in t.data ? `base64 ${t.data.base64}` : JSON.stringify(t.data)),
        ),
      ),
    );
  };

  const drawProof = (j: JobView, v: Verification) => {
    const state = v.verified ? 'verified' : v.proofValid ? 'valid' : 'invalid';
    proof.setAttribute('data-proof', state);
    const p = j.proof!;
    fill(
      proof,
      h('h2', {}, 'Inclusion proof'),
      h(
        'p',
        { class: v.verified ? 'good' : v.proofValid ? '' : 'bad', 'data-testid': 'proof-verdict' },
        v.verified
          ? '✔ Verified in this browser: the record hashes to the batch root the program holds.'
          : v.proofValid
            ? `Proof valid in this browser; on chain: ${v.problem ?? v.chainProblem ?? 'not compared yet'}`
            : `✘ ${v.problem}`,
      ),
      h(
        'dl',
        {},
        h('dt', {}, 'leaf'),
        h('dd', {}, `position ${p.index} of ${p.jobCount} in batch ${p.batchIndex}`),
        h('dt', {}, 'path'),
        h('dd', {}, `${p.siblings.length} sibling hash(es) with their fee sums, SHA-256 (@noble/hashes)`),
        h('dt', {}, 'batch fees'),
        h('dd', {}, `${p.feeSum} lamports, the escrow the sequencer owes`),
        h('dt', {}, 'batch root'),
        h('dd', {}, short(p.batchRoot, 10)),
        h('dt', {}, 'root on chain'),
        h('dd', {}, v.rootOnChain === undefined ? '—' : v.rootOnChain ? 'matches' : 'differs'),
        h('dt', {}, 'record'),
        h(
          'dd',
          {},
          v.record
            ? `job ${short(v.record.jobId).textContent}, executor ${short(v.record.executor).textContent}`
            : '—',
        ),
        h('dt', {}, 'checked'),
        h('dd', {}, verifiedAt ?? '—'),
      ),
    );
  };

  // The proof is checked again when the job's batch or status changes (committed, then finalized).
  let checkedFor = '';
  const refresh = async () => {
    const j = await client.job(jobId);
    drawFacts(j);
    drawOutputs(j.outputs);
    const key = `${j.status}/${j.batch?.index ?? ''}`;
    if (j.proof && key !== checkedFor) {
      const v = await client.verify(j);
      verifiedAt = time(Date.now());
      checkedFor = key;
      drawProof(j, v);
    } else if (!j.proof) {
      checkedFor = '';
      proof.setAttribute('data-proof', 'none');
    }
  };

  (async () => {
    try {
      await refresh();
      for await (const e of client.watch(jobId, { signal: ctx.signal })) {
        events.push(e);
        drawTimeline();
        await refresh();
      }
    } catch (e) {
      if (ctx.signal.aborted) return;
      fill(problems, errorLine(e), h('p', {}, link('/', 'Back to batches')));
    }
  })();
}
