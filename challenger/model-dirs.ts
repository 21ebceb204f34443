// Models a challenger reads from its own directories before asking the sequencer. A model id is its file's SHA-256,
// so any copy will do: a sequencer that withholds a model's bytes, or serves them slowly, blocks no audit of a model
// the challenger already holds (docs/PROTOCOL.md "Withheld model bytes").
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OptinferError } from '../state/errors.ts';
import type { ModelId } from '../state/types.ts';
import { MODEL_BODY_MAX, type JobSource } from './source.ts';

/** Least time between two scans of the directories for a model they did not hold (files added meanwhile). */
export const MODEL_DIRS_RESCAN_MS = 60_000;

/**
 * Every .onnx file under `dirs`, subdirectories included. A subdirectory that cannot be read (a lost+found owned
 * by another user) is passed over, not the end of the scan; symbolic links to directories are not followed.
 */
async function onnxFiles(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const todo = [...dirs];
  while (todo.length > 0) {
    const dir = todo.pop()!;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) todo.push(path);
      else if (e.name.toLowerCase().endsWith('.onnx')) out.push(path);
    }
  }
  return out;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class ModelDirs {
  /** Model id -> path, from the last scan. */
  private readonly index = new Map<ModelId, string>();
  /** Path -> its size, mtime and hash when last hashed: a scan hashes only new or changed files. */
  private readonly hashed = new Map<string, { size: number; mtimeMs: number; id: ModelId }>();
  private scannedAt = -Infinity;
  private scanning: Promise<void> | null = null;

  private constructor(
    readonly dirs: readonly string[],
    private readonly rescanMs: number,
  ) {}

  /** Checks that every directory exists and can be listed; files are hashed when a model is first looked for. */
  static async open(dirs: readonly string[], rescanMs = MODEL_DIRS_RESCAN_MS): Promise<ModelDirs> {
    for (const d of dirs) {
      const s = await stat(d).catch(() => undefined);
      if (!s?.isDirectory())
        throw new OptinferError('INVALID_CONFIG', `--models ${d}: expected a directory of ONNX files`);
      await readdir(d).catch((e: Error) => {
        throw new OptinferError('INVALID_CONFIG', `--models ${d}: cannot be listed (${e.message})`);
      });
    }
    return new ModelDirs(dirs, rescanMs);
  }

  /**
   * The bytes of `modelId` from the directories, or undefined. A miss rescans them (every .onnx file, in
   * subdirectories too) at most once per rescan interval; a file is used only while its bytes hash to the id.
   */
  async find(modelId: ModelId): Promise<Uint8Array | undefined> {
    if (!this.index.has(modelId) && Date.now() - this.scannedAt >= this.rescanMs) await this.scan();
    const path = this.index.get(modelId);
    if (!path) return undefined;
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes && createHash('sha256').update(bytes).digest('hex') === modelId) return bytes;
    // Changed or removed since the scan: forgotten, so the next miss looks again.
    this.index.delete(modelId);
    this.hashed.delete(path);
    return undefined;
  }

  private scan(): Promise<void> {
    this.scanning ??= this.scanOnce().finally(() => {
      this.scannedAt = Date.now();
      this.scanning = null;
    });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const seen = new Set<string>();
    for (const path of await onnxFiles(this.dirs)) {
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile() || s.size > MODEL_BODY_MAX) continue;
      seen.add(path);
      const was = this.hashed.get(path);
      if (was && was.size === s.size && was.mtimeMs === s.mtimeMs) continue;
      const id = (await sha256File(path).catch(() => undefined)) as ModelId | undefined;
      if (id) this.hashed.set(path, { size: s.size, mtimeMs: s.mtimeMs, id });
    }
    for (const path of this.hashed.keys()) if (!seen.has(path)) this.hashed.delete(path);
    this.index.clear();
    for (const [path, { id }] of this.hashed) if (!this.index.has(id)) this.index.set(id, path);
  }
}

/** `source`, except that model bytes come from `dirs` when they hold the model, and from `source` otherwise. */
export function withModelDirs(source: JobSource, dirs: ModelDirs): JobSource {
  return {
    batch: (index) => source.batch(index),
    proof: (jobId) => source.proof(jobId),
    inputs: (jobId) => source.inputs(jobId),
    modelBytes: async (modelId) => (await dirs.find(modelId)) ?? source.modelBytes(modelId),
  };
}
