// Registered models: uploads streamed to disk under a cap, the record in LevelDB, the on-chain registration, the bytes executors fetch.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bus, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { Logger } from '../common/log.ts';
import { OptinferError } from '../state/errors.ts';
import { elementSize, isDType } from '../state/tensor.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { asModelId, type ModelId } from '../state/types.ts';
import type { Ledger } from './ledger.ts';
import type { ModelInfo, ModelInspector, Settlement, TensorSpec } from './ports.ts';

export interface ModelsConfig {
  /** Model files live in `<dataDir>/models/<modelId>.onnx`; uploads in flight in `<dataDir>/models/incoming-*.part`. */
  dataDir: string;
  /** Maximum model file size accepted. */
  maxModelBytes: number;
  /**
   * Largest input or output a model may declare (static dims, symbolic ones counted as 1), in bytes. Default 16 MiB,
   * the job body limit: a larger input could never be submitted, and a larger declared output is refused at upload.
   */
  maxDeclaredTensorBytes?: number;
}

export const DEFAULT_MAX_DECLARED_TENSOR_BYTES = 16 * 1024 * 1024;

/** A model as it arrives: whole bytes (the demo model, tests) or a stream of chunks (an HTTP upload). */
export type ModelSource = Uint8Array | AsyncIterable<Uint8Array>;

const INCOMING = /^incoming-[0-9a-f-]+\.part$/;
const MODEL_FILE = /^([0-9a-f]{64})\.onnx$/;

export class ModelCatalog {
  private readonly models = new Map<ModelId, ModelInfo>();
  /** Inspections run one at a time: a model is read whole into memory to be inspected, so at most one is. */
  private admitting: Promise<unknown> = Promise.resolve();

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
    await this.removeStrays();
  }

  /** Uploads a crash interrupted, and files of models whose registration never completed, are deleted. */
  private async removeStrays(): Promise<void> {
    const dir = join(this.config.dataDir, 'models');
    if (!existsSync(dir)) return;
    for (const f of await readdir(dir)) {
      const id = MODEL_FILE.exec(f)?.[1];
      if (INCOMING.test(f) || (id !== undefined && !this.models.has(id as ModelId))) {
        await rm(join(dir, f), { force: true });
        this.log.info({ file: f }, 'removed an upload that was never registered');
      }
    }
  }

  /** Answers executors asking for a model's bytes. */
  serve(): Promise<Subscription> {
    return messages.reply(this.bus, messages.MODEL_FETCH, undefined, (m) => {
      const id = asModelId(m.modelId);
      return { modelId: id, bytes: this.bytes(id) };
    });
  }

  /**
   * Registers a model. The bytes are streamed to a temp file in the data dir while they are hashed and their size
   * capped (PAYLOAD_TOO_LARGE, as soon as the cap is passed). Only then is the file read and inspected, one model
   * at a time; it is renamed into place once accepted, and deleted whenever the model is refused, at any step.
   */
  async register(source: ModelSource, name: string): Promise<ModelInfo> {
    const max = this.config.maxModelBytes;
    if (source instanceof Uint8Array && source.length > max) {
      throw new OptinferError(
        'PAYLOAD_TOO_LARGE',
        `model: expected at most ${max} bytes, got ${source.length}`,
      );
    }
    const incoming = await this.receive(source instanceof Uint8Array ? [source] : source);
    try {
      const admitted = this.admitting.then(() => this.admit(incoming, name));
      this.admitting = admitted.catch(() => {});
      return await admitted;
    } finally {
      // Already renamed into place when the model was accepted.
      await rm(incoming.path, { force: true });
    }
  }

  private async receive(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): Promise<{ path: string; modelId: ModelId; size: number }> {
    const max = this.config.maxModelBytes;
    const path = join(this.config.dataDir, 'models', `incoming-${randomUUID()}.part`);
    const file = await open(path, 'wx');
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > max) {
          throw new OptinferError('PAYLOAD_TOO_LARGE', `model: expected at most ${max} bytes, got more`);
        }
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.close();
    } catch (e) {
      await file.close().catch(() => {});
      await rm(path, { force: true });
      throw e;
    }
    return { path, modelId: hash.digest('hex') as ModelId, size };
  }

  private async admit(
    incoming: { path: string; modelId: ModelId; size: number },
    name: string,
  ): Promise<ModelInfo> {
    const { modelId } = incoming;
    const existing = this.models.get(modelId);
    if (existing) return existing;
    const bytes = await readWhole(incoming.path, incoming.size);
    const inspected = await this.inspector.inspect(bytes, name);
    this.checkDeclaredSizes(inspected, name);
    const info: ModelInfo = { ...inspected, modelId, registeredAt: Date.now() };
    // File first, then the record: a crash in between leaves an unreferenced file (deleted by recover), never a
    // dangling record; a refusal in between deletes the file at once.
    const path = this.modelPath(modelId);
    await rename(incoming.path, path);
    try {
      if (info.provable && this.settlement.registerModel) await this.settlement.registerModel(modelId);
      await this.ledger.write([this.ledger.models.put(modelId, info)]);
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    }
    this.models.set(modelId, info);
    messages.publish(this.bus, messages.MODEL_REGISTERED, undefined, { modelId, name: info.name });
    this.log.info({ modelId, model: info.name, provable: info.provable }, 'model registered');
    return info;
  }

  /** Refuses a model declaring an input or output larger than a job could carry (e.g. dims [1e9, 1e9]). */
  private checkDeclaredSizes(m: { inputs: TensorSpec[]; outputs: TensorSpec[] }, name: string): void {
    const max = BigInt(this.config.maxDeclaredTensorBytes ?? DEFAULT_MAX_DECLARED_TENSOR_BYTES);
    for (const [kind, specs] of [
      ['input', m.inputs],
      ['output', m.outputs],
    ] as const) {
      for (const s of specs) {
        if (!isDType(s.dtype)) continue;
        let bytes = BigInt(elementSize(s.dtype));
        for (const d of s.dims) if (typeof d === 'number' && d > 0) bytes *= BigInt(d);
        if (bytes > max) {
          const dims = `[${s.dims.map((d) => d ?? '?').join(',')}]`;
          throw new OptinferError(
            'INVALID_MODEL',
            `model '${name}': ${kind} '${s.name}' declares dims ${dims} of ${s.dtype}, ${bytes} bytes; expected at most ${max} bytes per ${kind}`,
            { [kind]: s.name },
          );
        }
      }
    }
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
      // Named relative to the data dir: this message can reach API clients and executors.
      throw new OptinferError(
        'STORE_CORRUPT',
        `model ${modelId} is registered but its file models/${modelId}.onnx is missing from the data dir`,
      );
    }
    return new Uint8Array(readFileSync(this.modelPath(modelId)));
  }
}

