// The one-step op fixture (checked natively and in the SBF VM) against onnxruntime-node itself, run
// with the canonical execution profile: one single-node ONNX model per case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { buildModel, node, type AttrValue } from '../../executor/onnx/builder.ts';
import { fromOrtValue } from '../../executor/ort-tensor.ts';
import { decodeOpEntry, decodeStoredHeader, opName } from '../../state/optable.ts';
import type { DType } from '../../state/tensor.ts';
import { PAD_MODE, padAxes, sliceAxes } from '../../state/shapes.ts';
import { PROGRAMS } from './lib/svm.ts';
import { OP } from './lib/model.ts';
import type { OpCase } from './lib/op-cases.ts';

const load = (f: string) => JSON.parse(readFileSync(path.join(PROGRAMS, 'tests/fixtures', f), 'utf8'));
// The project's edge-value cases and the ONNX conformance export: onnxruntime must agree with both.
const cases = [...(load('op-cases.json') as OpCase[]), ...(load('onnx-node-cases.json').cases as OpCase[])];
const DT_NAME: Record<number, DType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  6: 'int32',
  7: 'int64',
  9: 'bool',
};
const TYPED: Record<number, new (b: ArrayBuffer) => ArrayBufferView> = {
  1: Float32Array,
  2: Uint8Array,
  3: Int8Array,
  6: Int32Array,
  7: BigInt64Array,
  9: Uint8Array,
};
const tensor = (dtype: number, dims: number[], bytes: Buffer) => {
  const buf = new ArrayBuffer(bytes.length);
  new Uint8Array(buf).set(bytes);
  return new ort.Tensor(DT_NAME[dtype], new TYPED[dtype](buf) as never, dims);
};
const scalarBytes = (dtype: number, v: number) => {
  const b = Buffer.alloc(4);
  if (dtype === 1) b.writeFloatLE(v);
  else b.writeInt32LE(v);
  return dtype === 2 || dtype === 3 ? b.subarray(0, 1) : b;
};

