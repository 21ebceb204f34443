"""Exports the ONNX conformance node tests (onnx.backend.test.case.node) for the one-step op set to
programs/tests/fixtures/onnx-node-cases.json, in the op-cases.json format.

Run once when the onnx version or the op set changes (needs `pip install onnx numpy`):
    python3 programs/tests/tools/onnx_node_cases.py
Cases the referee cannot take (other dtypes, per-axis quantization, rank > 6, outputs over the
sizes one transaction carries) are listed as skipped with the reason.
"""
import json
import os
import struct
import sys
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
from onnx import helper
from onnx.backend.test.case.node import collect_testcases

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx-node-cases.json")
DT = {np.dtype("float32"): 1, np.dtype("uint8"): 2, np.dtype("int8"): 3, np.dtype("int32"): 6, np.dtype("int64"): 7,
      np.dtype("bool"): 9}
OPS = {"Identity": 1, "Reshape": 2, "Flatten": 3, "Transpose": 4, "Relu": 5, "Add": 6, "Sub": 7, "Mul": 8,
       "MatMulInteger": 9, "Clip": 10, "QuantizeLinear": 11, "DequantizeLinear": 12, "Cast": 13, "Concat": 14,
       "Gather": 15, "Slice": 16, "Squeeze": 17, "Unsqueeze": 18, "Shape": 19, "Equal": 20, "Not": 21, "Where": 22,
       "ConstantOfShape": 23, "Pad": 24, "Neg": 25, "Abs": 26, "Less": 27, "Greater": 28, "LessOrEqual": 29,
       "GreaterOrEqual": 30, "Div": 31, "Sqrt": 32, "Pow": 33,
       "DynamicQuantizeLinear": 34, "ConvInteger": 35}
PREFIXES = ["test_relu", "test_add", "test_sub", "test_mul", "test_matmulinteger", "test_clip", "test_quantizelinear",
            "test_dequantizelinear", "test_cast_", "test_reshape", "test_flatten", "test_transpose", "test_identity",
            "test_concat", "test_gather_", "test_slice", "test_squeeze", "test_unsqueeze", "test_shape", "test_equal",
            "test_not", "test_where", "test_constantofshape", "test_constant_pad", "test_reflect_pad", "test_edge_pad",
            "test_wrap_pad", "test_neg", "test_abs", "test_less", "test_greater", "test_div", "test_sqrt",
            "test_pow", "test_dynamicquantizelinear", "test_convinteger"]
MAX_INPUT_BYTES = 700


def pack_header(dtype, dims):
    b = bytes([dtype, len(dims)]) + b"".join(struct.pack("<I", d) for d in dims)
    return b + b"\0" * (26 - len(b))


def entry(op, n_inputs, attrs=b""):
    refs = b"".join(struct.pack("<H", (2 << 14) | i) for i in range(n_inputs)) + b"\0" * (2 * (4 - n_inputs))
    return bytes([op, n_inputs]) + refs + attrs + b"\0" * (14 - len(attrs))


