// A small ONNX model builder for the project's own test and demo models, encoding with the full schema.
import { DTYPE_CODES, type DType, type Tensor } from '../../state/tensor.ts';
import { OptinferError } from '../../state/errors.ts';
import { ATTR, encodeModel, onnxTypes, type GraphProto, type ModelProto, type NodeProto } from './schema.ts';

export type AttrValue =
  number | number[] | string | Tensor | GraphProto | { float: number } | { floats: number[] };

export interface ValueDecl {
  name: string;
  dtype: DType;
  /** A string is a symbolic dim. */
  dims: (number | string)[];
}

export function tensorProto(name: string, t: Tensor): unknown {
  return onnxTypes.TensorProto.create({
    name,
    dims: t.dims,
    data_type: DTYPE_CODES[t.dtype],
    raw_data: t.data,
  });
}

export function valueInfo(v: ValueDecl): unknown {
  return onnxTypes.ValueInfoProto.create({
    name: v.name,
    type: {
      tensor_type: {
        elem_type: DTYPE_CODES[v.dtype],
        shape: { dim: v.dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) },
      },
    },
  });
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'data' in v;
}

function attribute(name: string, v: AttrValue): unknown {
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: ATTR.INT, i: v } : { name, type: ATTR.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: ATTR.STRING, s: Buffer.from(v, 'utf8') };
  if (Array.isArray(v)) return { name, type: ATTR.INTS, ints: v };
  if ('float' in v) return { name, type: ATTR.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: ATTR.FLOATS, floats: v.floats };
  if (isTensor(v)) return { name, type: ATTR.TENSOR, t: tensorProto('', v) };
  return { name, type: ATTR.GRAPH, g: v };
}

export function node(
  op: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  name = `${op}_${outputs[0]}`,
): NodeProto {
  return onnxTypes.NodeProto.create({
    op_type: op,
    input: inputs,
    output: outputs,
    name,
    attribute: Object.entries(attrs).map(([k, v]) =>
      onnxTypes.AttributeProto.create(attribute(k, v) as object),
    ),
  }) as unknown as NodeProto;
}

export interface GraphSpec {
  name: string;
  inputs: ValueDecl[];
  outputs: ValueDecl[];
  nodes: NodeProto[];
  initializers?: Record<string, Tensor>;
}

export function graph(s: GraphSpec): GraphProto {
  return onnxTypes.GraphProto.create({
    name: s.name,
    input: s.inputs.map(valueInfo),
    output: s.outputs.map(valueInfo),
    node: s.nodes,
    initializer: Object.entries(s.initializers ?? {}).map(([k, t]) => tensorProto(k, t)),
  }) as unknown as GraphProto;
}

/** Encodes a model with IR version 8 and the default-domain opset given (13 unless stated). */
export function buildModel(s: GraphSpec & { opset?: number; producer?: string }): Uint8Array {
  const m = onnxTypes.ModelProto.create({
    ir_version: 8,
    producer_name: s.producer ?? 'optinfer-builder',
    opset_import: [{ domain: '', version: s.opset ?? 13 }],
    graph: graph(s),
  }) as unknown as ModelProto;
  return encodeModel(m);
}

/** Canonical tensor from plain numbers, for building initializers. */
export function tensorOf(dtype: DType, dims: number[], values: ArrayLike<number>): Tensor {
  const ctor = {
    float32: Float32Array,
    float64: Float64Array,
    int8: Int8Array,
    uint8: Uint8Array,
    int16: Int16Array,
    uint16: Uint16Array,
    int32: Int32Array,
    uint32: Uint32Array,
    bool: Uint8Array,
  } as const;
  if (dtype === 'int64' || dtype === 'uint64') {
    const a = dtype === 'int64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
    for (let i = 0; i < values.length; i++) a[i] = BigInt(values[i]);
    return { dtype, dims, data: new Uint8Array(a.buffer) };
  }
  if (dtype === 'float16')
    throw new OptinferError('INVALID_INPUT', 'tensorOf: float16 is not supported by the builder');
  const a = new ctor[dtype](values.length);
  a.set(Array.from(values));
  return { dtype, dims, data: new Uint8Array(a.buffer) };
}

/** A deterministic PRNG (mulberry32) so committed fixtures can be regenerated bit for bit. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