const seen = new Set<string>();
for (const c of cases) {
  const base = c.name.replace(/ chunk \d+$/, '');
  if (seen.has(base)) continue;
  seen.add(base);
  const mine = cases.filter((x) => x.name.replace(/ chunk \d+$/, '') === base);
  test(`onnxruntime agrees: ${base}`, async () => {
    const { op, attrs } = decodeOpEntry(Buffer.from(c.entry, 'hex'));
    const { dtype: outDtype, dims: outDims } = decodeStoredHeader(Buffer.from(c.header, 'hex'));
    const onnxOp = opName(op);
    assert.ok(onnxOp, `op code ${op} is not in the op table`);
    const feeds: Record<string, ort.Tensor> = {};
    const inputNames = c.inputs.map((_, i) => `in${i}`);
    c.inputs.forEach((t, i) => (feeds[inputNames[i]] = tensor(t.dtype, t.dims, Buffer.from(t.bytes, 'hex'))));
    const decls = c.inputs.map((t, i) => ({ name: inputNames[i], dtype: DT_NAME[t.dtype], dims: t.dims }));
    const nodeInputs = [...inputNames];
    const nodeAttrs: Record<string, AttrValue> = {};
    const a0 = c.inputs[0];
    if (op === OP.RESHAPE) {
      const r = attrs[0];
      const shape = Buffer.alloc(8 * r);
      for (let i = 0; i < r; i++) shape.writeBigInt64LE(BigInt(attrs.readUInt32LE(1 + 4 * i)), 8 * i);
      feeds.shape = tensor(7, [r], shape);
      decls.push({ name: 'shape', dtype: 'int64', dims: [r] });
      nodeInputs.push('shape');
      // The entry holds resolved dims, so a 0 is a real zero-sized dim, not 'copy the input's'.
      nodeAttrs.allowzero = 1;
    } else if (op === OP.CLIP) {
      const flags = attrs[0];
      const lo = a0.dtype === 1 ? attrs.readFloatLE(1) : attrs.readInt32LE(1);
      const hi = a0.dtype === 1 ? attrs.readFloatLE(5) : attrs.readInt32LE(5);
      nodeInputs.push(flags & 1 ? 'min' : '', flags & 2 ? 'max' : '');
      if (flags & 1) {
        feeds.min = tensor(a0.dtype, [], scalarBytes(a0.dtype, lo));
        decls.push({ name: 'min', dtype: DT_NAME[a0.dtype], dims: [] });
      }
      if (flags & 2) {
        feeds.max = tensor(a0.dtype, [], scalarBytes(a0.dtype, hi));
        decls.push({ name: 'max', dtype: DT_NAME[a0.dtype], dims: [] });
      }
      while (nodeInputs[nodeInputs.length - 1] === '') nodeInputs.pop();
    } else if (op === OP.CAST) {
      nodeAttrs.to = attrs[0];
    } else if (op === OP.FLATTEN) {
      nodeAttrs.axis = attrs[0];
    } else if (op === OP.TRANSPOSE) {
      nodeAttrs.perm = [...attrs.subarray(1, 1 + attrs[0])];
    } else if (op === OP.CONCAT || op === OP.GATHER) {
      nodeAttrs.axis = attrs[0];
    } else if (op === OP.SHAPE) {
      nodeAttrs.start = attrs[0];
      nodeAttrs.end = attrs[1];
    } else if (op === OP.SLICE || op === OP.SQUEEZE || op === OP.UNSQUEEZE) {
      // Opset 17 takes these as int64 inputs; the entry holds them as attribute bytes.
      const consts: [string, bigint[]][] =
        op === OP.SLICE
          ? (() => {
              const ax = sliceAxes(attrs)!;
              return [
                ['starts', ax.map((x) => BigInt(x.start))],
                ['ends', ax.map((x) => BigInt(x.end))],
                ['axes', ax.map((x) => BigInt(x.axis))],
                ['steps', ax.map((x) => BigInt(x.step))],
              ] as [string, bigint[]][];
            })()
          : [
              [
                'axes',
                Array.from({ length: 6 }, (_, i) => i)
                  .filter((i) => (attrs[0] >> i) & 1)
                  .map(BigInt),
              ],
            ];
      for (const [name, v] of consts) {
        feeds[name] = new ort.Tensor('int64', BigInt64Array.from(v), [v.length]);
        decls.push({ name, dtype: 'int64', dims: [v.length] });
        nodeInputs.push(name);
      }
    } else if (op === OP.CONV_INTEGER) {
      const two = a0.dims.length === 4;
      const [sh, sw, dh, dw, pt, pl, pb, pr] = [...attrs.subarray(1, 9)];
      nodeAttrs.strides = two ? [sh, sw] : [sw];
      nodeAttrs.dilations = two ? [dh, dw] : [dw];
      nodeAttrs.pads = two ? [pt, pl, pb, pr] : [pl, pr];
      nodeAttrs.group = attrs.readUInt16LE(9);
    } else if (op === OP.POW) {
      // The exponent as a one-element input, float32 as most exporters write it.
      feeds.e = tensor(1, [], scalarBytes(1, attrs[0]));
      decls.push({ name: 'e', dtype: 'float32', dims: [] });
      nodeInputs.push('e');
    } else if (op === OP.CONSTANT_OF_SHAPE) {
      const es = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 9: 1 }[attrs[0]]!;
      nodeAttrs.value = {
        dtype: DT_NAME[attrs[0]],
        dims: [1],
        data: new Uint8Array(attrs.subarray(1, 1 + es)),
      };
    } else if (op === OP.PAD) {
      // Opset 17: pads [begins..., ends...] and the constant as inputs, the mode as a string attribute.
      const r = a0.dims.length;
      const pads = new BigInt64Array(2 * r);
      for (const x of padAxes(attrs)!) {
        pads[x.axis] = BigInt(x.begin);
        pads[r + x.axis] = BigInt(x.end);
      }
      feeds.pads = new ort.Tensor('int64', pads, [2 * r]);
      decls.push({ name: 'pads', dtype: 'int64', dims: [2 * r] });
      nodeInputs.push('pads');
      nodeAttrs.mode = ['constant', 'reflect', 'edge'][attrs[0]];
      if (attrs[0] === PAD_MODE.constant) {
        const v = Buffer.alloc(8);
        v.writeBigInt64LE(BigInt(attrs.readInt32LE(1)));
        const es = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 9: 1 }[a0.dtype]!;
        feeds.cv = tensor(a0.dtype, [], v.subarray(0, es));
        decls.push({ name: 'cv', dtype: DT_NAME[a0.dtype], dims: [] });
        nodeInputs.push('cv');
      }
    }
    // DynamicQuantizeLinear has three outputs (y, scale, zero point); the entry checks attrs[0]'s.
    const dql = op === OP.DYNAMIC_QUANTIZE_LINEAR;
    const others = dql
      ? [
          { name: 'y', dtype: 'uint8' as DType, dims: a0.dims },
          { name: 'scale', dtype: 'float32' as DType, dims: [] },
          { name: 'zp', dtype: 'uint8' as DType, dims: [] },
        ]
      : [];
    const want = dql ? others[attrs[0]].name : 'y';
    const bytes = buildModel({
      name: base,
      opset: 17,
      inputs: decls,
      outputs: dql ? others : [{ name: 'y', dtype: DT_NAME[outDtype], dims: outDims }],
      nodes: [node(onnxOp, nodeInputs, dql ? others.map((x) => x.name) : ['y'], nodeAttrs)],
    });
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'disabled',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
    const y = (await session.run(feeds))[want] as ort.Tensor;
    // Through the executor's own conversion: its one change to a bit is the canonical NaN.
    const got = Buffer.from(fromOrtValue(y, base).data);
    assert.deepEqual(y.dims.map(Number), outDims, 'dims');
    for (const m of mine) {
      assert.equal(
        got.subarray(m.chunk * 256, m.chunk * 256 + 256).toString('hex'),
        m.out,
        `${m.name}: bytes`,
      );
    }
  });
}
