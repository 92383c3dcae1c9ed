"""GPU benchmark, one command for one device call: tests, ceilings, ops, a paper-size step.

    python benchmarks/gpu.py [--out benchmarks/results] [--repeats 20] [--dry-run]
    python benchmarks/gpu.py --check        # = make gpu-check: everything a GPU must show

--check (budget: under 8 minutes on one H100/H200), in a new folder
benchmarks/results/gpu_check_<date>/ (never over an existing one):
  a. proves both GPU backends (get_backend: driver, compute capability, cuBLAS, a kernel);
  b. runs every GPU test (the contract's parity on cupy and numba, the GPU test files);
  c. runs compute-sanitizer memcheck, racecheck and synccheck over the GPU parity tests
     when the tool is on PATH or under $CUDA_HOME/bin (else records that it is absent);
  d. one paper-size float32 training step (572x572, base 64) per GPU backend against the
     NumPy reference: loss, every gradient and every updated parameter;
  e. the benchmark below (--repeats 10);
  and writes gpu_check.json + gpu_check.md (device, compute capability, driver, CUDA
  runtime, date, every result). Exit status 0 only when every part passed.

1. Runs the GPU tests (tests/kernels/test_cupy_gpu.py and any tests/**/test_numba*gpu*.py).
2. Measures the device's two ceilings: a device-to-device copy (bytes read + written per
   second) and a large matrix product through cuBLAS (float32 with TF32 off, and float64).
3. Times every op's forward + backward at paper sizes for CuPy-ours, Numba-ours (when the
   numba backend loads) and PyTorch with cuDNN (TF32 off), with CUDA events after warm-up,
   reporting medians, achieved GB/s (fewest bytes: each input read once, each output
   written once) and TFLOP/s.
4. Times a full training step at the paper's size (572x572 -> 388x388, base 64, float32,
   batch 1, SGD momentum) for the same three.
Writes gpu_benchmark.json and gpu_benchmark.md to --out. Without a GPU it stops with a
message saying so; --dry-run checks the imports and the arguments and prints the plan.
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from minimal_unet.backends import BackendUnavailableError, get_backend  # noqa: E402
from minimal_unet.model import UNet, UNetConfig  # noqa: E402
from minimal_unet.torch_twin import build_torch_unet  # noqa: E402

F4 = 4  # bytes per float32


def op_cases():
    """The ops timed, each at the paper size where it costs most (batch 1, float32).

    name -> shapes, FLOPs of forward + backward, fewest bytes forward + backward must move.
    """
    conv_flops = 2 * 64 * 568 * 568 * 64 * 9  # one forward product
    return {
        "conv2d 64->64 3x3, 570->568": dict(
            shape=dict(x=(1, 64, 570, 570), w=(64, 64, 3, 3)), flops=3 * conv_flops,
            bytes=F4 * (2 * 64 * 570 * 570 + 3 * 64 * 568 * 568)),  # x, dx; y, dy read twice
        "relu (1, 64, 568, 568)": dict(
            shape=dict(x=(1, 64, 568, 568)), flops=0, bytes=F4 * 5 * 64 * 568 * 568),
        "maxpool2d 568 -> 284": dict(
            shape=dict(x=(1, 64, 568, 568)), flops=0,
            bytes=F4 * (2 * 64 * 568 * 568 + 2 * 64 * 284 * 284)),
        "upconv2d 128->64, 196 -> 392": dict(
            shape=dict(x=(1, 128, 196, 196), w=(128, 64, 2, 2)),
            flops=3 * 2 * 128 * 64 * 4 * 196 * 196,
            bytes=F4 * (2 * 128 * 196 * 196 + 2 * 64 * 392 * 392)),
        "crop_and_concat 568 + 392": dict(
            shape=dict(skip=(1, 64, 568, 568), up=(1, 64, 392, 392)), flops=0,
            bytes=F4 * (2 * 64 * 392 * 392 * 2 + 2 * 64 * 568 * 568)),
        "softmax_cross_entropy (1, 2, 388, 388)": dict(
            shape=dict(logits=(1, 2, 388, 388)), flops=0,
            bytes=F4 * (2 * 2 * 388 * 388 + 2 * 388 * 388)),
    }


def unet_step_flops(size=572, base=64, depth=4, in_channels=1, n_classes=2):
    """FLOPs of one training step (forward + backward = 3 x forward products), valid convs."""
    flops, n, c = 0, size, in_channels
    skips = []
    for i in range(depth + 1):
        f = base * 2**i
        for _ in range(2):
            n -= 2
            flops += 2 * f * c * 9 * n * n
            c = f
        if i < depth:
            skips.append(c)
            n //= 2
    for i in reversed(range(depth)):
        f = base * 2**i
        flops += 2 * c * f * 4 * n * n  # up-convolution
        n, c = 2 * n, 2 * f
        for _ in range(2):
            n -= 2
            flops += 2 * f * c * 9 * n * n
            c = f
    flops += 2 * n_classes * c * n * n
    return 3 * flops


# ---------------------------------------------------------------- timing
def cuda_time_ms(fn, cp, warmup=3, repeats=20):
    """Median time of fn() in ms, between CUDA events on the current stream, after warm-up."""
    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return float(np.median(times)), float(np.min(times)), float(np.max(times))


def ceilings(cp, repeats):
    """Device-to-device copy bandwidth (GB/s) and matmul rates (TFLOP/s), measured here."""
    src = cp.random.standard_normal(2**28, dtype=cp.float32)  # 1 GiB
    dst = cp.empty_like(src)
    copy_ms = cuda_time_ms(lambda: dst.__setitem__(Ellipsis, src), cp, repeats=repeats)[0]
    result = {"copy_GBps": 2 * src.nbytes / copy_ms / 1e6}
    for dtype, n in ((cp.float32, 8192), (cp.float64, 4096)):
        a = cp.random.standard_normal((n, n)).astype(dtype)
        b = cp.random.standard_normal((n, n)).astype(dtype)
        ms = cuda_time_ms(lambda a=a, b=b: cp.matmul(a, b), cp, repeats=repeats)[0]
        result[f"matmul_{np.dtype(dtype).name}_TFLOPs"] = 2 * n**3 / ms / 1e9
    return result


# ---------------------------------------------------------------- the three contenders
def ours_op_runner(ops, name, case, rng):
    """A closure running op `name`'s forward + backward on backend `ops` (float32)."""
    def arr(shape):
        return ops.asarray(rng.standard_normal(shape).astype(np.float32))

    s = case["shape"]
    if name.startswith("conv2d"):
        x, w, b = arr(s["x"]), arr(s["w"]), arr((64,))
        dy = arr((1, 64, 568, 568))
        return lambda: ops.conv2d_backward(dy, ops.conv2d_forward(x, w, b)[1])
    if name.startswith("relu"):
        x, dy = arr(s["x"]), arr(s["x"])
        return lambda: ops.relu_backward(dy, ops.relu_forward(x)[1])
    if name.startswith("maxpool2d"):
        x, dy = arr(s["x"]), arr((1, 64, 284, 284))
        return lambda: ops.maxpool2d_backward(dy, ops.maxpool2d_forward(x)[1])
    if name.startswith("upconv2d"):
        x, w, b, dy = arr(s["x"]), arr(s["w"]), arr((64,)), arr((1, 64, 392, 392))
        return lambda: ops.upconv2d_backward(dy, ops.upconv2d_forward(x, w, b)[1])
    if name.startswith("crop_and_concat"):
        skip, up, dy = arr(s["skip"]), arr(s["up"]), arr((1, 128, 392, 392))
        return lambda: ops.crop_and_concat_backward(dy, ops.crop_and_concat_forward(skip, up)[1])
    logits = arr(s["logits"])
    target = ops.asarray(rng.integers(0, 2, size=(1, 388, 388)))
    return lambda: ops.softmax_cross_entropy(logits, target)


