// ONNX protobuf decoding and re-encoding with the full schema in onnx.proto, so a re-encoded model drops nothing.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { OptinferError } from '../../state/errors.ts';

/** int64 fields decode to Long objects (protobufjs uses the long package when installed) or numbers. */
export type Int64 = number | { toString(): string; toNumber(): number };

export interface TensorShapeDim {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim: TensorShapeDim[] } };
  sequence_type?: unknown;
  map_type?: unknown;
  optional_type?: unknown;
  sparse_tensor_type?: unknown;
  opaque_type?: unknown;
  denotation?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  doc_string?: string;
}

export interface TensorProto {
  dims: Int64[];
  data_type: number;
  name: string;
  raw_data?: Uint8Array;
  float_data: number[];
  int32_data: number[];
  int64_data: Int64[];
  double_data: number[];
  uint64_data: Int64[];
  string_data: Uint8Array[];
  data_location?: number;
  external_data: { key: string; value: string }[];
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  graphs: GraphProto[];
  ints: Int64[];
  floats: number[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute: AttributeProto[];
}

export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparse_initializer: unknown[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
}

export interface ModelProto {
  ir_version?: Int64;
  opset_import: { domain?: string; version?: Int64 }[];
  producer_name?: string;
  graph?: GraphProto;
  functions: { name: string; domain?: string; node: NodeProto[] }[];
}

const root = protobuf.parse(readFileSync(new URL('./onnx.proto', import.meta.url), 'utf8'), {
  keepCase: true,
}).root;

/** The protobufjs message types, for callers that build or rewrite models. */
export const onnxTypes = {
  ModelProto: root.lookupType('onnx.ModelProto'),
  GraphProto: root.lookupType('onnx.GraphProto'),
  NodeProto: root.lookupType('onnx.NodeProto'),
  ValueInfoProto: root.lookupType('onnx.ValueInfoProto'),
  TensorProto: root.lookupType('onnx.TensorProto'),
  AttributeProto: root.lookupType('onnx.AttributeProto'),
  TypeProto: root.lookupType('onnx.TypeProto'),
  OperatorSetIdProto: root.lookupType('onnx.OperatorSetIdProto'),
};

/** Attribute type codes (AttributeProto.AttributeType). */
export const ATTR = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  GRAPHS: 10,
} as const;

export function int64ToNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Decodes ONNX bytes. Anything that is not a well-formed ModelProto with a graph (truncated files,
 * other file types) is an INVALID_MODEL error, since protobuf alone accepts many byte strings.
 */
export function decodeModel(bytes: Uint8Array, what = 'model'): ModelProto {
  if (bytes.length === 0)
    throw new OptinferError('INVALID_MODEL', `${what}: expected ONNX model bytes, got an empty file`);
  let m: ModelProto;
  try {
    m = onnxTypes.ModelProto.decode(bytes) as unknown as ModelProto;
  } catch (e) {
    throw new OptinferError(
      'INVALID_MODEL',
      `${what}: expected an ONNX model (protobuf ModelProto), but the ${bytes.length} bytes do not decode (${(e as Error).message}); the file is truncated or not ONNX`,
      undefined,
      { cause: e },
    );
  }
  const g = m.graph;
  // protobufjs puts proto2 defaults on the prototype: presence is an own property.
  const hasIr = Object.hasOwn(m, 'ir_version');
  if (!hasIr || !g) {
    throw new OptinferError(
      'INVALID_MODEL',
      `${what}: expected an ONNX model with ir_version and a graph, got ${!hasIr ? 'no ir_version' : 'no graph'}; the file is truncated or not ONNX`,
    );
  }
  if (g.output.length === 0 || g.node.length === 0) {
    throw new OptinferError(
      'INVALID_MODEL',
      `${what}: expected a graph with nodes and outputs, got ${g.node.length} nodes and ${g.output.length} outputs`,
    );
  }
  for (const n of g.node) {
    if (!n.op_type)
      throw new OptinferError(
        'INVALID_MODEL',
        `${what}: a node has no op_type; the file is corrupt or not ONNX`,
      );
  }
  return m;
}

export function encodeModel(m: ModelProto): Uint8Array {
  return onnxTypes.ModelProto.encode(m as unknown as protobuf.Message).finish();
}

/** A deep copy through the wire format, so rewrites never alias the loaded model. */
export function cloneModel(m: ModelProto): ModelProto {
  return onnxTypes.ModelProto.decode(encodeModel(m)) as unknown as ModelProto;
}