def convert(tc, inputs, expected, out_index=0):
    node = tc.model.graph.node[0]
    if node.op_type not in OPS or len(tc.model.graph.node) != 1:
        return None, "not a single supported node"
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    names = list(node.input)
    # Scalars come as numpy scalar types; tensors as ndarrays; sequences/optionals as lists/None.
    values = {gi.name: (np.asarray(inputs[i]) if isinstance(inputs[i], np.generic) else inputs[i])
              for i, gi in enumerate(tc.model.graph.input) if i < len(inputs)}
    if isinstance(expected, np.generic):
        expected = np.asarray(expected)
    for init in tc.model.graph.initializer:
        values[init.name] = onnx.numpy_helper.to_array(init)
    if any(n and n not in values for n in names):
        return None, "input not given"
    inputs = [values.get(n) for n in names]
    feeds = [(n, values[n]) for n in names if n]
    if not all(isinstance(v, np.ndarray) for _, v in feeds) or not isinstance(expected, np.ndarray):
        return None, "sequence or optional value"
    for _, v in feeds:
        if v.dtype not in DT and not (node.op_type == "Reshape"):
            return None, f"input dtype {v.dtype}"
    if expected.dtype not in DT:
        return None, f"output dtype {expected.dtype}"
    op = OPS[node.op_type]
    ins = [v for _, v in feeds]
    if node.op_type in ("Add", "Sub", "Mul") and inputs[0].dtype not in (np.float32, np.int32):
        return None, f"{node.op_type} on {inputs[0].dtype} is not in the one-step op set"
    # The dtypes of pure/ops.rs infer_arith (issue 15's elementwise arithmetic and comparisons).
    takes = {"Neg": (np.float32, np.int32), "Abs": (np.float32, np.int32), "Div": (np.float32, np.int32),
             "Sqrt": (np.float32,)}
    if node.op_type in ("Less", "Greater", "LessOrEqual", "GreaterOrEqual"):
        takes[node.op_type] = (np.float32, np.int32, np.int64, np.int8, np.uint8)
    if node.op_type in takes and inputs[0].dtype not in takes[node.op_type]:
        return None, f"{node.op_type} on {inputs[0].dtype} is not in the one-step op set"

    a = b""
    if node.op_type == "Reshape":
        if expected.ndim > 3 or inputs[0].dtype not in DT:
            return None, "reshape target rank > 3 or dtype"
        a = bytes([expected.ndim]) + b"".join(struct.pack("<I", d) for d in expected.shape)
        ins = [inputs[0]]
    elif node.op_type == "Flatten":
        ax = attrs.get("axis", 1)
        a = bytes([ax % max(1, inputs[0].ndim) if ax < 0 else ax])
    elif node.op_type == "Transpose":
        perm = attrs.get("perm", list(reversed(range(inputs[0].ndim))))
        a = bytes([len(perm)] + list(perm))
    elif node.op_type == "Cast":
        to = attrs["to"]
        if to not in (1, 2, 3, 6):
            return None, f"cast to {to}"
        a = bytes([to])
    elif node.op_type == "Clip":
        lo = inputs[1] if len(names) > 1 and names[1] else None
        hi = inputs[2] if len(names) > 2 and names[2] else None
        dt = inputs[0].dtype
        pack = (lambda v: struct.pack("<f", float(v))) if dt == np.float32 else (lambda v: struct.pack("<i", int(v)))
        a = bytes([(1 if lo is not None else 0) | (2 if hi is not None else 0)])
        a += pack(lo) if lo is not None else b"\0" * 4
        a += pack(hi) if hi is not None else b"\0" * 4
        ins = [inputs[0]]
    elif node.op_type == "MatMulInteger":
        a = bytes([DT[inputs[0].dtype], DT[inputs[1].dtype]])
    elif node.op_type in ("Concat", "Gather"):
        r = inputs[0].ndim
        ax = attrs.get("axis", 0)
        a = bytes([ax + r if ax < 0 else ax])
        if node.op_type == "Concat" and len(ins) > 4:
            return None, "more than 4 inputs"
    elif node.op_type == "Slice":
        r, d = inputs[0].ndim, inputs[0].shape
        starts, ends = [int(x) for x in inputs[1]], [int(x) for x in inputs[2]]
        axes = [int(x) for x in inputs[3]] if len(inputs) > 3 and inputs[3] is not None else list(range(len(starts)))
        steps = [int(x) for x in inputs[4]] if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
        axes = [x + r if x < 0 else x for x in axes]
        # Axes kept whole and in order are dropped, as executor/program-model.ts does.
        cut = [(ax, s, e, st) for ax, s, e, st in zip(axes, starts, ends, steps)
               if list(range(d[ax])[slice(s, e, st)]) != list(range(d[ax]))]
        cut = sorted(cut) or [(0, 0, 2**31 - 1, 1)]
        if len(cut) > 2:
            return None, "Slice on more than 2 axes (the referee slices at most 2 per layer)"
        if len(cut) == 1:
            i32 = lambda v: max(-2**31, min(2**31 - 1, v))
            ax, s0, e0, st0 = cut[0]
            a = bytes([ax]) + struct.pack("<iii", i32(s0), i32(e0), i32(st0))
        else:
            if any(d[ax] > 32766 for ax, *_ in cut):
                return None, "two-axis Slice of an axis over 32766"
            a = bytes([0x40 | sum(1 << ax for ax, *_ in cut)])
            for ax, s0, e0, st0 in cut:
                n, m = d[ax], max(d[ax], 1)
                a += struct.pack("<hhh", max(-n, min(n, s0)), max(-n - 1, min(n, e0)), max(-m, min(m, st0)))
        ins = [inputs[0]]
    elif node.op_type == "ConstantOfShape":
        v = attrs.get("value")
        arr = onnx.numpy_helper.to_array(v) if v is not None else np.zeros(1, np.float32)
        if arr.dtype not in DT:
            return None, f"ConstantOfShape of {arr.dtype}"
        a = bytes([DT[arr.dtype]]) + arr.reshape(-1)[:1].tobytes()
        ins = [inputs[0]]
    elif node.op_type == "Pad":
        mode = attrs.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode not in ("constant", "reflect", "edge"):
            return None, f"Pad mode {mode}"
        r = inputs[0].ndim
        pads = [int(x) for x in (attrs["pads"] if "pads" in attrs else inputs[1])]
        axes = [int(x) for x in inputs[3]] if len(inputs) > 3 and inputs[3] is not None else list(range(r))
        axes = [x + r if x < 0 else x for x in axes]
        cut = sorted((ax, pads[k], pads[len(axes) + k]) for k, ax in enumerate(axes) if pads[k] or pads[len(axes) + k])
        if len(cut) > 2:
            return None, "Pad on more than 2 axes"
        cv = inputs[2] if len(inputs) > 2 and inputs[2] is not None and inputs[2].size else None
        bits = 0
        if mode == "constant" and cv is not None:
            bits = struct.unpack("<i", np.asarray(cv).reshape(-1)[:1].astype(inputs[0].dtype).tobytes()[:4].ljust(4, b"\0"))[0]
        nib = [ax for ax, *_ in cut] + [15] * (2 - len(cut))
        a = bytes([["constant", "reflect", "edge"].index(mode)]) + struct.pack("<i", bits) + bytes([nib[0] | (nib[1] << 4)])
        for ax, b0, e0 in cut:
            a += struct.pack("<hh", b0, e0)
        ins = [inputs[0]]
    elif node.op_type in ("Squeeze", "Unsqueeze"):
        axes = attrs.get("axes")
        if len(inputs) > 1 and inputs[1] is not None:
            axes = [int(x) for x in inputs[1]]
        r = inputs[0].ndim if node.op_type == "Squeeze" else expected.ndim
        if axes is None:
            axes = [i for i, d in enumerate(inputs[0].shape) if d == 1]
        a = bytes([sum(1 << (x + r if x < 0 else x) for x in axes)])
        ins = [inputs[0]]
    elif node.op_type == "Shape":
        r = inputs[0].ndim
        norm = lambda v: max(0, min(r, v + r if v < 0 else v))
        st = norm(attrs.get("start", 0))
        en = max(st, norm(attrs.get("end", r)))
        a = bytes([st, en])
    elif node.op_type == "ConvInteger":
        # pure/ops.rs OP_CONV_INTEGER: 1-D or 2-D, explicit pads, h values 1, 1, 0, 0 for 1-D.
        r = inputs[0].ndim
        if r not in (3, 4) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
            return None, "ConvInteger rank or auto_pad"
        k = r - 2
        st, dl = list(attrs.get("strides", [1] * k)), list(attrs.get("dilations", [1] * k))
        pd = list(attrs.get("pads", [0] * (2 * k)))
        if k == 1:
            st, dl, pd = [1] + st, [1] + dl, [0, pd[0], 0, pd[1]]
        g = attrs.get("group", 1)
        a = bytes([DT[inputs[1].dtype]] + st + dl + pd) + struct.pack("<H", g)
        if len(names) > 3 and not names[2]:
            return None, "a w zero point without an x zero point"
        if any(v.size != 1 for v in ins[2:]):
            return None, "per-channel w zero point (onnxruntime's ConvInteger: 'Non per-tensor quantization is not supported')"
    elif node.op_type == "DynamicQuantizeLinear":
        # One entry per output (attrs[0]: 0 y, 1 scale, 2 zero point), each from x alone.
        a = bytes([out_index])
    elif node.op_type == "Pow":
        # pure/ops.rs OP_POW: a float32 or int32 base, one constant exponent equal to 2 or 3.
        e = inputs[1]
        if inputs[0].dtype not in (np.float32, np.int32):
            return None, f"Pow on {inputs[0].dtype} is not in the one-step op set"
        if e.size != 1 or float(e.reshape(-1)[0]) not in (2.0, 3.0) or e.ndim > inputs[0].ndim:
            return None, "Pow exponent is not one value of 2 or 3 (onnxruntime uses powf otherwise)"
        a = bytes([int(e.reshape(-1)[0])])
        ins = [inputs[0]]
    elif node.op_type in ("QuantizeLinear", "DequantizeLinear"):
        if any(v.size != 1 for v in ins[1:]):
            return None, "per-axis or blocked quantization"
    if any(v.ndim > 6 for v in ins) or expected.ndim > 6:
        return None, "rank > 6"
    if sum(v.nbytes for v in ins) > MAX_INPUT_BYTES:
        return None, "inputs larger than one check transaction"
    tensors = [{"dtype": DT[v.dtype], "dims": list(v.shape), "bytes": np.ascontiguousarray(v).tobytes().hex()} for v in ins]
    out = np.ascontiguousarray(expected).tobytes()
    n_chunks = max(1, -(-len(out) // 256))
    e = entry(op, len(ins), a).hex()
    return [{"name": f"{tc.name} chunk {c}", "entry": e, "inputs": tensors, "chunk": c,
             "header": pack_header(DT[expected.dtype], list(expected.shape)).hex(), "out": out[c * 256:(c + 1) * 256].hex()}
            for c in sorted({0, n_chunks - 1})], None


def main():
    cases, skipped = [], []
    for tc in collect_testcases(""):
        if not any(tc.name.startswith(p) for p in PREFIXES) or tc.name.endswith("_expanded") or "_expanded_" in tc.name:
            continue
        for k, (inputs, outputs) in enumerate(tc.data_sets or []):
            dql = tc.model.graph.node[0].op_type == "DynamicQuantizeLinear"
            for k in range(len(outputs) if dql else 1):
                res, why = convert(tc, inputs, outputs[k], k)
                if res is None:
                    skipped.append({"name": tc.name, "reason": why})
                else:
                    if dql:
                        for c in res:
                            c["name"] = c["name"].replace(" chunk", f" {['y', 'scale', 'zero point'][k]} chunk")
                    cases.extend(res)
    json.dump({"onnx": onnx.__version__, "cases": cases, "skipped": skipped}, open(OUT, "w"), indent=1)
    print(f"wrote {OUT}: {len(cases)} cases, {len(skipped)} skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