def torch_op_runner(torch, name, case, rng):
    """The same op in PyTorch (cuDNN), forward + backward through autograd."""
    F = torch.nn.functional

    def arr(shape, grad=True):
        data = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).cuda()
        return data.requires_grad_(grad)

    s = case["shape"]
    if name.startswith("conv2d"):
        x, w, b = arr(s["x"]), arr(s["w"]), arr((64,))
        dy = arr((1, 64, 568, 568), False)
        return lambda: F.conv2d(x, w, b).backward(dy)
    if name.startswith("relu"):
        x, dy = arr(s["x"]), arr(s["x"], False)
        return lambda: F.relu(x).backward(dy)
    if name.startswith("maxpool2d"):
        x, dy = arr(s["x"]), arr((1, 64, 284, 284), False)
        return lambda: F.max_pool2d(x, 2).backward(dy)
    if name.startswith("upconv2d"):
        x, w, b = arr(s["x"]), arr(s["w"]), arr((64,))
        dy = arr((1, 64, 392, 392), False)
        return lambda: F.conv_transpose2d(x, w, b, stride=2).backward(dy)
    if name.startswith("crop_and_concat"):
        skip, up, dy = arr(s["skip"]), arr(s["up"]), arr((1, 128, 392, 392), False)
        return lambda: torch.cat([skip[:, :, 88:480, 88:480], up], 1).backward(dy)
    logits = arr(s["logits"])
    target = torch.from_numpy(rng.integers(0, 2, size=(1, 388, 388))).cuda()
    return lambda: F.cross_entropy(logits, target).backward()


