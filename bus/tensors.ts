// Compact binary form of a tensor map for the bus: names, dtype codes, dims and raw bytes in one blob (no JSON, no base64).
import { BusError } from './bus.ts';
import {
  DTYPE_CODES,
  dtypeFromCode,
  elementCount,
  elementSize,
  isDType,
  type Tensor,
} from '../state/tensor.ts';
import type { TensorMap } from '../state/tensor-map.ts';

/**
 * Layout, little-endian: 'T' 'M' version(1), u16 tensor count, then per tensor: u16 name length, the UTF-8 name,
 * u8 dtype (ONNX code, state/tensor.ts), u8 rank, rank x u32 dims, u32 data length, the data bytes.
 */
const MAGIC0 = 0x54; // 'T'
const MAGIC1 = 0x4d; // 'M'
const VERSION = 1;
const MAX_COUNT = 0xffff;
const MAX_NAME = 0xffff;
const MAX_RANK = 0xff;
const MAX_U32 = 0xffff_ffff;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bad(what: string, why: string): BusError {
  return new BusError('INVALID_MESSAGE', `${what}: ${why}`);
}

/** Encodes a tensor map; a tensor whose bytes do not match its dtype and dims is refused, naming it. */
export function encodeTensors(m: TensorMap, what = 'tensor map'): Uint8Array {
  if (m === null || typeof m !== 'object') throw bad(what, 'expected an object of tensors');
  const entries = Object.entries(m);
  if (entries.length > MAX_COUNT) throw bad(what, `${entries.length} tensors, at most ${MAX_COUNT}`);
  const names: Uint8Array[] = [];
  let size = 5;
  for (const [name, t] of entries) {
    const at = `${what}.${name}`;
    if (!t || typeof t !== 'object') throw bad(at, 'expected {dtype, dims, data}');
    if (!isDType(t.dtype)) throw bad(at, `unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.dims) || t.dims.length > MAX_RANK)
      throw bad(at, `dims must be an array of at most ${MAX_RANK} entries`);
    if (!t.dims.every((d) => Number.isInteger(d) && d >= 0 && d <= MAX_U32))
      throw bad(at, `dims must be integers in 0..${MAX_U32}, got [${t.dims.join(',')}]`);
    if (!(t.data instanceof Uint8Array)) throw bad(at, 'data must be a Uint8Array');
    const want = elementCount(t.dims) * elementSize(t.dtype);
    if (t.data.byteLength !== want)
      throw bad(at, `${t.dtype} [${t.dims.join(',')}] needs ${want} bytes, data has ${t.data.byteLength}`);
    if (t.data.byteLength > MAX_U32) throw bad(at, `data of ${t.data.byteLength} bytes exceeds ${MAX_U32}`);
    const n = utf8.encode(name);
    if (n.byteLength > MAX_NAME) throw bad(at, `name of ${n.byteLength} bytes, at most ${MAX_NAME}`);
    names.push(n);
    size += 2 + n.byteLength + 2 + 4 * t.dims.length + 4 + t.data.byteLength;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = VERSION;
  view.setUint16(3, entries.length, true);
  let p = 5;
  entries.forEach(([, t], i) => {
    view.setUint16(p, names[i].byteLength, true);
    out.set(names[i], p + 2);
    p += 2 + names[i].byteLength;
    out[p] = DTYPE_CODES[t.dtype];
    out[p + 1] = t.dims.length;
    p += 2;
    for (const d of t.dims) {
      view.setUint32(p, d, true);
      p += 4;
    }
    view.setUint32(p, t.data.byteLength, true);
    out.set(t.data, p + 4);
    p += 4 + t.data.byteLength;
  });
  return out;
}

/** Decodes encodeTensors' output; anything malformed is INVALID_MESSAGE saying what and where. */
export function decodeTensors(data: Uint8Array, what = 'tensor map'): TensorMap {
  if (!(data instanceof Uint8Array)) throw bad(what, 'expected the bytes of an encoded tensor map');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let p = 0;
  const need = (n: number, field: string): void => {
    if (p + n > data.byteLength)
      throw bad(what, `truncated at byte ${p}: ${field} needs ${n} bytes, ${data.byteLength - p} left`);
  };
  need(5, 'the header');
  if (data[0] !== MAGIC0 || data[1] !== MAGIC1) throw bad(what, 'not an encoded tensor map (bad magic)');
  if (data[2] !== VERSION) throw bad(what, `unsupported tensor map version ${data[2]} (expected ${VERSION})`);
  const count = view.getUint16(3, true);
  p = 5;
  const out: TensorMap = {};
  for (let i = 0; i < count; i++) {
    need(2, `tensor ${i}'s name length`);
    const nameLen = view.getUint16(p, true);
    p += 2;
    need(nameLen, `tensor ${i}'s name`);
    let name: string;
    try {
      name = utf8Decoder.decode(data.subarray(p, p + nameLen));
    } catch {
      throw bad(what, `tensor ${i}'s name is not valid UTF-8`);
    }
    p += nameLen;
    const at = `${what}.${name}`;
    if (Object.hasOwn(out, name)) throw bad(at, 'appears twice');
    need(2, `${at}'s dtype and rank`);
    const dtype = dtypeFromCode(data[p]);
    if (!dtype) throw bad(at, `unknown dtype code ${data[p]}`);
    const rank = data[p + 1];
    p += 2;
    need(4 * rank, `${at}'s dims`);
    const dims: number[] = [];
    for (let r = 0; r < rank; r++, p += 4) dims.push(view.getUint32(p, true));
    need(4, `${at}'s data length`);
    const len = view.getUint32(p, true);
    p += 4;
    const want = elementCount(dims) * elementSize(dtype);
    if (len !== want)
      throw bad(at, `${dtype} [${dims.join(',')}] needs ${want} bytes, the frame says ${len}`);
    need(len, `${at}'s data`);
    // A copy: aligned for typed-array views, and owned by the receiver.
    const t: Tensor = { dtype, dims, data: data.slice(p, p + len) };
    p += len;
    // defineProperty: a tensor named "__proto__" stays a tensor, not the map's prototype.
    Object.defineProperty(out, name, { value: t, enumerable: true, writable: true, configurable: true });
  }
  if (p !== data.byteLength) throw bad(what, `${data.byteLength - p} bytes left over after ${count} tensors`);
  return out;
}
