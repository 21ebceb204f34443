// Registered models: the file on disk, the record in LevelDB, the on-chain registration, and the bytes executors fetch.
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bus, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { Logger } from '../common/log.ts';
import { OptinferError } from '../state/errors.ts';
import { sha256, hashHex } from '../state/hash.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { asModelId, type ModelId } from '../state/types.ts';
import type { Ledger } from './ledger.ts';
import type { ModelInfo, ModelInspector, Settlement } from './ports.ts';

export interface ModelsConfig {
  /** Model files live in `<dataDir>/models/<modelId>.onnx`. */
  dataDir: string;
  /** Maximum model file size accepted. */
  maxModelBytes: number;
}

export class ModelCatalog {
  private readonly models = new Map<ModelId, ModelInfo>();

  constructor(
    private readonly config: ModelsConfig,
    private readonly ledger: Ledger,
    private readonly inspector: ModelInspector,
    private readonly settlement: Pick<Settlement, 'registerModel'>,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Loads every registered model again, so inputs can be validated against it after a restart. */
  async recover(): Promise<void> {
    for (const [, m] of await this.ledger.models.entries()) {
      await this.inspector.inspect(this.readModelFile(m.modelId), m.name);
      // Finishes an on-chain registration a crash interrupted (a no-op when it is complete).
      if (m.provable && this.settlement.registerModel) await this.settlement.registerModel(m.modelId);
      this.models.set(m.modelId, m);
    }
  }

  /** Answers executors asking for a model's bytes. */
  serve(): Promise<Subscription> {
    return messages.reply(this.bus, messages.MODEL_FETCH, undefined, (m) => {
      const id = asModelId(m.modelId);
      return { modelId: id, bytes: this.bytes(id) };
    });
  }

  async register(bytes: Uint8Array, name: string): Promise<ModelInfo> {
    if (bytes.length > this.config.maxModelBytes) {
      throw new OptinferError(
        'PAYLOAD_TOO_LARGE',
        `model: expected at most ${this.config.maxModelBytes} bytes, got ${bytes.length}`,
      );
    }
    const modelId = hashHex(sha256(bytes)) as ModelId;
    const existing = this.models.get(modelId);
    if (existing) return existing;
    const inspected = await this.inspector.inspect(bytes, name);
    const info: ModelInfo = { ...inspected, modelId, registeredAt: Date.now() };
    // File first, then the record: a crash in between leaves an unreferenced file, never a dangling record.
    const path = this.modelPath(modelId);
    writeFileSync(path + '.tmp', bytes);
    renameSync(path + '.tmp', path);
    if (info.provable && this.settlement.registerModel) await this.settlement.registerModel(modelId);
    await this.ledger.write([this.ledger.models.put(modelId, info)]);
    this.models.set(modelId, info);
    messages.publish(this.bus, messages.MODEL_REGISTERED, undefined, { modelId, name: info.name });
    this.log.info({ modelId, model: info.name, provable: info.provable }, 'model registered');
    return info;
  }

  list(): ModelInfo[] {
    return [...this.models.values()].sort((a, b) => a.registeredAt - b.registeredAt);
  }

  get(modelId: ModelId): ModelInfo | undefined {
    return this.models.get(modelId);
  }

  /** Throws OptinferError INVALID_INPUT naming the input, what was wrong and what was expected. */
  validateInputs(model: ModelInfo, inputs: TensorMap): void {
    this.inspector.validateInputs(model, inputs);
  }

  bytes(modelId: ModelId): Uint8Array {
    if (!this.models.has(modelId)) throw new OptinferError('NOT_FOUND', `model ${modelId} is not registered`);
    return this.readModelFile(modelId);
  }

  private modelPath(modelId: ModelId): string {
    return join(this.config.dataDir, 'models', `${modelId}.onnx`);
  }

  private readModelFile(modelId: ModelId): Uint8Array {
    if (!existsSync(this.modelPath(modelId))) {
      throw new OptinferError(
        'STORE_CORRUPT',
        `model ${modelId} is registered but ${this.modelPath(modelId)} is missing`,
      );
    }
    return new Uint8Array(readFileSync(this.modelPath(modelId)));
  }
}