/**
 * A file read into one buffer of its size. fs.promises.readFile reads in chunks and joins them, which holds twice
 * the file at its peak: 500 MB more RSS for a 250 MB upload.
 */
async function readWhole(path: string, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  const file = await open(path, 'r');
  try {
    for (let at = 0; at < size;) {
      const { bytesRead } = await file.read(out, at, Math.min(size - at, 8 << 20), at);
      if (bytesRead === 0)
        throw new OptinferError(
          'INTERNAL',
          `an upload shrank on disk while it was read (${at} of ${size} bytes)`,
        );
      at += bytesRead;
    }
  } finally {
    await file.close();
  }
  return out;
}

/** ModelProto's fields (onnx.proto) and their wire types: 0 varint, 2 length-delimited. Others are skipped. */
const MODEL_PROTO_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, 0], // ir_version
  [2, 2], // producer_name
  [3, 2], // producer_version
  [4, 2], // domain
  [5, 0], // model_version
  [6, 2], // doc_string
  [7, 2], // graph
  [8, 2], // opset_import
  [14, 2], // metadata_props
  [20, 2], // training_info
  [25, 2], // functions
  [26, 2], // configuration
]);

/**
 * Walks a ModelProto's top-level fields as an upload streams in, skipping each field's payload unread: junk is
 * refused within its first bytes, before it is stored whole or read into memory. The full decode comes after.
 */
export class ModelProtoScan {
  private offset = 0;
  /** What the next bytes are: a tag, a varint value, a length, or payload to skip. */
  private state: 'tag' | 'varint' | 'length' | 'skip' = 'tag';
  private varint = 0;
  private varintBytes = 0;
  private skip = 0;
  private fieldStart = 0;
  private field = 0;
  private readonly seen = new Set<number>();

  constructor(private readonly what: string) {}

  private fail(why: string): never {
    throw new OptinferError(
      'INVALID_MODEL',
      `${this.what}: expected an ONNX model (protobuf ModelProto), but ${why}; the file is truncated or not ONNX`,
    );
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'skip') {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        this.offset += n;
        if (this.skip === 0) this.state = 'tag';
        continue;
      }
      const b = chunk[i++];
      this.offset++;
      if (this.varintBytes === 0 && this.state === 'tag') this.fieldStart = this.offset - 1;
      // Varints of up to 7 bytes (49 bits) stay exact as numbers; larger tags or lengths are not ONNX's.
      this.varint += (b & 0x7f) * 2 ** (7 * this.varintBytes);
      this.varintBytes++;
      if (b & 0x80) {
        if (this.varintBytes >= (this.state === 'varint' ? 10 : 7))
          this.fail(`the varint at byte ${this.fieldStart} is too long`);
        continue;
      }
      const v = this.varint;
      this.varint = 0;
      this.varintBytes = 0;
      if (this.state === 'tag') this.onTag(v);
      else if (this.state === 'varint') this.state = 'tag';
      else this.onLength(v);
    }
  }

  private onTag(tag: number): void {
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    const at = `byte ${this.fieldStart}`;
    if (field === 0) this.fail(`${at} starts a field numbered 0`);
    const want = MODEL_PROTO_FIELDS.get(field);
    if (want !== undefined && want !== wire)
      this.fail(`${at} starts field ${field} with wire type ${wire}, expected ${want}`);
    this.field = field;
    this.seen.add(field);
    if (wire === 0) this.state = 'varint';
    else if (wire === 2) this.state = 'length';
    else if (wire === 1 || wire === 5) {
      this.skip = wire === 1 ? 8 : 4;
      this.state = 'skip';
    } else this.fail(`${at} starts field ${field} with wire type ${wire}, which ONNX does not use`);
  }

  private onLength(n: number): void {
    this.skip = n;
    this.state = n === 0 ? 'tag' : 'skip';
  }

  /** Throws when the bytes ended inside a field, or without the ir_version and graph every model has. */
  end(): void {
    if (this.offset === 0) this.fail('the body is empty');
    if (this.state !== 'tag' || this.varintBytes > 0)
      this.fail(
        `the ${this.offset} bytes end inside field ${this.field} (started at byte ${this.fieldStart})`,
      );
    if (!this.seen.has(1)) this.fail('it has no ir_version (field 1)');
    if (!this.seen.has(7)) this.fail('it has no graph (field 7)');
  }
}