# ---------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per case (median)")
    parser.add_argument("--size", type=int, default=572, help="training-step input size")
    parser.add_argument("--base", type=int, default=64, help="channels of the first level")
    parser.add_argument("--backends", default="cupy,numba",
                        help="ours to time beside torch, comma-separated (cupy always)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run pytest first")
    parser.add_argument("--check", action="store_true",
                        help="the one-call GPU check (see the module docstring)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check imports and arguments, print the plan, touch no GPU")
    args = parser.parse_args(argv)
    args.backends = args.backends.split(",")
    if not set(args.backends) <= {"cupy", "numba"}:
        parser.error(f"--backends: expected names from cupy,numba, got {args.backends}")
    if args.repeats < 1 or args.size < 188 or args.base < 1:
        parser.error("expected --repeats >= 1, --size >= 188 and --base >= 1")
    return args


def run_tests():
    files = [str(REPO / "tests" / "kernels" / "test_cupy_gpu.py")]
    files += sorted(str(p) for p in (REPO / "tests").rglob("test_numba*gpu*.py"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", *files],
                            capture_output=True, text=True, cwd=REPO)
    print(result.stdout[-3000:])
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return {"files": files, "returncode": result.returncode, "summary": last}


# ---------------------------------------------------------------- --check
GPU_TESTS = ["tests/kernels/test_backend_contract.py", "tests/kernels/test_cupy_gpu.py",
             "tests/kernels/test_numba_gpu.py"]
SANITIZER_TOOLS = ("memcheck", "racecheck", "synccheck")


def find_sanitizer():
    """Path of compute-sanitizer (PATH, then $CUDA_HOME/bin, /usr/local/cuda/bin) or None."""
    import os
    import shutil

    found = shutil.which("compute-sanitizer")
    if found:
        return found
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        candidate = Path(home or "/nonexistent") / "bin" / "compute-sanitizer"
        if candidate.is_file():
            return str(candidate)
    return None


def run_command(command, timeout):
    """{command, returncode, summary, seconds} of one subprocess (returncode None: timed out)."""
    start = time.time()
    try:
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                                timeout=timeout)
        lines = (result.stdout + result.stderr).strip().splitlines()
        code, summary = result.returncode, "\n".join(lines[-5:])
    except subprocess.TimeoutExpired:
        code, summary = None, f"timed out after {timeout} s"
    return {"command": " ".join(command), "returncode": code, "summary": summary,
            "seconds": round(time.time() - start, 1)}


