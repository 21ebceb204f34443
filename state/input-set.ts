// The posted form of a job's inputs for data availability (answer_data checks it against the record's input digest).
import { OptinferError } from './errors.ts';
import { u16, u32 } from './le.ts';
import { encodeTensorHeader } from './optable.ts';
import {
  DTYPE_CODES,
  checkTensor,
  elementSize,
  isDType,
  isWellFormedText,
  tensorNameBytes,
  tensorNameFromBytes,
  type DType,
  type Tensor,
} from './tensor.ts';

/**
 * Largest posted input set, in bytes (programs/optinfer/src/state/data_request.rs MAX_DATA_BYTES): the
 * sequencer refuses a job whose inputs post larger, so every data request can be answered in time.
 */
export const MAX_INPUT_SET_BYTES = 32 * 1024;
/** Most tensors and longest name a posted input set may carry (pure/input_set.rs). */
export const MAX_INPUT_SET_TENSORS = 16;
export const MAX_INPUT_SET_NAME = 64;

const DTYPE_OF_CODE = new Map<number, DType>(Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as DType]));

const sortedNames = (named: Record<string, Tensor>) =>
  Object.keys(named)
    .map((n) => [n, tensorNameBytes(n)] as const)
    .sort((a, b) => Buffer.compare(a[1], b[1]));

/** Bytes `named` takes posted: u32 count, then per tensor u16 nameLen, name, u8 dtype, u8 rank, u64 dims, bytes. */
export function inputSetBytes(named: Record<string, Tensor>): number {
  let n = 4;
  for (const [name, t] of Object.entries(named))
    n += 2 + tensorNameBytes(name).length + 2 + 8 * t.dims.length + t.data.length;
  return n;
}

/**
 * Refuses inputs that could not be posted on chain in a data request's answer time: more than
 * MAX_INPUT_SET_BYTES posted, more than MAX_INPUT_SET_TENSORS tensors, or a name past MAX_INPUT_SET_NAME bytes.
 */
export function checkInputSetSize(named: Record<string, Tensor>): void {
  const names = Object.keys(named);
  if (names.length > MAX_INPUT_SET_TENSORS)
    throw new OptinferError(
      'INVALID_INPUT',
      `inputs: ${names.length} tensors, at most ${MAX_INPUT_SET_TENSORS} (data availability)`,
    );
  for (const n of names) {
    // A name is text: a lone surrogate (JSON allows "\udcff") would name bytes that are not UTF-8, or none.
    if (!isWellFormedText(n))
      throw new OptinferError(
        'INVALID_INPUT',
        `input ${JSON.stringify(n)}: expected a name of well-formed Unicode text (it holds a lone surrogate)`,
      );
    if (Buffer.byteLength(n, 'utf8') > MAX_INPUT_SET_NAME)
      throw new OptinferError(
        'INVALID_INPUT',
        `input '${n}': name longer than ${MAX_INPUT_SET_NAME} bytes (data availability)`,
      );
  }
  const bytes = inputSetBytes(named);
  if (bytes > MAX_INPUT_SET_BYTES)
    throw new OptinferError(
      'INVALID_INPUT',
      `inputs: ${bytes} bytes posted, at most ${MAX_INPUT_SET_BYTES}: a data request could not be answered on chain in time`,
    );
}

/** The posted form of `named` (names in byte order, as the tensor-set digest hashes them). */
export function encodeInputSet(named: Record<string, Tensor>): Buffer {
  const parts: Uint8Array[] = [];
  const names = sortedNames(named);
  parts.push(u32(names.length));
  for (const [n, nb] of names) {
    const t = named[n] as Tensor;
    checkTensor(t, `input '${n}'`);
    parts.push(u16(nb.length), nb, encodeTensorHeader({ dtype: DTYPE_CODES[t.dtype], dims: t.dims }), t.data);
  }
  return Buffer.concat(parts);
}

/** Parses a posted input set (what an answered data request's buffer holds). */
export function decodeInputSet(buf: Uint8Array): Record<string, Tensor> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const bad = (why: string) => new OptinferError('INVALID_INPUT', `posted input set: ${why}`);
  let at = 0;
  const need = (n: number) => {
    if (at + n > b.length) throw bad(`truncated at byte ${at}`);
  };
  need(4);
  const count = b.readUInt32LE(at);
  at += 4;
  const out: Record<string, Tensor> = {};
  for (let i = 0; i < count; i++) {
    need(2);
    const len = b.readUInt16LE(at);
    at += 2;
    need(len + 2);
    // Bytes that are not UTF-8 are kept (tensorNameFromBytes): the program takes them, and the digest hashes them.
    const name = tensorNameFromBytes(b.subarray(at, at + len));
    at += len;
    const code = b[at] as number;
    const rank = b[at + 1] as number;
    at += 2;
    const dtype = DTYPE_OF_CODE.get(code);
    if (!dtype || !isDType(dtype)) throw bad(`tensor '${name}': dtype code ${code} not carried`);
    need(8 * rank);
    const dims: number[] = [];
    for (let k = 0; k < rank; k++) dims.push(Number(b.readBigUInt64LE(at + 8 * k)));
    at += 8 * rank;
    const n = dims.reduce((x, y) => x * y, 1) * elementSize(dtype);
    need(n);
    // defineProperty: an input named __proto__ is an input, not the object's prototype (review 24).
    Object.defineProperty(out, name, {
      value: { dtype, dims, data: Buffer.from(b.subarray(at, at + n)) },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    at += n;
  }
  if (at !== b.length) throw bad(`${b.length - at} bytes past the last tensor`);
  return out;
}
