// Models are closed: refuses any ONNX model that names a file (external data, EP context) or hides fields, read on the wire.
import protobuf from 'protobufjs';
import { OptinferError } from '../../state/errors.ts';
import { onnxTypes } from './schema.ts';

/**
 * Why the walk is over the wire bytes and not over the decoded tree: protobuf merges repeated copies of
 * a singular message field (onnxruntime sees both copies of a `graph`), while protobufjs keeps only the
 * last, and fields missing from our schema are dropped on decode but may mean something to onnxruntime.
 * So every occurrence of every message is visited, and a field the schema does not name is refused.
 */

/** A reason a model is not closed, with where it sits: "graph 'g' › node 'n' (If) › attribute 'then_branch' › ...". */
export interface OpenReference {
  kind: 'external-data' | 'ep-context' | 'unknown-field' | 'ort-format' | 'too-deep' | 'too-many-nodes';
  path: string;
  message: string;
}

/** protobuf's own parse depth limit: onnxruntime refuses deeper models, and so do we, before recursing further. */
const MAX_DEPTH = 100;
/**
 * Nodes in a model, subgraphs and functions included. Loading a model costs the node time and memory in the
 * process that serves the API before any sandbox can help (measured: 100,000 Identity nodes blocked the event
 * loop 5.8 s and kept 350 MiB); real models have hundreds to a few tens of thousands.
 */
export const MAX_MODEL_NODES = 30_000;
const LABELS: Record<string, string> = {
  g: 'graph',
  graphs: 'graph',
  t: 'tensor',
  tensors: 'tensor',
  functions: 'function',
};
const TENSOR = onnxTypes.TensorProto;
const NODE = onnxTypes.NodeProto;
onnxTypes.ModelProto.root.resolveAll();

const WIRE_LEN = 2;
const quote = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

interface Sub {
  field: protobuf.Field;
  type: protobuf.Type;
  index: number;
  start: number;
  end: number;
}

/** Where a message sits, kept as a chain and spelled out only when something is reported. */
interface Where {
  parent: Where | undefined;
  sub: Sub;
  depth: number;
}

function pathOf(bytes: Uint8Array, w: Where | undefined): string {
  const segments: string[] = [];
  for (let at = w; at; at = at.parent) {
    const s = at.sub;
    const label = LABELS[s.field.name] ?? s.field.name;
    const name = nameOf(bytes, s);
    segments.push(
      name !== undefined && name !== ''
        ? `${label} '${name}'${s.type === NODE ? ` (${opOf(bytes, s)})` : ''}`
        : s.field.repeated
          ? `${label} #${s.index}`
          : label,
    );
  }
  return segments.reverse().join(' › ') || 'the model';
}

function walk(
  bytes: Uint8Array,
  type: protobuf.Type,
  start: number,
  end: number,
  where: Where | undefined,
  out: OpenReference[],
  tally: { nodes: number },
): void {
  const here = () => pathOf(bytes, where);
  if (type === NODE && ++tally.nodes > MAX_MODEL_NODES) {
    if (tally.nodes === MAX_MODEL_NODES + 1)
      out.push({
        kind: 'too-many-nodes',
        path: here(),
        message: `the model has more than ${MAX_MODEL_NODES} nodes (subgraphs and functions included); expected at most ${MAX_MODEL_NODES}`,
      });
    return;
  }
  if ((where?.depth ?? 0) > MAX_DEPTH) {
    out.push({
      kind: 'too-deep',
      path: here(),
      message: `messages nested more than ${MAX_DEPTH} deep at ${here()}; expected an ONNX model protobuf can parse`,
    });
    return;
  }
  // Pass 1: this message's own fields; submessages are noted and visited once the name is known.
  const r = protobuf.Reader.create(bytes.subarray(0, end));
  r.pos = start;
  const subs: Sub[] = [];
  const counts = new Map<number, number>();
  const strings = new Map<string, string>();
  let dataLocation = 0;
  let externalEntries = 0;
  let location: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    const field = type.fieldsById[id];
    if (!field) {
      out.push({
        kind: 'unknown-field',
        path: here(),
        message: `field ${id} of onnx.${type.name} at ${here()} is not in the ONNX schema optinfer reads (IR 11); expected only fields it can check`,
      });
      r.skipType(wire);
      continue;
    }
    const index = counts.get(id) ?? 0;
    counts.set(id, index + 1);
    if (field.resolvedType instanceof protobuf.Type) {
      if (wire !== WIRE_LEN) {
        out.push({
          kind: 'unknown-field',
          path: here(),
          message: `field '${field.name}' of onnx.${type.name} at ${here()} has wire type ${wire}; expected an embedded message (2)`,
        });
        r.skipType(wire);
        continue;
      }
      const len = r.uint32();
      const s = r.pos;
      // Past the submessage's bytes for now: it is noted in `subs` and walked in pass 2, never left unread.
      r.skip(len);
      if (type === TENSOR && field.name === 'external_data') {
        externalEntries++;
        const e = field.resolvedType.decode(bytes.subarray(s, s + len)) as unknown as {
          key?: string;
          value?: string;
        };
        if (e.key === 'location') location = e.value;
      } else {
        subs.push({ field, type: field.resolvedType, index, start: s, end: s + len });
      }
      continue;
    }
    if (wire === WIRE_LEN && field.type === 'string' && !field.repeated) {
      strings.set(field.name, r.string());
    } else if (type === TENSOR && field.name === 'data_location' && wire === 0) {
      dataLocation = r.int32();
    } else {
      r.skipType(wire);
    }
  }
  if (type === TENSOR && (dataLocation !== 0 || externalEntries > 0)) {
    const name = strings.get('name');
    out.push({
      kind: 'external-data',
      path: here(),
      message: `tensor ${name ? `'${name}'` : '(unnamed)'} (at ${here()}) keeps its bytes outside the model, in external data${location === undefined ? '' : ` (location ${quote(location)})`}`,
    });
  }
  if (type === NODE && strings.get('op_type') === 'EPContext') {
    out.push({
      kind: 'ep-context',
      path: here(),
      message: `node at ${here()} is an EPContext node, which loads a precompiled context that may live in a file`,
    });
  }
  // Pass 2: the submessages, each labelled (when reported) by its field, its name and, for nodes, its op.
  for (const sub of subs) {
    walk(
      bytes,
      sub.type,
      sub.start,
      sub.end,
      { parent: where, sub, depth: (where?.depth ?? 0) + 1 },
      out,
      tally,
    );
  }
}