def _paper_step_inputs(size, base):
    config = UNetConfig(in_channels=1, n_classes=2, depth=4, base_channels=base)
    out = size - 184
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, size, size)).astype(np.float32)
    target = rng.integers(0, 2, size=(1, out, out))
    return config, x, target


_NUMPY_STEPS = {}


def _numpy_paper_step(size, base):
    """The NumPy reference step (loss, grads, updated params), computed once per size."""
    from minimal_unet.optim import SGD

    if (size, base) not in _NUMPY_STEPS:
        config, x, target = _paper_step_inputs(size, base)
        ref = UNet(config, seed=0, dtype=np.float32, backend="numpy")
        loss_ref, grads_ref = ref.loss_and_grads(x, target)
        SGD(ref.params, lr=0.01, momentum=0.99, backend="numpy").step(grads_ref)
        _NUMPY_STEPS[(size, base)] = (loss_ref, grads_ref, ref.params)
    return _NUMPY_STEPS[(size, base)]


def paper_step_vs_numpy(who, size=572, base=64):
    """One float32 training step (loss, gradients, SGD update) on `who` against NumPy."""
    from minimal_unet.optim import SGD

    ops = get_backend(who)
    config, x, target = _paper_step_inputs(size, base)
    loss_ref, grads_ref, params_ref = _numpy_paper_step(size, base)
    net = UNet(config, seed=0, dtype=np.float32, backend=who)
    loss, grads = net.loss_and_grads(ops.asarray(x), ops.asarray(target))
    SGD(net.params, lr=0.01, momentum=0.99, backend=who).step(grads)

    def rel(a, b):
        a, b = np.asarray(ops.asnumpy(a), np.float64), np.asarray(b, np.float64)
        return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))

    errors = {"loss": abs(float(loss) - float(loss_ref)) / abs(float(loss_ref))}
    errors["worst_gradient"] = max(rel(grads[k], grads_ref[k]) for k in grads_ref)
    errors["worst_parameter"] = max(rel(net.params[k], params_ref[k]) for k in params_ref)
    # float32 with different summation orders (cuBLAS, our reductions) on 31 M parameters
    passed = errors["loss"] < 1e-4 and errors["worst_gradient"] < 1e-3 \
        and errors["worst_parameter"] < 1e-5
    return {"passed": passed, "relative_errors": errors,
            "limits": {"loss": 1e-4, "worst_gradient": 1e-3, "worst_parameter": 1e-5}}


def gpu_check(args):
    """--check: see the module docstring. Returns the exit status."""
    try:
        get_backend("cupy")
    except BackendUnavailableError as error:
        print(f"benchmarks/gpu.py --check needs a CUDA GPU and found none: {error}",
              file=sys.stderr)
        return 1
    import cupy as cp

    stamp = time.strftime("%Y-%m-%d_%H%M%S")
    folder = args.out / f"gpu_check_{stamp}"
    if folder.exists():
        print(f"benchmarks/gpu.py --check: {folder} exists; not overwriting it", file=sys.stderr)
        return 1
    folder.mkdir(parents=True)
    props = cp.cuda.runtime.getDeviceProperties(0)

    def version(v):
        return f"{v // 1000}.{v % 1000 // 10}"

    report = {"device": props["name"].decode(), "compute_capability":
              f"{props['major']}.{props['minor']}",
              "driver_cuda": version(cp.cuda.runtime.driverGetVersion()),
              "runtime_cuda": version(cp.cuda.runtime.runtimeGetVersion()),
              "cupy": cp.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
              "host": platform.node(), "backends": {}}
    gpu_backends = []
    for who in ("cupy", "numba"):
        try:
            get_backend(who)
            report["backends"][who] = "proven"
            gpu_backends.append(who)
        except BackendUnavailableError as error:
            report["backends"][who] = str(error)
    python = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    report["tests"] = run_command([*python, *GPU_TESTS], timeout=150)
    sanitizer = find_sanitizer()
    report["sanitizer"] = {"path": sanitizer}
    for tool in SANITIZER_TOOLS if sanitizer else ():
        command = [sanitizer, "--tool", tool, "--error-exitcode", "1", *python,
                   "tests/kernels/test_backend_contract.py", "-k",
                   "parity and not emu and float32", "-o", "timeout=60"]
        report["sanitizer"][tool] = run_command(command, timeout=70)
    report["paper_step"] = {}
    for who in gpu_backends:
        try:
            report["paper_step"][who] = paper_step_vs_numpy(who)
        except Exception as error:  # recorded, never hidden
            report["paper_step"][who] = {"passed": False, "error": " ".join(str(error).split())}
    bench_args = ["--skip-tests", "--repeats", "10", "--out", str(folder),
                  "--backends", ",".join(gpu_backends)]
    try:
        report["benchmark"] = {"returncode": main(bench_args),
                               "files": ["gpu_benchmark.json", "gpu_benchmark.md"]}
    except Exception as error:
        report["benchmark"] = {"returncode": 1, "error": " ".join(str(error).split())}
    report["passed"] = check_passed(report)
    write_check_report(report, folder)
    return 0 if report["passed"] else 1


