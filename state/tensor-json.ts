// The JSON form of named tensors (job inputs and outputs) and its strict decoding into canonical tensors.
import { OptinferError } from './errors.ts';
import {
  DTYPES,
  canonicalizeNaNs,
  elementCount,
  elementSize,
  isDType,
  type DType,
  type Tensor,
} from './tensor.ts';

/** One tensor as it travels in JSON; data is an array of numbers (or decimal strings) or raw base64 bytes. */
export interface TensorJson {
  dtype: DType;
  dims: number[];
  data: (number | string | boolean)[] | { base64: string };
}

const INT_RANGE: Partial<Record<DType, [bigint, bigint]>> = {
  uint8: [0n, 255n],
  int8: [-128n, 127n],
  uint16: [0n, 65535n],
  int16: [-32768n, 32767n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bad(name: string, message: string): OptinferError {
  return new OptinferError('INVALID_INPUT', `input '${name}': ${message}`, { input: name });
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
}

/**
 * Decodes `{"inputs": {NAME: {dtype, dims, data}}}` (or the bare `{NAME: ...}` map) into canonical tensors.
 * Every problem is an INVALID_INPUT error naming the input, what was found and what was expected.
 */
export function decodeInputsJson(doc: unknown): Record<string, Tensor> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new OptinferError(
      'INVALID_INPUT',
      `inputs: expected a JSON object {"inputs": {...}}, got ${show(doc)}`,
    );
  }
  const map = 'inputs' in doc ? (doc as { inputs: unknown }).inputs : doc;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new OptinferError(
      'INVALID_INPUT',
      `inputs: expected an object mapping input names to tensors, got ${show(map)}`,
    );
  }
  const out: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(map as Record<string, unknown>)) {
    // defineProperty: an input named __proto__ is an input, not the object's prototype (review 24).
    Object.defineProperty(out, name, {
      value: decodeTensorJson(name, value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Parses JSON text, mapping syntax errors to INVALID_INPUT, then decodes it as inputs. */
export function parseInputsJson(text: string, what = 'input JSON'): Record<string, Tensor> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new OptinferError(
      'INVALID_INPUT',
      `${what}: expected valid JSON, got a syntax error (${(e as Error).message})`,
    );
  }
  return decodeInputsJson(doc);
}

export function decodeTensorJson(name: string, value: unknown): Tensor {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(name, `expected an object {dtype, dims, data}, got ${show(value)}`);
  }
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) {
    if (k !== 'dtype' && k !== 'dims' && k !== 'data') {
      throw bad(name, `unexpected field '${k}', expected only dtype, dims and data`);
    }
  }
  if (!isDType(v.dtype)) {
    throw bad(name, `expected dtype to be one of ${DTYPES.join(', ')}, got ${show(v.dtype)}`);
  }
  const dtype = v.dtype;
  if (!Array.isArray(v.dims) || !v.dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw bad(name, `expected dims to be an array of non-negative integers, got ${show(v.dims)}`);
  }
  if (v.dims.length > 255) throw bad(name, `expected at most 255 dims, got ${v.dims.length}`);
  const dims = v.dims as number[];
  const count = elementCount(dims);
  const size = elementSize(dtype);
  if (!Number.isSafeInteger(count * size)) throw bad(name, `dims [${dims.join(',')}] are too large`);
  const dimsText = `[${dims.join(',')}]`;

  if (v.data !== null && typeof v.data === 'object' && !Array.isArray(v.data)) {
    const b = v.data as Record<string, unknown>;
    if (typeof b.base64 !== 'string' || Object.keys(b).length !== 1) {
      throw bad(
        name,
        `expected data to be an array or {"base64": "..."}, got an object with keys ${Object.keys(b).join(',')}`,
      );
    }
    const clean = b.base64.replace(/\s+/g, '');
    if (!BASE64.test(clean) || clean.length % 4 === 1)
      throw bad(name, 'expected data.base64 to be valid base64');
    const bytes = new Uint8Array(Buffer.from(clean, 'base64'));
    if (bytes.length !== count * size) {
      throw bad(
        name,
        `expected ${count * size} bytes (${count} ${dtype} elements) for dims ${dimsText}, got ${bytes.length}`,
      );
    }
    if (dtype === 'bool' && bytes.some((x) => x > 1)) throw bad(name, 'expected bool bytes to be 0 or 1');
    return { dtype, dims: [...dims], data: bytes };
  }
  if (!Array.isArray(v.data)) {
    throw bad(name, `expected data to be an array or {"base64": "..."}, got ${show(v.data)}`);
  }
  const arr = v.data as unknown[];
  if (arr.length !== count) {
    throw bad(name, `expected ${count} elements for dims ${dimsText}, got ${arr.length}`);
  }
  const data = new Uint8Array(count * size);
  const view = new DataView(data.buffer);
  for (let i = 0; i < count; i++) writeElement(name, dtype, view, i, arr[i]);
  return { dtype, dims: [...dims], data };
}