/** Reads one string field of a submessage without decoding the rest (the last occurrence wins, as in protobuf). */
function stringField(bytes: Uint8Array, s: Sub, fieldName: string): string | undefined {
  const field = s.type.fields[fieldName];
  if (!field) return undefined;
  const r = protobuf.Reader.create(bytes.subarray(0, s.end));
  r.pos = s.start;
  let value: string | undefined;
  while (r.pos < s.end) {
    const tag = r.uint32();
    if (tag >>> 3 === field.id && (tag & 7) === WIRE_LEN) value = r.string();
    else r.skipType(tag & 7);
  }
  return value;
}

const nameOf = (bytes: Uint8Array, s: Sub) => stringField(bytes, s, 'name');

function opOf(bytes: Uint8Array, s: Sub): string {
  const op = stringField(bytes, s, 'op_type') ?? '?';
  const domain = stringField(bytes, s, 'domain');
  return domain && domain !== 'ai.onnx' ? `${domain}.${op}` : op;
}

/** onnxruntime takes bytes with "ORTM" at offset 4 as its own flatbuffer format, whatever else they decode to. */
function isOrtFormat(bytes: Uint8Array): boolean {
  return bytes.length > 8 && Buffer.from(bytes.subarray(4, 8)).toString('latin1') === 'ORTM';
}

/** Every way the model reaches outside its own bytes, or hides what onnxruntime would read; empty when closed. */
export function openReferences(bytes: Uint8Array): OpenReference[] {
  if (isOrtFormat(bytes)) {
    return [
      {
        kind: 'ort-format',
        path: 'the model',
        message:
          'bytes 4..8 read "ORTM", so onnxruntime would load them as an ORT-format model, not the ONNX protobuf checked here',
      },
    ];
  }
  const out: OpenReference[] = [];
  try {
    walk(bytes, onnxTypes.ModelProto, 0, bytes.length, undefined, out, { nodes: 0 });
  } catch (e) {
    throw new OptinferError(
      'INVALID_MODEL',
      `expected well-formed ONNX protobuf, but the bytes do not parse (${(e as Error).message})`,
      undefined,
      { cause: e },
    );
  }
  return out;
}

/**
 * Refuses a model that is not self-contained, naming the first reference (and how many more there are).
 * Called wherever a model is loaded (upload and executor alike), before onnxruntime sees the bytes.
 */
export function assertClosed(bytes: Uint8Array, what = 'model'): void {
  let refs: OpenReference[];
  try {
    refs = openReferences(bytes);
  } catch (e) {
    throw new OptinferError('INVALID_MODEL', `${what}: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (refs.length === 0) return;
  const tooBig = refs.find((r) => r.kind === 'too-many-nodes');
  if (tooBig)
    throw new OptinferError('INVALID_MODEL', `${what}: ${tooBig.message}`, { nodesOver: MAX_MODEL_NODES });
  const more =
    refs.length > 1 ? ` (and ${refs.length - 1} more such reference${refs.length > 2 ? 's' : ''})` : '';
  throw new OptinferError(
    'INVALID_MODEL',
    `${what}: ${refs[0].message}${more}; expected a self-contained model: optinfer never reads a file a model names. ` +
      'Store every tensor inside the model (in Python: onnx.save_model(onnx.load(path), out, save_as_external_data=False))',
    { references: refs.slice(0, 16).map((r) => ({ kind: r.kind, path: r.path })) },
  );
}
