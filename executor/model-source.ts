// Where an executor gets a model by id: the shared registry, else the sequencer (HTTP or bus), checked against the id.
import type { Bus } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import { OptinferError } from '../state/errors.ts';
import type { ModelId } from '../state/types.ts';
import type { LoadedModel, ModelRegistry } from './model.ts';

export type ModelSource = (modelId: ModelId) => Promise<LoadedModel>;

/** `sequencerUrl` set: model bytes over HTTP (separate processes); otherwise over the bus. */
export function modelSource(o: { registry: ModelRegistry; bus: Bus; sequencerUrl?: string }): ModelSource {
  return async (modelId) => {
    const have = o.registry.get(modelId);
    if (have) return have;
    let bytes: Uint8Array;
    if (o.sequencerUrl) {
      const res = await fetch(`${o.sequencerUrl}/v1/models/${modelId}/file`);
      if (!res.ok)
        throw new OptinferError('NOT_FOUND', `model ${modelId}: sequencer answered HTTP ${res.status}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } else {
      const r = await messages.request(
        o.bus,
        messages.MODEL_FETCH,
        undefined,
        { modelId },
        { timeoutMs: 30_000 },
      );
      bytes = r.bytes;
    }
    const m = await o.registry.register(bytes);
    if (m.modelId !== modelId) {
      throw new OptinferError('INVALID_MODEL', `model ${modelId}: the bytes received hash to ${m.modelId}`);
    }
    return m;
  };
}
