// Compiles a traced ONNX model into the on-chain referee's op table: one 24-byte entry per layer, weights in order.
import { OptinferError } from '../state/errors.ts';
import { fromHex, hashHex } from '../state/hash.ts';
import { MerkleTree, leafHash } from '../state/merkle.ts';
import {
  MAX_OP_INPUTS,
  MAX_REF_INDEX,
  OP,
  OP_ATTR_BYTES,
  REF_KIND,
  opRef,
  type OpEntry,
} from '../state/optable.ts';
import {
  DTYPE_CODES,
  chunkRoot,
  tensorDigest,
  tensorNameOrder,
  type DType,
  type Tensor,
} from '../state/tensor.ts';
import {
  PAD_MODE,
  checkModel,
  encodePadAttrs,
  encodeSliceAttrs,
  sliceRange,
  type ShapeRecord,
} from '../state/shapes.ts';
import type { Hash32 } from '../state/types.ts';
import type { LoadedModel } from './model.ts';
import { tensorFromProto } from './onnx/graph.ts';
import { int64ToNumber, type AttributeProto, type NodeProto } from './onnx/schema.ts';
import { traceModel } from './trace.ts';

/** One op-table entry (state/optable.ts encodeOpEntry gives its 24 bytes) and where it comes from. */
export interface ProgramLayer extends OpEntry {
  /** The traced value this entry produces, and the ONNX op that produces it (for messages). */
  name: string;
  onnxOp: string;
  refs: number[];
  attrs: Uint8Array;
}

export interface ProgramModel {
  layers: ProgramLayer[];
  /** Constant tensors the ops read (initializers and Constant outputs), in first-reference order. */
  weights: { name: string; tensor: Tensor }[];
  /** Merkle root over H(0x00 || tensorDigest(weight)), in weight order: what register_model commits to. */
  weightRoot: Hash32;
  /** Graph inputs in name order (refs of kind 1 index this list). */
  inputNames: string[];
  /** The single graph output; it must be the last traced layer. */
  outputName: string;
  /** Registered shapes: inputs (name order), weights with chunk roots, every layer's output (the trace's). */
  shapes: ShapeRecord;
  /** Layers the program's registration would refuse (state/shapes.ts checkModel), each with its reason. */
  refusals: string[];
}

function refuse(model: LoadedModel, what: string): never {
  throw new OptinferError('UNPROVABLE_MODEL', `model '${model.name}': ${what}`);
}

function attr(n: NodeProto, name: string): AttributeProto | undefined {
  return n.attribute.find((a) => a.name === name);
}

/**
 * Builds the op table from a canonical trace of the model on `sample` inputs (zeros of the declared shapes by
 * default): layer order and shapes are exactly the trace's. Every refusal names the layer and what the referee
 * cannot do; with `clockSlots` (the program's dispute clock) that includes a game longer than the clock.
 */
