// The submit form: pick a registered model (the dev node's demo model first), edit or draw its inputs, send the job, follow it.
import type { ModelInfo, TensorJson } from '../../../client/index.ts';
import { errorLine, fill, h } from '../dom.ts';
import type { ViewContext } from '../main.ts';

const INT_RANGE: Record<string, [number, number]> = {
  int8: [-25, 25],
  uint8: [0, 50],
  int16: [-100, 100],
  int32: [-100, 100],
  int64: [-100, 100],
};

/** Random inputs of the model's declared shapes (a symbolic dimension is 1). */
export function sampleInputs(m: ModelInfo): Record<string, TensorJson> {
  const out: Record<string, TensorJson> = {};
  for (const i of m.inputs) {
    const dims = i.dims.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const [lo, hi] = INT_RANGE[i.dtype] ?? [-1, 1];
    const data = Array.from({ length: n }, () =>
      i.dtype === 'bool'
        ? Math.random() < 0.5
        : i.dtype in INT_RANGE
          ? lo + Math.floor(Math.random() * (hi - lo + 1))
          : Math.round((Math.random() * 2 - 1) * 1000) / 1000,
    );
    out[i.name] = { dtype: i.dtype, dims, data };
  }
  return out;
}

export function submitView(ctx: ViewContext): void {
  const { client, root } = ctx;
  const problems = h('div');
  const select = h('select', { id: 'model', name: 'model', 'data-testid': 'model' });
  const inputs = h('textarea', {
    id: 'inputs',
    name: 'inputs',
    rows: 8,
    spellcheck: false,
    'data-testid': 'inputs',
  });
  const fee = h('input', {
    id: 'fee',
    name: 'fee',
    inputmode: 'numeric',
    placeholder: 'default',
    'data-testid': 'fee',
  });
  const send = h('button', { type: 'submit', 'data-testid': 'submit' }, 'Submit job');
  let models: ModelInfo[] = [];
  const draw = () => {
    const m = models.find((x) => x.modelId === select.value);
    if (m) inputs.value = JSON.stringify(sampleInputs(m));
  };
  const form = h(
    'form',
    {
      class: 'card submit',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        fill(problems);
        let parsed: Record<string, TensorJson>;
        try {
          parsed = JSON.parse(inputs.value);
        } catch (err) {
          fill(
            problems,
            errorLine(
              new Error(`inputs: expected JSON {"NAME": {dtype, dims, data}} (${(err as Error).message})`),
            ),
          );
          return;
        }
        send.disabled = true;
        try {
          const feeText = fee.value.trim();
          const { jobId } = await client.submit({
            modelId: select.value,
            inputs: parsed,
            ...(feeText && { fee: feeText }),
          });
          ctx.go(`/jobs/${jobId}`);
        } catch (err) {
          fill(problems, errorLine(err));
        } finally {
          send.disabled = false;
        }
      },
    },
    h('label', { for: 'model' }, 'Model'),
    select,
    h('label', { for: 'inputs' }, 'Inputs (JSON tensors)'),
    inputs,
    h('button', { type: 'button', class: 'secondary', onclick: draw }, 'New random inputs'),
    h('label', { for: 'fee' }, 'Fee (lamports, optional)'),
    fee,
    send,
  );
  fill(root, h('h1', {}, 'Submit a job'), problems, form);
  (async () => {
    try {
      models = await client.models();
      fill(
        select,
        models.map((m) =>
          h(
            'option',
            { value: m.modelId },
            `${m.name} (${m.modelId.slice(0, 10)}…)${m.provable === false ? ' · not provable' : ''}`,
          ),
        ),
      );
      draw();
      select.addEventListener('change', draw);
    } catch (e) {
      fill(problems, errorLine(e));
    }
  })();
}
