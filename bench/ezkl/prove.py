#!/usr/bin/env python3
"""EZKL proving benchmark for the models optinfer's own benchmarks use.

The alternative to optinfer's optimistic scheme is a zero-knowledge proof of every inference. This script measures what
that costs with EZKL (halo2/KZG) on this machine: per-stage wall time, peak RSS, proof size and circuit size (logrows).

Usage (python from the venv that bench/ezkl/setup.sh creates):

  prove.py build WORK                 write the models + inputs into WORK, print the manifest as JSON
  prove.py one WORK NAME              prove one model in this process, print one JSON line
  prove.py run WORK [--only a,b] [--timeout S]
                                      build, then prove each model in a fresh subprocess (so peak RSS is per model),
                                      print one JSON line per model

Every model gets a seeded random input (WORK/NAME.input.json, EZKL's {"input_data": [[...]]} format; the same values
are read by bench/ezkl.ts for the onnxruntime side). Visibility is EZKL's default: input public, output public,
params fixed (weights baked into the circuit, so the verifying key binds the model). Calibration uses
target="resources" (smallest circuit). The SRS is generated locally with ezkl.gen_srs (insecure, fine for timing;
get_srs would download it and this machine has no internet), and SRS generation is timed separately from setup.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import resource
import subprocess
import sys
import time
import traceback

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SEED = 20260101

# (depth, width): depth = number of dense layers (MatMul+Add), ReLU between them; input and every hidden layer have
# `width` features, the last layer has `width` outputs too. d8-w256 and d2-w512 have the same parameter count (layers
# vs tensor size). With params fixed in the circuit, rows ~ params, and proving memory doubles per logrow: d4-w512
# (logrows 20) peaks near 10 GB here, so nothing larger is included (2^21 rows would need ~20 GB on this 24 GB box).
MLP_GRID = [(2, 16), (4, 16), (8, 16), (2, 64), (4, 64), (8, 64), (2, 256), (4, 256), (8, 256), (2, 512), (4, 512)]


# ---------------------------------------------------------------------------------------------------------- models


def _save(model: onnx.ModelProto, path: str) -> None:
    # onnx >= 1.18 stamps IR version 11+ (1.23: 14); onnxruntime-node reads up to 10-13 depending on its version.
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def build_mlp(depth: int, width: int, seed: int) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    cur = "x"
    for i in range(depth):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        b = (rng.standard_normal(width) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("MatMul", [cur, f"w{i}"], [f"mm{i}"]))
        last = i == depth - 1
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], ["y" if last else f"add{i}"]))
        if not last:
            nodes.append(helper.make_node("Relu", [f"add{i}"], [f"h{i}"]))
            cur = f"h{i}"
    g = helper.make_graph(
        nodes,
        f"mlp_d{depth}_w{width}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], producer_name="optinfer-bench-ezkl")


def build_demo_f32(int8_path: str, requant: bool) -> onnx.ModelProto:
    """models/demo-int8-mlp.onnx with the same weights as float32: x[1,16] -> MatMul[16,32] -> Add -> Relu -> ...
    -> MatMul[32,8] -> Add -> y[1,8].

    requant=False: the int8 requantization between the layers (QuantizeLinear with scale 256) becomes a plain float
    rescale folded into w2 (w2/256): the float model a user would train, same layers/shapes/activation.
    requant=True: emulates it exactly (Div 256, Round, Clip to [-128, 127]), so outputs equal the int8 model's."""
    src = onnx.load(int8_path)
    arr = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in src.graph.initializer}
    q = float(arr["q_scale"])
    w2 = arr["w2"] if requant else arr["w2"] / q
    inits = [
        numpy_helper.from_array(arr["w1"], "w1"),
        numpy_helper.from_array(arr["b1"], "b1"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(arr["b2"], "b2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["mm1"]),
        helper.make_node("Add", ["mm1", "b1"], ["add1"]),
        helper.make_node("Relu", ["add1"], ["h1" if not requant else "relu1"]),
    ]
    if requant:
        inits += [
            numpy_helper.from_array(arr["q_scale"], "q_scale"),
            numpy_helper.from_array(np.array(-128, np.float32), "qmin"),
            numpy_helper.from_array(np.array(127, np.float32), "qmax"),
        ]
        nodes += [
            helper.make_node("Div", ["relu1", "q_scale"], ["div1"]),
            helper.make_node("Round", ["div1"], ["round1"]),
            helper.make_node("Clip", ["round1", "qmin", "qmax"], ["h1"]),
        ]
    nodes += [
        helper.make_node("MatMul", ["h1", "w2"], ["mm2"]),
        helper.make_node("Add", ["mm2", "b2"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "demo_mlp_f32_requant" if requant else "demo_mlp_f32",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], producer_name="optinfer-bench-ezkl")


def _params(model: onnx.ModelProto) -> int:
    return int(sum(int(np.prod(t.dims)) for t in model.graph.initializer))


def build(work: str) -> list[dict]:
    os.makedirs(work, exist_ok=True)
    manifest: list[dict] = []

    def add(name, path, model, layers, source, dtype, values, note="", scales=None):
        inp = model.graph.input[0]
        shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        with open(os.path.join(work, f"{name}.input.json"), "w") as fh:
            json.dump({"input_data": [[float(v) for v in values]]}, fh)
        manifest.append(
            {
                "name": name,
                "onnx": path,
                "input": inp.name,
                "dims": shape,
                "dtype": dtype,
                "layers": layers,
                "params": _params(model),
                "source": source,
                "note": note,
                "scales": scales,
            }
        )

    rng = np.random.default_rng(SEED)
    demo = os.path.join(REPO, "models", "demo-int8-mlp.onnx")
    dm = onnx.load(demo)
    demo_x = rng.integers(-128, 128, size=16)
    add("demo-int8-mlp", demo, dm, 2, "models/demo-int8-mlp.onnx", "int8", demo_x, "original MatMulInteger graph")
    f32 = build_demo_f32(demo, requant=False)
    p = os.path.join(work, "demo-mlp-f32.onnx")
    _save(f32, p)
    add("demo-mlp-f32", p, f32, 2, "float32 twin of demo-int8-mlp", "float32", demo_x, "requant folded into w2")

    for depth, width in MLP_GRID:
        m = build_mlp(depth, width, SEED + depth * 1000 + width)
        name = f"mlp-d{depth}-w{width}"
        p = os.path.join(work, f"{name}.onnx")
        _save(m, p)
        add(name, p, m, depth, "synthetic float32 MLP", "float32", rng.uniform(-1, 1, size=width))

    ww = os.path.join(REPO, "node_modules", "openwakeword-js", "models", "hello_deepa.onnx")
    if os.path.exists(ww):
        m = onnx.load(ww)
        n = int(np.prod([d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]))
        add("hello_deepa", ww, m, 3, "openwakeword-js (pretrained)", "float32", rng.uniform(-1, 1, size=n))
    # Last: it needs a 2^21-row circuit (the rounding division has a 2^19 range check), the slowest case by far.
    rq = build_demo_f32(demo, requant=True)
    p = os.path.join(work, "demo-mlp-f32-requant.onnx")
    _save(rq, p)
    # Default calibration picks input scale 11, where the rounding division by 256 needs a 2^19-wide range check and
    # so a 2^21-row circuit (est. ~20 GB RSS here). Every value in this model is an integer, so scale 0 is exact:
    # calibrate over scales [0] (the default calibration's logrows is still recorded, as default_logrows).
    add("demo-mlp-f32-requant", p, rq, 2, "float32 twin, exact int8 requant", "float32", demo_x, "Div/Round/Clip", [0])
    with open(os.path.join(work, "models.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    return manifest


# ---------------------------------------------------------------------------------------------------------- proving


def _call(fn, *args, **kwargs):
    """Calls an ezkl function; some are awaitable depending on the version."""
    r = fn(*args, **kwargs)
    if inspect.isawaitable(r):

        async def _aw():
            return await r

        r = asyncio.run(_aw())
    return r


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _size(p: str) -> int | None:
    return os.path.getsize(p) if os.path.exists(p) else None


def prove_one(work: str, name: str) -> dict:
    import ezkl

    manifest = {m["name"]: m for m in json.load(open(os.path.join(work, "models.json")))}
    m = manifest[name]
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    P = lambda f: os.path.join(d, f)  # noqa: E731
    data = os.path.join(work, f"{name}.input.json")
    out: dict = {
        "model": name,
        "layers": m["layers"],
        "params": m["params"],
        "ezkl": getattr(ezkl, "__version__", "?"),
        "status": "ok",
        "t": {},
        "rss_mb": {},
    }
    stage = "start"

    def timed(label, fn, *a, **k):
        nonlocal stage
        stage = label
        t0 = time.perf_counter()
        r = _call(fn, *a, **k)
        out["t"][label] = round(time.perf_counter() - t0, 4)
        out["rss_mb"][label] = round(_rss_mb(), 1)
        if r is False:
            raise RuntimeError(f"ezkl.{fn.__name__} returned False")
        return r

    try:
        args = ezkl.PyRunArgs()  # defaults: input public, output public, params fixed
        timed("gen_settings", ezkl.gen_settings, m["onnx"], P("settings.json"), py_run_args=args)
        if m.get("scales") is not None:
            # What the default calibration would have chosen, for the record (not proved).
            _call(ezkl.gen_settings, m["onnx"], P("settings-default.json"), py_run_args=args)
            _call(ezkl.calibrate_settings, data, m["onnx"], P("settings-default.json"), "resources")
            dflt = json.load(open(P("settings-default.json")))
            out["default_logrows"] = dflt["run_args"]["logrows"]
            out["default_input_scale"] = dflt["run_args"]["input_scale"]
            out["calibration_scales"] = m["scales"]
        timed(
            "calibrate",
            ezkl.calibrate_settings,
            data,
            m["onnx"],
            P("settings.json"),
            "resources",
            scales=m.get("scales"),
        )
        timed("compile", ezkl.compile_circuit, m["onnx"], P("network.ezkl"), P("settings.json"))
        settings = json.load(open(P("settings.json")))
        ra = settings.get("run_args", {})
        logrows = int(ra["logrows"])
        out.update(
            logrows=logrows,
            num_rows=settings.get("num_rows"),
            total_assignments=settings.get("total_assignments"),
            total_const_size=settings.get("total_const_size"),
            input_scale=ra.get("input_scale"),
            param_scale=ra.get("param_scale"),
            lookup_range=ra.get("lookup_range"),
            required_lookups=[str(x) for x in settings.get("required_lookups", [])],
            required_range_checks=settings.get("required_range_checks"),
        )
        srs = os.path.join(work, "srs", f"k{logrows}.srs")
        os.makedirs(os.path.dirname(srs), exist_ok=True)
        if not os.path.exists(srs):
            timed("gen_srs", ezkl.gen_srs, srs, logrows)
        timed("setup", ezkl.setup, P("network.ezkl"), P("vk.key"), P("pk.key"), srs_path=srs)
        wit = timed("witness", ezkl.gen_witness, data, P("network.ezkl"), P("witness.json"), srs_path=srs)
        timed("prove", ezkl.prove, P("witness.json"), P("network.ezkl"), P("pk.key"), P("proof.json"), srs_path=srs)
        ok = timed("verify", ezkl.verify, P("proof.json"), P("settings.json"), P("vk.key"), srs_path=srs)
        out["verified"] = bool(ok)
        proof = json.load(open(P("proof.json")))
        pb = proof.get("proof")
        if isinstance(pb, str):
            out["proof_bytes"] = len(bytes.fromhex(pb[2:] if pb.startswith("0x") else pb))
        elif isinstance(pb, list):
            out["proof_bytes"] = len(pb)
        out["proof_json_bytes"] = _size(P("proof.json"))
        out["pk_bytes"] = _size(P("pk.key"))
        out["vk_bytes"] = _size(P("vk.key"))
        out["srs_bytes"] = _size(srs)
        if os.environ.get("OPTINFER_EZKL_KEEP_PK") != "1":
            os.remove(P("pk.key"))  # GBs for the larger models; set OPTINFER_EZKL_KEEP_PK=1 to keep it
        # Accuracy of the fixed-point circuit vs the float reference (onnx.reference).
        try:
            pretty = (wit or {}).get("pretty_elements") or json.load(open(P("witness.json"))).get("pretty_elements")
            ez = np.array([float(v) for v in np.ravel(pretty["rescaled_outputs"][0])])
            from onnx.reference import ReferenceEvaluator

            x = np.array(json.load(open(data))["input_data"][0], dtype=np.float64)
            x = x.astype(np.int8 if m["dtype"] == "int8" else np.float32).reshape(m["dims"])
            ref = np.ravel(ReferenceEvaluator(m["onnx"]).run(None, {m["input"]: x})[0]).astype(np.float64)
            out["max_abs_err"] = float(np.max(np.abs(ez - ref)))
            out["max_abs_ref"] = float(np.max(np.abs(ref)))
        except Exception as e:  # noqa: BLE001
            out["accuracy_error"] = f"{type(e).__name__}: {e}"
    except BaseException as e:  # noqa: BLE001 (pyo3 panics are BaseException)
        out["status"] = "error"
        out["stage"] = stage
        out["error"] = f"{type(e).__name__}: {e}"[:2000]
        out["traceback"] = traceback.format_exc()[-1500:]
    out["peak_rss_mb"] = round(_rss_mb(), 1)
    return out


def run(work: str, only: list[str] | None, timeout: float) -> None:
    manifest = build(work)
    for m in manifest:
        if only and m["name"] not in only:
            continue
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "one", work, m["name"]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            so, se = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            so, se = proc.communicate()
            row = {"model": m["name"], "status": "error", "stage": "timeout", "error": f"timed out after {timeout}s"}
            row.update(layers=m["layers"], params=m["params"])
            print(json.dumps(row), flush=True)
            continue
        lines = [ln for ln in so.splitlines() if ln.startswith("{")]
        if proc.returncode == 0 and lines:
            row = json.loads(lines[-1])
        else:
            row = {
                "model": m["name"],
                "layers": m["layers"],
                "params": m["params"],
                "status": "error",
                "stage": "process",
                "error": f"exit {proc.returncode} (signal {-proc.returncode} if negative): {se[-1500:]}",
            }
        if row.get("status") != "ok":
            # EZKL explains unsupported ops on stderr (e.g. "Unknown op: QuantizeLinearI8"), not in the exception.
            hints = [ln.strip() for ln in se.splitlines() if ln.strip() and not ln.lstrip().startswith(("|", "+", "<"))]
            row["stderr"] = " | ".join(hints[-6:])[-1000:]
        row["wall_s"] = round(time.perf_counter() - t0, 2)
        print(json.dumps(row), flush=True)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, work = argv[1], os.path.abspath(argv[2])
    if cmd == "build":
        print(json.dumps(build(work)))
    elif cmd == "one":
        print(json.dumps(prove_one(work, argv[3])), flush=True)
    elif cmd == "run":
        only, timeout = None, 900.0
        rest = argv[3:]
        while rest:
            k = rest.pop(0)
            if k == "--only":
                only = rest.pop(0).split(",")
            elif k == "--timeout":
                timeout = float(rest.pop(0))
        run(work, only, timeout)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