export async function compileForProgram(
  model: LoadedModel,
  sample?: Record<string, Tensor>,
  o: { clockSlots?: bigint } = {},
): Promise<ProgramModel> {
  const graph = model.proto.graph;
  if (!graph) refuse(model, 'has no graph');
  const ifNode = graph.node.find((n) => n.op_type === 'If');
  if (ifNode) {
    refuse(
      model,
      `node '${ifNode.name || ifNode.output[0]}' is an If: the op table is static, so branching models cannot be registered`,
    );
  }
  if (model.outputs.length !== 1)
    refuse(model, `expected exactly one graph output, got ${model.outputs.length}`);
  const inputs = sample ?? zeroInputs(model);
  const trace = await traceModel(model, inputs, { keepTensors: true });
  const outputName = model.outputs[0].name;
  if (trace.layers[trace.layers.length - 1]?.name !== outputName) {
    refuse(model, `the graph output '${outputName}' must be the last traced layer`);
  }

  const producer = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) if (o) producer.set(o, n);
  const constants = new Map<string, Tensor>();
  for (const init of graph.initializer) constants.set(init.name, tensorFromProto(init));
  for (const n of graph.node) {
    if (n.op_type !== 'Constant') continue;
    const t = attr(n, 'value')?.t;
    if (!t)
      refuse(
        model,
        `Constant node '${n.output[0]}' has no tensor value (value_float and friends are not supported)`,
      );
    constants.set(n.output[0], tensorFromProto(t, `Constant '${n.output[0]}'`));
  }
  // Values no job input reaches: constants, and what Shape (static in a provable model) and ops on such values
  // compute. A layer sized by another value would take its size from the registration sample, not the job.
  const inputFree = new Map<string, boolean>();
  const isInputFree = (name: string): boolean => {
    if (constants.has(name)) return true;
    let free = inputFree.get(name);
    if (free === undefined) {
      const n = producer.get(name);
      inputFree.set(name, false);
      free = !!n && (n.op_type === 'Shape' || n.input.every((x) => !x || isInputFree(x)));
      inputFree.set(name, free);
    }
    return free;
  };
  const inputNames = model.inputs.map((i) => i.name).sort(tensorNameOrder);
  const layerIndex = new Map(trace.layers.map((l, i) => [l.name, i]));
  const weights: { name: string; tensor: Tensor }[] = [];
  const weightIndex = new Map<string, number>();

  const layers = trace.layers.map((l, i): ProgramLayer => {
    const node = producer.get(l.name);
    if (!node) refuse(model, `layer ${i} ('${l.name}') has no producing node`);
    const where = `layer ${i} ('${l.name}', ${node.op_type})`;
    const ref = (name: string): number => {
      const li = layerIndex.get(name);
      if (li !== undefined) {
        if (li >= i) refuse(model, `${where} reads '${name}', which is not an earlier layer`);
        if (li > MAX_REF_INDEX)
          refuse(model, `${where} reads layer ${li}: refs reach layer ${MAX_REF_INDEX}`);
        return opRef(REF_KIND.LAYER, li);
      }
      const ii = inputNames.indexOf(name);
      if (ii > MAX_REF_INDEX) refuse(model, `more than ${MAX_REF_INDEX + 1} inputs`);
      if (ii >= 0) return opRef(REF_KIND.INPUT, ii);
      const t = constants.get(name);
      if (!t) refuse(model, `${where} reads '${name}', which is neither a layer, an input nor a constant`);
      let wi = weightIndex.get(name);
      if (wi === undefined) {
        wi = weights.length;
        weights.push({ name, tensor: t });
        weightIndex.set(name, wi);
      }
      if (wi > MAX_REF_INDEX) refuse(model, `more than ${MAX_REF_INDEX + 1} weights`);
      return opRef(REF_KIND.WEIGHT, wi);
    };
    const constantOf = (name: string | undefined, what: string): Tensor | undefined => {
      if (!name) return undefined;
      const t = constants.get(name);
      if (!t) refuse(model, `${where}: ${what} must be a constant, got the computed value '${name}'`);
      return t;
    };
    const input = (k: number) => node.input[k] ?? '';
    const attrs = Buffer.alloc(OP_ATTR_BYTES);
    const inputDtype = trace.layers[layerIndex.get(input(0)) ?? -1]?.dtype ?? dtypeOfValue(input(0));
    function dtypeOfValue(name: string): DType | undefined {
      return constants.get(name)?.dtype ?? inputs[name]?.dtype;
    }

    switch (node.op_type) {
      case 'Identity':
      case 'Relu':
        return {
          name: l.name,
          onnxOp: node.op_type,
          op: OP[node.op_type],
          refs: [ref(input(0))],
          attrs,
        };
      case 'Add':
      case 'Sub':
      case 'Mul':
        return {
          name: l.name,
          onnxOp: node.op_type,
          op: OP[node.op_type],
          refs: [ref(input(0)), ref(input(1))],
          attrs,
        };
      case 'Reshape': {
        constantOf(input(1), 'the shape input');
        if (l.dims.length > 3)
          refuse(model, `${where}: the referee reshapes to rank <= 3, got rank ${l.dims.length}`);
        attrs[0] = l.dims.length;
        l.dims.forEach((d, k) => attrs.writeUInt32LE(d, 1 + 4 * k));
        return { name: l.name, onnxOp: 'Reshape', op: OP.Reshape, refs: [ref(input(0))], attrs };
      }
      case 'Flatten': {
        const a = attr(node, 'axis');
        let axis = a ? int64ToNumber(a.i) : 1;
        const rank =
          trace.tensors![layerIndex.get(input(0)) ?? -1]?.dims.length ?? inputs[input(0)]?.dims.length ?? 0;
        if (axis < 0) axis += rank;
        attrs[0] = axis;
        return { name: l.name, onnxOp: 'Flatten', op: OP.Flatten, refs: [ref(input(0))], attrs };
      }
      case 'Transpose': {
        const rank = l.dims.length;
        if (rank > OP_ATTR_BYTES - 1) refuse(model, `${where}: rank ${rank} is too large`);
        const p = attr(node, 'perm');
        const perm = p
          ? p.ints.map((x) => int64ToNumber(x))
          : Array.from({ length: rank }, (_, k) => rank - 1 - k);
        attrs[0] = rank;
        perm.forEach((v, k) => (attrs[1 + k] = v));
        return { name: l.name, onnxOp: 'Transpose', op: OP.Transpose, refs: [ref(input(0))], attrs };
      }
      case 'MatMulInteger': {
        const a = trace.tensors![layerIndex.get(input(0)) ?? -1]?.dtype ?? dtypeOfValue(input(0));
        const b = dtypeOfValue(input(1)) ?? trace.tensors![layerIndex.get(input(1)) ?? -1]?.dtype;
        if (!a || !b) refuse(model, `${where}: cannot tell the operand dtypes`);
        attrs[0] = DTYPE_CODES[a];
        attrs[1] = DTYPE_CODES[b];
        const refs = [ref(input(0)), ref(input(1))];
        if (input(2) || input(3)) refs.push(input(2) ? ref(input(2)) : zeroPointWeight(a));
        if (input(3)) refs.push(ref(input(3)));
        return { name: l.name, onnxOp: 'MatMulInteger', op: OP.MatMulInteger, refs, attrs };
      }
      case 'Clip': {
        if (!inputDtype) refuse(model, `${where}: cannot tell the input dtype`);
        const lo = constantOf(input(1), 'min') ?? legacyBound(node, 'min', inputDtype);
        const hi = constantOf(input(2), 'max') ?? legacyBound(node, 'max', inputDtype);
        // Each bound as 4 bytes: float32 bits, or the integer value as an i32 (an int8 -5 is 0xFFFFFFFB, not 0xFB).
        const bound = (t: Tensor, at: number) => {
          if (t.dtype === 'int8') attrs.writeInt32LE((t.data[0] << 24) >> 24, at);
          else if (t.dtype === 'uint8') attrs.writeInt32LE(t.data[0], at);
          else attrs.set(t.data.subarray(0, 4), at);
        };
        if (lo) {
          attrs[0] |= 1;
          bound(lo, 1);
        }
        if (hi) {
          attrs[0] |= 2;
          bound(hi, 5);
        }
        return { name: l.name, onnxOp: 'Clip', op: OP.Clip, refs: [ref(input(0))], attrs };
      }
      case 'QuantizeLinear':
      case 'DequantizeLinear': {
        const scale = constants.get(input(1));
        if (scale && scale.dims.length > 0 && scale.dims.some((d) => d !== 1)) {
          refuse(
            model,
            `${where}: the referee supports per-tensor scales only, got dims [${scale.dims.join(',')}]`,
          );
        }
        const refs = [ref(input(0)), ref(input(1))];
        if (input(2)) refs.push(ref(input(2)));
        return { name: l.name, onnxOp: node.op_type, op: OP[node.op_type], refs, attrs };
      }
      case 'Cast': {
        attrs[0] = DTYPE_CODES[l.dtype];
        return { name: l.name, onnxOp: 'Cast', op: OP.Cast, refs: [ref(input(0))], attrs };
      }
      case 'Neg':
      case 'Abs':
      case 'Sqrt':
      case 'Less':
      case 'Greater':
      case 'LessOrEqual':
      case 'GreaterOrEqual':
      case 'Div': {
        // The dtypes pure/ops.rs infer_arith takes; the others onnxruntime has are named here.
        const takes: Record<string, readonly DType[]> = {
          Neg: ['float32', 'int32'],
          Abs: ['float32', 'int32'],
          Sqrt: ['float32'],
          Div: ['float32', 'int32'],
        };
        const ok = takes[node.op_type] ?? ['float32', 'int32', 'int64', 'int8', 'uint8'];
        if (!inputDtype) refuse(model, `${where}: cannot tell the input dtype`);
        if (!ok.includes(inputDtype))
          refuse(model, `${where}: ${node.op_type} of ${inputDtype} (the referee takes ${ok.join(', ')})`);
        return {
          name: l.name,
          onnxOp: node.op_type,
          op: OP[node.op_type],
          refs: node.input.map((n) => ref(n)),
          attrs,
        };
      }
      case 'Pow': {
        // onnxruntime squares or cubes (x * x, then * x) when the exponent is one element equal to 2
        // or 3, bit-identical on every configuration measured; any other exponent calls powf.
        if (inputDtype !== 'float32' && inputDtype !== 'int32')
          refuse(
            model,
            `${where}: Pow of ${inputDtype ?? 'an unknown dtype'} (the referee takes float32, int32)`,
          );
        const e = constantOf(input(1), 'the exponent');
        if (!e) refuse(model, `${where}: Pow has no exponent`);
        const values = numbersOf(e);
        if (values.length !== 1)
          refuse(
            model,
            `${where}: Pow by ${values.length} exponents (the referee takes one constant 2 or 3)`,
          );
        if (values[0] !== 2 && values[0] !== 3)
          refuse(
            model,
            `${where}: Pow by ${values[0]} (only 2 and 3 are exact: onnxruntime computes other exponents with powf)`,
          );
        if (e.dims.length > dimsOf(input(0)).length)
          refuse(model, `${where}: Pow's exponent has a higher rank than its base`);
        attrs[0] = values[0];
        return { name: l.name, onnxOp: 'Pow', op: OP.Pow, refs: [ref(input(0))], attrs };
      }
      case 'ConvInteger': {
        // 1-D or 2-D; pads explicit (NOTSET), none (VALID) or SAME_UPPER/SAME_LOWER resolved here from the
        // static input size as onnxruntime does; strides, dilations and pads below 256.
        const w = dimsOf(input(1));
        const rank = dimsOf(input(0)).length;
        if (rank !== 3 && rank !== 4)
          refuse(model, `${where}: ConvInteger of rank ${rank} (the referee takes 1-D and 2-D)`);
        const wd = dtypeOfValue(input(1)) ?? trace.tensors![layerIndex.get(input(1)) ?? -1]?.dtype;
        if (inputDtype !== 'uint8' || (wd !== 'uint8' && wd !== 'int8'))
          refuse(
            model,
            `${where}: ConvInteger of ${inputDtype} x ${wd} (the referee takes uint8 x uint8 or int8)`,
          );
        const ap = attr(node, 'auto_pad');
        const autoPad = ap?.s ? Buffer.from(ap.s).toString('utf8') : 'NOTSET';
        if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad))
          refuse(
            model,
            `${where}: ConvInteger auto_pad ${autoPad} (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)`,
          );
        const k = rank - 2;
        const ints = (name: string, dflt: number[]) => {
          const a = attr(node, name);
          return a && a.ints.length > 0 ? a.ints.map((x) => int64ToNumber(x)) : dflt;
        };
        const strides = ints('strides', Array(k).fill(1));
        const dil = ints('dilations', Array(k).fill(1));
        const ks = ints('kernel_shape', w.slice(2));
        const pads =
          autoPad === 'VALID'
            ? Array(2 * k).fill(0)
            : autoPad === 'NOTSET'
              ? ints('pads', Array(2 * k).fill(0))
              : samePads(dimsOf(input(0)).slice(2), ks, strides, dil, autoPad === 'SAME_LOWER', (why) =>
                  refuse(model, `${where}: ConvInteger auto_pad ${autoPad} ${why}`),
                );
        if (ks.some((v, j) => v !== w[2 + j]))
          refuse(model, `${where}: kernel_shape [${ks.join(',')}] differs from the weight's`);
        const ga = attr(node, 'group');
        const group = ga ? int64ToNumber(ga.i) : 1;
        if (
          [...strides, ...dil, ...pads].some((v) => v < 0 || v > 255) ||
          strides.includes(0) ||
          dil.includes(0)
        )
          refuse(
            model,
            `${where}: ConvInteger strides, dilations and pads must be 0..255 (strides, dilations >= 1)`,
          );
        if (group < 1 || group > 65535) refuse(model, `${where}: ConvInteger group ${group}`);
        // h first for 2-D; a 1-D conv takes h = 1 (stride 1, dilation 1, no pads).
        const [sh, sw] = k === 2 ? strides : [1, strides[0]];
        const [dh, dw] = k === 2 ? dil : [1, dil[0]];
        const [pt, pl, pb, pr] = k === 2 ? pads : [0, pads[0], 0, pads[1]];
        attrs.set([DTYPE_CODES[wd], sh, sw, dh, dw, pt, pl, pb, pr, group & 255, group >> 8]);
        const refs = [ref(input(0)), ref(input(1))];
        if (input(2) || input(3)) refs.push(input(2) ? ref(input(2)) : zeroPointWeight('uint8'));
        if (input(3)) refs.push(ref(input(3)));
        return { name: l.name, onnxOp: 'ConvInteger', op: OP.ConvInteger, refs, attrs };
      }
      case 'DynamicQuantizeLinear': {
        // Three layers, one per output (y, y_scale, y_zero_point), each recomputed from x alone.
        if (inputDtype !== 'float32')
          refuse(
            model,
            `${where}: DynamicQuantizeLinear of ${inputDtype ?? 'an unknown dtype'} (float32 only)`,
          );
        attrs[0] = node.output.indexOf(l.name);
        return {
          name: l.name,
          onnxOp: 'DynamicQuantizeLinear',
          op: OP.DynamicQuantizeLinear,
          refs: [ref(input(0))],
          attrs,
        };
      }
      case 'Equal':
      case 'Not':
      case 'Where':
        return {
          name: l.name,
          onnxOp: node.op_type,
          op: OP[node.op_type],
          refs: node.input.map((n) => ref(n)),
          attrs,
        };
      case 'Concat': {
        const a = attr(node, 'axis');
        attrs[0] = axisIn(a ? int64ToNumber(a.i) : 0, l.dims.length);
        return { name: l.name, onnxOp: 'Concat', op: OP.Concat, refs: node.input.map((n) => ref(n)), attrs };
      }
      case 'Gather': {
        const a = attr(node, 'axis');
        attrs[0] = axisIn(a ? int64ToNumber(a.i) : 0, dimsOf(input(0)).length);
        return { name: l.name, onnxOp: 'Gather', op: OP.Gather, refs: [ref(input(0)), ref(input(1))], attrs };
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        // Axes: an attribute before opset 13, a constant input from it on; Squeeze without axes drops every 1.
        const a = attr(node, 'axes');
        const given = input(1)
          ? intsOf(constantOf(input(1), 'the axes input')!)
          : a
            ? a.ints.map((x) => int64ToNumber(x))
            : undefined;
        const rank = node.op_type === 'Squeeze' ? dimsOf(input(0)).length : l.dims.length;
        const axes = given ?? dimsOf(input(0)).flatMap((d, k) => (d === 1 ? [k] : []));
        attrs[0] = axes.reduce((m, x) => m | (1 << axisIn(x, rank)), 0);
        return { name: l.name, onnxOp: node.op_type, op: OP[node.op_type], refs: [ref(input(0))], attrs };
      }
      case 'Slice': {
        const inDims = dimsOf(input(0));
        const rank = inDims.length;
        // Opset 1-9 carries starts, ends and axes as attributes (no steps); later ones as constant inputs.
        const listed = (name: string, k: number, what: string): number[] | undefined => {
          const a = attr(node, name);
          if (a) return a.ints.map((x) => int64ToNumber(x));
          return input(k) ? intsOf(constantOf(input(k), what)!) : undefined;
        };
        const starts = listed('starts', 1, 'starts')!;
        const ends = listed('ends', 2, 'ends')!;
        const axes = (listed('axes', 3, 'axes') ?? starts.map((_, k) => k)).map((x) => axisIn(x, rank));
        const steps = (attr(node, 'starts') ? undefined : listed('steps', 4, 'steps')) ?? starts.map(() => 1);
        if (!starts || !ends || starts.length !== ends.length || axes.length !== starts.length)
          refuse(model, `${where}: Slice's starts, ends and axes differ in length`);
        if (new Set(axes).size !== axes.length) refuse(model, `${where}: a Slice axis repeats`);
        if (steps.some((x) => x === 0)) refuse(model, `${where}: a Slice step of 0`);
        // Axes the slice keeps whole and in order are no slicing at all.
        const cut = axes
          .map((axis, k) => ({ axis, start: starts[k], end: ends[k], step: steps[k] }))
          .filter((x) => {
            const d = inDims[x.axis];
            const r = sliceRange(d, x.start, x.end, x.step);
            return !(r.count === d && (r.start === 0 || d === 0) && (r.step === 1 || d <= 1));
          });
        if (cut.length === 0) cut.push({ axis: 0, start: 0, end: 2 ** 31 - 1, step: 1 });
        if (cut.length > 2)
          refuse(model, `${where}: Slice cuts ${cut.length} axes; the referee slices at most 2 per layer`);
        if (cut.length === 1) {
          // Past i32 the clamp to the axis gives the same slice (dims are below 2^31).
          const i32 = (v: number) => Math.min(Math.max(v, -(2 ** 31)), 2 ** 31 - 1);
          const [x] = cut;
          attrs.set(encodeSliceAttrs([{ ...x, start: i32(x.start), end: i32(x.end), step: i32(x.step) }]));
        } else {
          // i16 bounds: clamped to [-d - 1, d] and the step to d, ONNX's clamping gives the same slice.
          const c16 = cut.map((x) => {
            const d = inDims[x.axis];
            if (d > 32766)
              refuse(
                model,
                `${where}: a two-axis Slice needs axes below 32767 long, axis ${x.axis} has ${d}`,
              );
            const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
            const m = Math.max(d, 1);
            return {
              axis: x.axis,
              start: clamp(x.start, -d, d),
              end: clamp(x.end, -d - 1, d),
              step: clamp(x.step, -m, m),
            };
          });
          attrs.set(encodeSliceAttrs(c16));
        }
        return { name: l.name, onnxOp: 'Slice', op: OP.Slice, refs: [ref(input(0))], attrs };
      }
      case 'ConstantOfShape': {
        if (!isInputFree(input(0)))
          refuse(
            model,
            `${where}: ConstantOfShape's shape '${input(0)}' depends on a job input (expected a constant, or one computed from shapes and constants only)`,
          );
        // The value attribute: one element of the output dtype, float 0 when absent.
        const v = attr(node, 'value');
        const t = v?.t ? tensorFromProto(v.t, `${where}: value`) : undefined;
        const dtype = t?.dtype ?? 'float32';
        if (!['float32', 'int32', 'int64', 'int8', 'uint8', 'bool'].includes(dtype))
          refuse(
            model,
            `${where}: ConstantOfShape of ${dtype} (the referee fills float32, int32, int64, int8, uint8, bool)`,
          );
        attrs[0] = DTYPE_CODES[dtype];
        if (t) attrs.set(t.data.subarray(0, { float32: 4, int32: 4, int64: 8 }[dtype as string] ?? 1), 1);
        return {
          name: l.name,
          onnxOp: 'ConstantOfShape',
          op: OP.ConstantOfShape,
          refs: [ref(input(0))],
          attrs,
        };
      }
      case 'Pad': {
        const inDims = dimsOf(input(0));
        const rank = inDims.length;
        const m = attr(node, 'mode');
        const mode = m?.s ? Buffer.from(m.s).toString('utf8') : 'constant';
        const code = PAD_MODE[mode as keyof typeof PAD_MODE];
        if (code === undefined)
          refuse(model, `${where}: Pad mode '${mode}' (the referee pads constant, reflect and edge)`);
        // Opset 2-10: pads and value are attributes; from 11 constant inputs, from 18 with optional axes.
        const pa = attr(node, 'pads');
        const pads = pa
          ? pa.ints.map((x) => int64ToNumber(x))
          : intsOf(constantOf(input(1), 'the pads input')!);
        const axes = input(3)
          ? intsOf(constantOf(input(3), 'the axes input')!).map((x) => axisIn(x, rank))
          : inDims.map((_, k) => k);
        if (pads.length !== 2 * axes.length)
          refuse(model, `${where}: Pad has ${pads.length} pads for ${axes.length} axes`);
        const cut = axes
          .map((axis, k) => ({ axis, begin: pads[k], end: pads[axes.length + k] }))
          .filter((x) => x.begin !== 0 || x.end !== 0);
        if (cut.length > 2)
          refuse(model, `${where}: Pad pads ${cut.length} axes; the referee pads at most 2 per layer`);
        if (cut.some((x) => Math.abs(x.begin) > 32767 || Math.abs(x.end) > 32767))
          refuse(model, `${where}: a Pad of more than 32767 elements`);
        if (code !== PAD_MODE.constant && cut.some((x) => x.begin < 0 || x.end < 0))
          refuse(model, `${where}: Pad mode ${mode} with a negative pad (onnxruntime crops first; refused)`);
        let bits = 0;
        const cv = input(2) ? constantOf(input(2), 'the constant_value input') : undefined;
        if (code === PAD_MODE.constant && cv && cv.data.byteLength > 0) {
          const dv = new DataView(cv.data.buffer, cv.data.byteOffset, cv.data.byteLength);
          if (cv.dtype === 'float32') bits = dv.getInt32(0, true);
          else if (cv.dtype === 'int32') bits = dv.getInt32(0, true);
          else if (cv.dtype === 'int8') bits = dv.getInt8(0);
          else if (cv.dtype === 'uint8' || cv.dtype === 'bool') bits = dv.getUint8(0);
          else if (cv.dtype === 'int64') {
            const x = dv.getBigInt64(0, true);
            if (x < -(2n ** 31n) || x >= 2n ** 31n) refuse(model, `${where}: an int64 Pad constant past i32`);
            bits = Number(x);
          } else refuse(model, `${where}: a Pad constant of ${cv.dtype}`);
        } else if (code === PAD_MODE.constant && !cv) {
          const va = attr(node, 'value');
          if (va?.f) bits = Buffer.from(new Float32Array([va.f]).buffer).readInt32LE(0);
        }
        attrs.set(encodePadAttrs(code, bits, cut));
        return { name: l.name, onnxOp: 'Pad', op: OP.Pad, refs: [ref(input(0))], attrs };
      }
      case 'Shape': {
        const rank = dimsOf(input(0)).length;
        const clampAxis = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
        const s = attr(node, 'start');
        const e = attr(node, 'end');
        attrs[0] = clampAxis(s ? int64ToNumber(s.i) : 0);
        attrs[1] = Math.max(attrs[0], clampAxis(e ? int64ToNumber(e.i) : rank));
        return { name: l.name, onnxOp: 'Shape', op: OP.Shape, refs: [ref(input(0))], attrs };
      }
      default:
        refuse(model, `${where}: the referee cannot recompute ${node.op_type}`);
    }

    /** The dims of a layer, an input or a constant. */
    function dimsOf(name: string): number[] {
      const li = layerIndex.get(name);
      const t = li !== undefined ? trace.tensors![li] : (inputs[name] ?? constants.get(name));
      if (!t) refuse(model, `${where}: cannot tell the shape of '${name}'`);
      return t.dims;
    }
    /** The values of a numeric constant (float32, float64, int8/16/32/64, uint8) as numbers. */
    function numbersOf(t: Tensor): number[] {
      const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const read: Partial<Record<DType, [number, (k: number) => number]>> = {
        float32: [4, (k) => dv.getFloat32(k, true)],
        float64: [8, (k) => dv.getFloat64(k, true)],
        int32: [4, (k) => dv.getInt32(k, true)],
        int64: [8, (k) => Number(dv.getBigInt64(k, true))],
        int16: [2, (k) => dv.getInt16(k, true)],
        int8: [1, (k) => dv.getInt8(k)],
        uint8: [1, (k) => dv.getUint8(k)],
      };
      const r = read[t.dtype];
      if (!r) refuse(model, `${where}: a constant of ${t.dtype}`);
      return Array.from({ length: t.data.byteLength / r[0] }, (_, k) => r[1](k * r[0]));
    }
    /** A negative ONNX axis counted from the end of a rank-`rank` tensor. */
    function axisIn(axis: number, rank: number): number {
      const a = axis < 0 ? axis + rank : axis;
      if (a < 0 || a >= rank) refuse(model, `${where}: axis ${axis} is outside rank ${rank}`);
      return a;
    }

    /** MatMulInteger with only b_zero_point: a zero a_zero_point of A's dtype fills the slot. */
    function zeroPointWeight(dtype: DType): number {
      const name = `__zero_${dtype}`;
      if (!constants.has(name)) constants.set(name, { dtype, dims: [], data: new Uint8Array(1) });
      return ref(name);
    }
  });
  for (const l of layers) {
    if (l.refs.length > MAX_OP_INPUTS)
      refuse(model, `layer '${l.name}' has more than ${MAX_OP_INPUTS} inputs`);
  }

  const tree = MerkleTree.fromLeafHashes(
    (weights.length > 0
      ? weights
      : [{ tensor: { dtype: 'int8', dims: [0], data: new Uint8Array(0) } as Tensor }]
    ).map((w) => leafHash(fromHex(tensorDigest(w.tensor), 32))),
  );
  const header = (t: Tensor) => ({ dtype: DTYPE_CODES[t.dtype], dims: t.dims });
  for (const n of inputNames) {
    if (Buffer.byteLength(n) > 64) refuse(model, `input name '${n}' is longer than 64 bytes`);
  }
  const shapes: ShapeRecord = {
    inputs: inputNames.map((n) => header(inputs[n])),
    weights: weights.map((w) => ({ header: header(w.tensor), chunkRoot: chunkRoot(w.tensor.data) })),
    layers: trace.tensors!.map(header),
  };
  const { refusals } = checkModel(layers, shapes, { clockSlots: o.clockSlots });
  return {
    layers,
    weights,
    weightRoot: hashHex(tree.root),
    inputNames,
    outputName,
    shapes,
    refusals: refusals.map((r) => {
      const i = Number(/^layer (\d+)/.exec(r)?.[1]);
      return `${r} ('${layers[i]?.name}', ${layers[i]?.onnxOp})`;
    }),
  };
}

