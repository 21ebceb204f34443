// Reads what optinfer needs from a decoded ONNX model: signature, nodes, op set, subgraphs, initializer values.
import { OptinferError } from '../../state/errors.ts';
import { dtypeFromCode, elementCount, elementSize, type DType, type Tensor } from '../../state/tensor.ts';
import {
  int64ToNumber,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type TypeProto,
} from './schema.ts';

/** A graph input or output as declared in the model; dims null means unknown rank, a null dim is symbolic. */
export interface ValueSpec {
  name: string;
  /** null when the ONNX element type is not one optinfer carries (strings, bfloat16, sequences...). */
  dtype: DType | null;
  /** The ONNX description of the type, for error messages. */
  typeText: string;
  dims: (number | null)[] | null;
}

export interface NodeInfo {
  /** Index in the graph's node list (the file position used to break ties in canonical order). */
  position: number;
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
}

export interface ModelInfo {
  irVersion: number;
  opset: { domain: string; version: number }[];
  producer: string;
  graphName: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeInfo[];
  /** Every operator used, in the main graph and all subgraphs, as "op" or "domain.op", sorted. */
  ops: string[];
  hasSubgraphs: boolean;
}

export function opLabel(n: NodeProto): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op_type}` : n.op_type;
}

export function subgraphsOf(n: NodeProto): GraphProto[] {
  const out: GraphProto[] = [];
  for (const a of n.attribute) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

/** Visits every node of a graph and, recursively, of its subgraphs. */
export function forEachNodeDeep(g: GraphProto, fn: (n: NodeProto, depth: number) => void, depth = 0): void {
  for (const n of g.node) {
    fn(n, depth);
    for (const sg of subgraphsOf(n)) forEachNodeDeep(sg, fn, depth + 1);
  }
}

/** Names a subgraph reads from enclosing scopes (ONNX lets subgraphs capture outer values implicitly). */
export function outerReferences(g: GraphProto): Set<string> {
  const defined = new Set<string>([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name)]);
  for (const n of g.node) for (const o of n.output) defined.add(o);
  const refs = new Set<string>();
  for (const n of g.node) {
    for (const i of n.input) if (i && !defined.has(i)) refs.add(i);
    for (const sg of subgraphsOf(n)) for (const r of outerReferences(sg)) if (!defined.has(r)) refs.add(r);
  }
  return refs;
}

export function describeType(t: TypeProto | undefined | null): string {
  if (!t) return 'no type';
  if (t.tensor_type) {
    const code = t.tensor_type.elem_type ?? 0;
    return `tensor(${dtypeFromCode(code) ?? `onnx type ${code}`})`;
  }
  if (t.sequence_type) return 'sequence';
  if (t.map_type) return 'map';
  if (t.optional_type) return 'optional';
  if (t.sparse_tensor_type) return 'sparse tensor';
  return 'opaque';
}

export function valueSpec(name: string, t: TypeProto | undefined | null): ValueSpec {
  const tt = t?.tensor_type;
  // protobufjs puts proto2 defaults on the prototype: presence is an own property.
  const dtype = tt ? (dtypeFromCode(tt.elem_type ?? 0) ?? null) : null;
  const dims = tt?.shape
    ? tt.shape.dim.map((d) => (Object.hasOwn(d, 'dim_value') ? int64ToNumber(d.dim_value) : null))
    : null;
  return { name, dtype, typeText: describeType(t), dims };
}

export function modelInfo(m: ModelProto): ModelInfo {
  const g = m.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  const ops = new Set<string>();
  let hasSubgraphs = false;
  forEachNodeDeep(g, (n, depth) => {
    ops.add(opLabel(n));
    if (depth > 0) hasSubgraphs = true;
  });
  return {
    irVersion: int64ToNumber(m.ir_version),
    opset: m.opset_import.map((o) => ({ domain: o.domain ?? '', version: int64ToNumber(o.version) })),
    producer: m.producer_name ?? '',
    graphName: g.name ?? '',
    // Since IR 4 initializers need not be listed as inputs; when they are, they are defaults, not inputs.
    inputs: g.input.filter((v) => !inits.has(v.name)).map((v) => valueSpec(v.name, v.type)),
    outputs: g.output.map((v) => valueSpec(v.name, v.type)),
    nodes: g.node.map((n, position) => ({
      position,
      name: n.name ?? '',
      opType: n.op_type,
      domain: n.domain ?? '',
      inputs: [...n.input],
      outputs: [...n.output],
    })),
    ops: [...ops].sort(),
    hasSubgraphs,
  };
}

/** Decodes an initializer or Constant value into canonical bytes (for If conditions and tests). */
export function tensorFromProto(t: TensorProto, what = `tensor '${t.name}'`): Tensor {
  const dtype = dtypeFromCode(t.data_type);
  if (!dtype)
    throw new OptinferError(
      'INVALID_MODEL',
      `${what}: expected a supported dtype, got onnx type ${t.data_type}`,
    );
  if (t.data_location === 1) {
    throw new OptinferError(
      'INVALID_MODEL',
      `${what}: expected data inside the model file, got external data`,
    );
  }
  const dims = t.dims.map((d) => int64ToNumber(d));
  const n = elementCount(dims);
  const size = elementSize(dtype);
  const data = new Uint8Array(n * size);
  const view = new DataView(data.buffer);
  if (t.raw_data && t.raw_data.length > 0) {
    if (t.raw_data.length !== data.length) {
      throw new OptinferError(
        'INVALID_MODEL',
        `${what}: expected ${data.length} raw bytes, got ${t.raw_data.length}`,
      );
    }
    data.set(t.raw_data);
    return { dtype, dims, data };
  }
  const src: ArrayLike<number | { toString(): string }> =
    dtype === 'float32'
      ? t.float_data
      : dtype === 'float64'
        ? t.double_data
        : dtype === 'int64'
          ? t.int64_data
          : dtype === 'uint32' || dtype === 'uint64'
            ? t.uint64_data
            : t.int32_data;
  if (src.length !== n) {
    throw new OptinferError('INVALID_MODEL', `${what}: expected ${n} values, got ${src.length}`);
  }
  for (let i = 0; i < n; i++) {
    const v = src[i];
    const num = typeof v === 'number' ? v : Number(v.toString());
    switch (dtype) {
      case 'float32':
        view.setFloat32(i * 4, num, true);
        break;
      case 'float64':
        view.setFloat64(i * 8, num, true);
        break;
      case 'int64':
        view.setBigInt64(i * 8, BigInt(v.toString()), true);
        break;
      case 'uint64':
        view.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(v.toString())), true);
        break;
      case 'uint32':
        view.setUint32(i * 4, num, true);
        break;
      case 'int32':
        view.setInt32(i * 4, num, true);
        break;
      case 'int16':
        view.setInt16(i * 2, num, true);
        break;
      case 'uint16':
      case 'float16':
        view.setUint16(i * 2, num, true);
        break;
      case 'int8':
        view.setInt8(i, num);
        break;
      default:
        view.setUint8(i, num);
    }
  }
  return { dtype, dims, data };
}