def check_passed(report):
    """Every backend proven, tests and each sanitizer tool clean, steps close, benchmark ran."""
    parts = [all(v == "proven" for v in report["backends"].values()),
             report["tests"]["returncode"] == 0,
             all(step.get("passed") for step in report["paper_step"].values()),
             report["benchmark"].get("returncode") == 0]
    parts += [report["sanitizer"][tool]["returncode"] == 0
              for tool in SANITIZER_TOOLS if tool in report["sanitizer"]]
    return all(parts)


def write_check_report(report, folder):
    (folder / "gpu_check.json").write_text(json.dumps(report, indent=2))
    lines = [f"# GPU check: {report['device']} (compute capability "
             f"{report['compute_capability']}), driver CUDA {report['driver_cuda']}, runtime "
             f"CUDA {report['runtime_cuda']}, {report['date']}", "",
             f"Overall: {'PASSED' if report['passed'] else 'FAILED'}", "",
             "| part | result |", "|---|---|"]
    for who, state in report["backends"].items():
        lines.append(f"| backend {who} | {state} |")
    lines.append(f"| GPU tests | {report['tests']['summary'].splitlines()[-1:] or ''} |")
    if not report["sanitizer"]["path"]:
        lines.append("| compute-sanitizer | not found (PATH, $CUDA_HOME/bin) |")
    for tool in SANITIZER_TOOLS:
        if tool in report["sanitizer"]:
            r = report["sanitizer"][tool]
            lines.append(f"| compute-sanitizer {tool} | returncode {r['returncode']}, "
                         f"{r['seconds']} s |")
    for who, step in report["paper_step"].items():
        lines.append(f"| paper step {who} vs NumPy | {'passed' if step.get('passed') else 'FAILED'}"
                     f" {step.get('relative_errors', step.get('error'))} |")
    lines.append(f"| benchmark | returncode {report['benchmark'].get('returncode')} "
                 f"(gpu_benchmark.md) |")
    (folder / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    args = parse_args(argv)
    if args.check:
        return gpu_check(args)
    import cupy as cp  # an ImportError here is the clearest message

    if args.dry_run:
        import torch  # noqa: F401  (checked, not used)

        print(f"dry run: would test, then time {list(op_cases())} and a {args.size}x{args.size} "
              f"base-{args.base} training step ({unet_step_flops(args.size, args.base) / 1e9:.1f}"
              f" GFLOP) for {args.backends} + torch, writing to {args.out}")
        return 0
    try:
        ours = get_backend("cupy")
    except BackendUnavailableError as error:
        print(f"benchmarks/gpu.py needs a CUDA GPU and found none: {error}", file=sys.stderr)
        return 1
    import torch

    if not torch.cuda.is_available():
        print("benchmarks/gpu.py: PyTorch has no CUDA here (a CPU-only build?)", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True

    report = {"device": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(),
              "host": platform.node(), "date": time.strftime("%Y-%m-%d %H:%M"),
              "repeats": args.repeats}
    report["tests"] = None if args.skip_tests else run_tests()
    report["ceilings"] = ceilings(cp, args.repeats)
    backends = {"cupy": ours}
    if "numba" in args.backends:
        try:
            backends["numba"] = get_backend("numba")
        except Exception as error:  # reported, never hidden: the table says why it is missing
            report["numba_missing"] = str(error)

    rng = np.random.default_rng(0)
    rows = []
    for name, case in op_cases().items():
        runners = {b: ours_op_runner(ops, name, case, rng) for b, ops in backends.items()}
        runners["torch"] = torch_op_runner(torch, name, case, rng)
        for who, fn in runners.items():
            median, low, high = cuda_time_ms(fn, cp, repeats=args.repeats)
            rows.append(dict(case=name, who=who, ms=median, ms_min=low, ms_max=high,
                             GBps=case["bytes"] / median / 1e6,
                             TFLOPs=case["flops"] / median / 1e9))
            print(rows[-1], flush=True)

    step_flops = unet_step_flops(args.size, args.base)
    out_size = args.size - 184
    config = UNetConfig(in_channels=1, n_classes=2, depth=4, base_channels=args.base)
    x = rng.standard_normal((1, 1, args.size, args.size)).astype(np.float32)
    target = rng.integers(0, 2, size=(1, out_size, out_size))
    for who, ops in backends.items():
        net = UNet(config, seed=0, dtype=np.float32, backend=who)
        velocity = {k: ops.zeros_like(p) for k, p in net.params.items()}
        xd, td = ops.asarray(x), ops.asarray(target)

        def step(net=net, ops=ops, velocity=velocity, xd=xd, td=td):
            _, grads = net.loss_and_grads(xd, td)
            for k, p in net.params.items():
                ops.sgd_momentum_update(p, grads[k], velocity[k], 1e-3, 0.99)

        median, low, high = cuda_time_ms(step, cp, warmup=2, repeats=max(3, args.repeats // 4))
        rows.append(dict(case=f"training step {args.size}, base {args.base}", who=who, ms=median,
                         ms_min=low, ms_max=high, GBps=None, TFLOPs=step_flops / median / 1e9))
        print(rows[-1], flush=True)
    model = build_torch_unet(config, dtype=torch.float32, device="cuda")
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.99)
    xt, tt = torch.from_numpy(x).cuda(), torch.from_numpy(target).cuda()

    def torch_step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(xt), tt).backward()
        opt.step()

    median, low, high = cuda_time_ms(torch_step, cp, warmup=2, repeats=max(3, args.repeats // 4))
    rows.append(dict(case=f"training step {args.size}, base {args.base}", who="torch", ms=median,
                     ms_min=low, ms_max=high, GBps=None, TFLOPs=step_flops / median / 1e9))
    report["rows"] = rows
    write_report(report, args.out)
    return 0


def write_report(report, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_benchmark.json").write_text(json.dumps(report, indent=2))
    c = report["ceilings"]
    lines = [f"# GPU benchmark: {report['device']} ({report['date']}), medians of "
             f"{report['repeats']} runs, float32, TF32 off", "",
             f"Measured ceilings: copy {c['copy_GBps']:.0f} GB/s, matmul float32 "
             f"{c['matmul_float32_TFLOPs']:.1f} TFLOP/s, float64 "
             f"{c['matmul_float64_TFLOPs']:.1f} TFLOP/s.", "",
             "| case | who | ms (median) | min-max | GB/s | TFLOP/s |",
             "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        gbps = "" if r["GBps"] is None else f"{r['GBps']:.0f}"
        tflops = f"{r['TFLOPs']:.2f}" if r["TFLOPs"] else ""
        lines.append(f"| {r['case']} | {r['who']} | {r['ms']:.3f} | {r['ms_min']:.3f}-"
                     f"{r['ms_max']:.3f} | {gbps} | {tflops} |")
    if report.get("tests"):
        lines += ["", f"GPU tests: {report['tests']['summary']}"]
    if report.get("numba_missing"):
        lines += ["", f"Numba backend not timed: {report['numba_missing']}"]
    (out / "gpu_benchmark.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