/** The values of an int64 or int32 constant (axes, starts, ends, steps). */
/**
 * Pads [begins..., ends...] of auto_pad SAME_UPPER (extra pad at the end) or SAME_LOWER (at the start), as
 * onnxruntime's ComputePadAndOutputShape: output ceil(in / stride), total pad (out - 1) * stride + kernel - in.
 * It takes no dilation there, and a negative total would crop: both refused through `no`.
 */
function samePads(
  spatial: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
  lower: boolean,
  no: (why: string) => never,
): number[] {
  if (dilations.some((d) => d !== 1)) no('with dilations (onnxruntime takes dilation 1 only)');
  const need = spatial.map((n, j) => (Math.ceil(n / strides[j]) - 1) * strides[j] + kernel[j] - n);
  if (need.some((p) => p < 0)) no(`would crop the input (stride past the kernel: pad ${need.join(', ')})`);
  const head = need.map((p) => (lower ? Math.ceil(p / 2) : Math.floor(p / 2)));
  return [...head, ...need.map((p, j) => p - head[j])];
}

function intsOf(t: Tensor): number[] {
  const v = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.dtype === 'int64') {
    return Array.from({ length: n }, (_, i) => {
      const x = v.getBigInt64(8 * i, true);
      const lim = 2n ** 40n;
      return Number(x > lim ? lim : x < -lim ? -lim : x);
    });
  }
  if (t.dtype === 'int32') return Array.from({ length: n }, (_, i) => v.getInt32(4 * i, true));
  throw new OptinferError('UNPROVABLE_MODEL', `expected an int64 or int32 constant, got ${t.dtype}`);
}

/** Clip before opset 11 carries its bounds as float attributes. */
function legacyBound(n: NodeProto, name: 'min' | 'max', dtype: DType): Tensor | undefined {
  const a = n.attribute.find((x) => x.name === name);
  if (!a || a.f === undefined || dtype !== 'float32') return undefined;
  const data = new Uint8Array(4);
  new DataView(data.buffer).setFloat32(0, a.f, true);
  return { dtype: 'float32', dims: [], data };
}

function zeroInputs(model: LoadedModel): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const i of model.inputs) {
    if (!i.dtype || !i.dims || i.dims.some((d) => d === null)) {
      throw new OptinferError(
        'UNPROVABLE_MODEL',
        `model '${model.name}': input '${i.name}' needs static dims and a supported dtype to build the op table`,
      );
    }
    const dims = i.dims as number[];
    const size =
      { float32: 4, int32: 4, int64: 8, float64: 8, uint32: 4, uint64: 8, int16: 2, uint16: 2, float16: 2 }[
        i.dtype as string
      ] ?? 1;
    out[i.name] = { dtype: i.dtype, dims, data: new Uint8Array(dims.reduce((a, b) => a * b, 1) * size) };
  }
  return out;
}