function writeElement(name: string, dtype: DType, view: DataView, i: number, x: unknown): void {
  const at = () => `element ${i}`;
  switch (dtype) {
    case 'float32':
    case 'float64':
    case 'float16': {
      const f = floatValue(x);
      if (f === undefined) throw bad(name, `${at()}: expected a number, got ${show(x)}`);
      if (dtype === 'float32') view.setFloat32(i * 4, f, true);
      else if (dtype === 'float64') view.setFloat64(i * 8, f, true);
      else view.setUint16(i * 2, toHalf(f), true);
      return;
    }
    case 'bool': {
      if (x === true || x === 1) view.setUint8(i, 1);
      else if (x === false || x === 0) view.setUint8(i, 0);
      else throw bad(name, `${at()}: expected true, false, 0 or 1, got ${show(x)}`);
      return;
    }
    default: {
      const n = intValue(x);
      const [lo, hi] = INT_RANGE[dtype]!;
      if (n === undefined) throw bad(name, `${at()}: expected an integer, got ${show(x)}`);
      if (n < lo || n > hi)
        throw bad(name, `${at()}: expected an integer in ${dtype} range [${lo}, ${hi}], got ${n}`);
      const off = i * elementSize(dtype);
      if (dtype === 'int64') view.setBigInt64(off, n, true);
      else if (dtype === 'uint64') view.setBigUint64(off, n, true);
      else if (dtype === 'int32') view.setInt32(off, Number(n), true);
      else if (dtype === 'uint32') view.setUint32(off, Number(n), true);
      else if (dtype === 'int16') view.setInt16(off, Number(n), true);
      else if (dtype === 'uint16') view.setUint16(off, Number(n), true);
      else if (dtype === 'int8') view.setInt8(off, Number(n));
      else view.setUint8(off, Number(n));
    }
  }
}

function floatValue(x: unknown): number | undefined {
  if (typeof x === 'number') return x;
  // JSON has no NaN/Infinity literals; accept them spelled as strings so any float tensor round-trips.
  if (x === 'NaN') return NaN;
  if (x === 'Infinity') return Infinity;
  if (x === '-Infinity') return -Infinity;
  if (x === '-0') return -0;
  return undefined;
}

function intValue(x: unknown): bigint | undefined {
  if (typeof x === 'number') return Number.isSafeInteger(x) ? BigInt(x) : undefined;
  if (typeof x === 'string' && /^-?\d{1,20}$/.test(x)) return BigInt(x);
  return undefined;
}

/** Round-to-nearest-even float64 → IEEE binary16 bits. */
function toHalf(f: number): number {
  const f32 = new Float32Array([f]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

function fromHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * Encodes one canonical tensor as JSON: numbers, with 64-bit integers beyond 2^53 as decimal strings. A float tensor
 * holding a NaN other than its dtype's canonical one (a user's input may) travels as {"base64": ...}: numbers would
 * turn every NaN canonical and change the tensor's digest.
 */
export function encodeTensorJson(t: Tensor): TensorJson {
  if (hasOtherNaN(t))
    return { dtype: t.dtype, dims: [...t.dims], data: { base64: Buffer.from(t.data).toString('base64') } };
  const n = elementCount(t.dims);
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const data: (number | string | boolean)[] = new Array(n);
  const size = elementSize(t.dtype);
  for (let i = 0; i < n; i++) {
    const off = i * size;
    switch (t.dtype) {
      case 'float32':
        data[i] = jsonFloat(view.getFloat32(off, true));
        break;
      case 'float64':
        data[i] = jsonFloat(view.getFloat64(off, true));
        break;
      case 'float16':
        data[i] = jsonFloat(fromHalf(view.getUint16(off, true)));
        break;
      case 'bool':
        data[i] = view.getUint8(off) !== 0;
        break;
      case 'int64':
      case 'uint64': {
        const b = t.dtype === 'int64' ? view.getBigInt64(off, true) : view.getBigUint64(off, true);
        data[i] =
          b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(b)
            : b.toString();
        break;
      }
      case 'int32':
        data[i] = view.getInt32(off, true);
        break;
      case 'uint32':
        data[i] = view.getUint32(off, true);
        break;
      case 'int16':
        data[i] = view.getInt16(off, true);
        break;
      case 'uint16':
        data[i] = view.getUint16(off, true);
        break;
      case 'int8':
        data[i] = view.getInt8(off);
        break;
      case 'uint8':
        data[i] = view.getUint8(off);
        break;
    }
  }
  return { dtype: t.dtype, dims: [...t.dims], data };
}

/** True when a float element is a NaN whose bits differ from its dtype's canonical NaN. */
function hasOtherNaN(t: Tensor): boolean {
  const bytes = t.data;
  if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'float64') return false;
  const copy = canonicalizeNaNs(t.dtype, Uint8Array.from(bytes));
  return Buffer.compare(copy, bytes) !== 0;
}

function jsonFloat(f: number): number | string {
  // JSON.stringify(-0) is "0": keep the sign bit so outputs re-encode to the same digest.
  if (Object.is(f, -0)) return '-0';
  return Number.isFinite(f) ? f : String(f);
}

export function encodeTensorsJson(tensors: Record<string, Tensor>): Record<string, TensorJson> {
  return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, encodeTensorJson(t)]));
}
