"""Benchmark: inference speed and peak memory of each architecture, CPU and (when present) CUDA.

For every architecture (full width, 11 CamVid classes, random weights: speed
does not depend on the weights) at 360x480 (CamVid) and 500x500 (VOC-sized),
a fresh subprocess builds the model, runs `Predictor.predict` on real CamVid
frames (resized for 500x500; synthetic if ../shared is absent) and reports:
  - images/s and seconds/image on CPU (after one warm-up image, whose time is
    reported apart), and the ratio to a baseline measured in the same process:
    the bare `model(x)` forward under `torch.no_grad` with numpy preprocessing,
    i.e. what the Predictor's own overhead costs;
  - peak resident memory of the process (ru_maxrss), and the growth over the
    memory held after imports (so the model and activations, not torch itself);
  - with --cpu-bf16: bf16 autocast on the CPU, and how many pixels keep their
    label (random weights give near-tied logits, so this is a pessimistic figure);
  - on CUDA only: eager fp32 against bf16 autocast + channels_last (and
    torch.compile on top, unless --no-compile), batch --gpu-batch, images/s and
    peak GPU memory, with the GPU's name.
Also measured: `predict_paths` over CamVid files (decoding on threads) against
a plain load-then-predict loop.

Shipped models on the CPU (`--only shipped`): for models/segnet-basic-camvid
and fcn8s-w0.3-camvid at 360x480 (CamVid val frames), eager torch,
channels_last, bf16 autocast, torch.compile (inductor) and onnxruntime, taking
turns image by image, with s/image, speed against eager and the fraction of
pixels whose label equals eager's. Then "Predict All" with the default model
over --predict-all CamVid files: the code of BASELINE_COMMIT ("today", eager
torch; extracted with git archive) against this tree's default (auto), both as
`segstudio predict` and as the studio's batch loop (which now also saves each
image's confidence), alternating runs; then a first run with an empty ONNX
cache.
The last line printed is one JSON object with all figures.

    .venv/bin/python benchmarks/bench_inference.py [--only shipped|archs] [--shipped-n 6] [--predict-all 24]
        [--iters 1] [--archs segnet-basic,fcn8s] [--cpu-bf16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CAMVID_VAL = REPO.parent / "shared" / "datasets" / "camvid" / "val"
ARCHS = ["segnet-basic", "segnet", "fcn32s", "fcn16s", "fcn8s"]
SIZES = [(360, 480), (500, 500)]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _images(h: int, w: int, n: int):
    import numpy as np
    from PIL import Image

    files = sorted(CAMVID_VAL.glob("*.png"))[:n] if CAMVID_VAL.is_dir() else []
    if files:
        out = []
        for f in files:
            im = Image.open(f).convert("RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.BILINEAR)
            out.append(np.asarray(im))
        return out, "camvid"
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)], "synthetic"


def _sync(dev: str) -> None:
    import torch

    if dev.startswith("cuda"):
        torch.cuda.synchronize()


def worker(arch: str, h: int, w: int, iters: int, gpu: bool, gpu_batch: int, compile_: bool,
           cpu_bf16: bool) -> dict:
    import numpy as np
    import torch

    from segstudio.core.labels import preset
    from segstudio.nets import build_model, count_parameters
    from segstudio.nets.checkpoint import make_card
    from segstudio.nets.predictor import Predictor

    base_rss = _rss_mb()
    torch.manual_seed(0)
    labelset = preset("camvid")
    model = build_model(arch, labelset.num_classes)
    for name, m in model.named_children():
        if name.startswith("score"):  # zero at init: give FCNs non-trivial labels to compare
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    card = make_card(arch, 1.0, labelset)
    images, source = _images(h, w, iters + 1)
    res = {"arch": arch, "size": f"{h}x{w}", "params": count_parameters(model), "images": source}

    # CPU: Predictor against the bare forward
    pred = Predictor(model, card, device="cpu", tile_size=4096)
    t = time.perf_counter()
    pred.predict(images[0])
    res["cpu_first_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    for im in images[1:]:
        pred.predict(im)
    dt = (time.perf_counter() - t) / iters
    res["cpu_s_per_image"] = round(dt, 3)
    res["cpu_images_per_s"] = round(1 / dt, 3)
    mean = np.array(card["input"]["mean"], np.float32)
    std = np.array(card["input"]["std"], np.float32)
    t = time.perf_counter()
    with torch.no_grad():
        for im in images[1:]:
            x = torch.from_numpy(((im / 255.0 - mean) / std).astype(np.float32).transpose(2, 0, 1)[None].copy())
            model(x).argmax(1)
    base = (time.perf_counter() - t) / iters
    res["cpu_baseline_s_per_image"] = round(base, 3)
    res["cpu_speed_vs_baseline"] = round(base / dt, 3)
    if cpu_bf16:
        bf = Predictor(model, card, device="cpu", tile_size=4096, precision="bf16")
        bf.predict(images[0])
        t = time.perf_counter()
        bf_labels = [bf.predict(im) for im in images[1:]]
        t_bf = (time.perf_counter() - t) / iters
        agree = [float((lb == pred.predict(im)).mean()) for lb, im in zip(bf_labels, images[1:])]
        res["cpu_bf16_s_per_image"] = round(t_bf, 3)
        res["cpu_bf16_speed_vs_fp32"] = round(dt / t_bf, 3)
        res["cpu_bf16_label_agreement"] = round(sum(agree) / len(agree), 4)
    res["cpu_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    res["cpu_peak_rss_over_imports_mb"] = round(res["cpu_peak_rss_mb"] - base_rss, 1)

    if gpu and torch.cuda.is_available():
        res["gpu"] = gpu_section(model, card, images, gpu_batch, compile_)
    return res


def gpu_section(model, card, images, batch: int, compile_: bool) -> dict:
    import torch

    from segstudio.nets.predictor import Predictor

    batch_imgs = (images * ((batch + len(images) - 1) // len(images)))[:batch]
    out = {}
    variants = [("eager_fp32", dict(precision="fp32", channels_last=False), False),
                ("bf16_channels_last", dict(precision="bf16", channels_last=True), False)]
    if compile_:
        variants.append(("bf16_channels_last_compiled", dict(precision="bf16", channels_last=True), True))
    for name, opts, comp in variants:
        try:
            pred = Predictor(model, card, device="cuda", batch_size=batch, tile_size=4096, **opts)
            if comp:
                pred.model = torch.compile(pred.model)
            torch.cuda.reset_peak_memory_stats()
            t = time.perf_counter()
            pred.predict_batch(batch_imgs)  # warm-up (and compilation)
            _sync("cuda")
            first = time.perf_counter() - t
            reps = 10
            t = time.perf_counter()
            for _ in range(reps):
                pred.predict_batch(batch_imgs)
            _sync("cuda")
            dt = (time.perf_counter() - t) / (reps * batch)
            out[name] = {"images_per_s": round(1 / dt, 1), "ms_per_image": round(1000 * dt, 2),
                         "first_batch_s": round(first, 2),
                         "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
        except Exception as e:  # report, keep measuring the others
            out[name] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
        finally:
            model.to("cpu", memory_format=torch.contiguous_format)
            torch.cuda.empty_cache()
    if "images_per_s" in out.get("eager_fp32", {}):
        for name in out:
            if "images_per_s" in out[name]:
                out[name]["speed_vs_eager_fp32"] = round(out[name]["images_per_s"] / out["eager_fp32"]["images_per_s"], 2)
    return out


def paths_section(n: int) -> dict:
    """predict_paths (decode on threads, batches) vs a plain load-then-predict loop, SegNet-Basic."""
    import torch

    from segstudio.core.imageio import load_image
    from segstudio.core.labels import preset
    from segstudio.nets import build_model
    from segstudio.nets.checkpoint import make_card
    from segstudio.nets.predictor import Predictor

    files = sorted(CAMVID_VAL.glob("*.png"))[:n] if CAMVID_VAL.is_dir() else []
    if not files:
        return {"skipped": "CamVid not found"}
    torch.manual_seed(0)
    model = build_model("segnet-basic", 11)
    pred = Predictor(model, make_card("segnet-basic", 1.0, preset("camvid")), device="cpu")
    pred.predict(load_image(files[0]))  # warm-up
    t = time.perf_counter()
    for f in files:
        pred.predict(load_image(f))
    loop = time.perf_counter() - t
    t = time.perf_counter()
    for _ in pred.predict_paths(files):
        pass
    threaded = time.perf_counter() - t
    return {"images": len(files), "loop_images_per_s": round(len(files) / loop, 3),
            "predict_paths_images_per_s": round(len(files) / threaded, 3),
            "speed_vs_loop": round(loop / threaded, 3)}


SHIPPED = ["segnet-basic-camvid", "fcn8s-w0.3-camvid"]


def _cpu_variants(model, card, session):
    """name -> Predictor for each CPU path measured on the shipped models."""
    import torch

    from segstudio.nets.onnx_export import OrtModule
    from segstudio.nets.predictor import Predictor

    def pred(m=model, **kw):
        return Predictor(m, card, device="cpu", **kw)

    variants = {"eager": lambda: pred(),
                "channels_last": lambda: pred(channels_last=True),
                "bf16_autocast": lambda: pred(precision="bf16"),
                "compile_inductor": lambda: pred(torch.compile(model)),
                "onnxruntime": lambda: pred(OrtModule(session, model))}
    return variants


def shipped_worker(name: str, n: int) -> dict:
    """Every CPU path for one shipped model on n CamVid frames at 360x480: s/image, agreement with eager.

    The paths take turns image by image, so a change of load on a shared machine hits them alike.
    """
    import torch

    from segstudio.nets.checkpoint import load_checkpoint
    from segstudio.nets.onnx_export import onnx_bytes, ort_session

    images, source = _images(360, 480, n + 1)
    model, card = load_checkpoint(name)
    t = time.perf_counter()
    session = ort_session(onnx_bytes(model, card))
    res = {"model": name, "images": source, "n": n, "threads": torch.get_num_threads(),
           "onnx_export_s": round(time.perf_counter() - t, 1), "paths": {}}
    preds, times, labels = {}, {}, {}
    for vname, make in _cpu_variants(model, card, session).items():
        try:
            preds[vname] = make()
            t = time.perf_counter()
            preds[vname].predict(images[0])  # warm-up (compilation for inductor)
            res["paths"][vname] = {"first_s": round(time.perf_counter() - t, 2)}
            times[vname], labels[vname] = [], []
        except Exception as e:  # report, keep measuring the others
            res["paths"][vname] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    for im in images[1:]:
        for vname, pred in preds.items():
            t = time.perf_counter()
            labels[vname].append(pred.predict(im))
            times[vname].append(time.perf_counter() - t)
    ref = labels["eager"]
    for vname in preds:
        agree = sum(float((a == b).mean()) for a, b in zip(labels[vname], ref)) / n
        res["paths"][vname].update({"s_per_image": round(sum(times[vname]) / n, 4),
                                    "agreement_vs_eager": round(agree, 6),
                                    "speed_vs_eager": round(sum(times["eager"]) / sum(times[vname]), 2)})
    return res


def shipped_section(n: int) -> list[dict]:
    out = []
    for name in SHIPPED:
        proc = subprocess.run([sys.executable, __file__, "--shipped-worker", name, "--shipped-n", str(n)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name}: FAILED\n{proc.stderr[-2000:]}", flush=True)
            out.append({"model": name, "error": proc.stderr[-500:]})
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        out.append(r)
        print(f"{name} on CPU, 360x480, {n} {r['images']} frames, {r['threads']} threads "
              f"(ONNX export {r['onnx_export_s']} s):", flush=True)
        for vname, p in r["paths"].items():
            print(f"    {vname:<17} " + (f"{p['s_per_image']:.3f} s/img  x{p['speed_vs_eager']:.2f} vs eager  "
                                         f"labels agree {100 * p['agreement_vs_eager']:.3f} %  "
                                         f"(first image {p['first_s']:.1f} s)" if "s_per_image" in p else p["error"]),
                  flush=True)
    return out


BASELINE_COMMIT = "d8b3a9f"  # "today": the eager-torch Predict All before the CPU work of issue 15


def _baseline_tree() -> Path:
    """segstudio as it was at BASELINE_COMMIT, extracted (git archive) into a temporary folder."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BASELINE_COMMIT, "segstudio"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root


def predict_all_worker(root: str, mode: str, backend: str, n: int) -> dict:
    """One timed Predict All by the segstudio under `root`: `cli` = `segstudio predict` in-process (model
    load, decode, predict, label PNGs), `studio` = the studio's batch loop (predict_paths, the mask PNG
    and, where the code has it, the confidence map per image), `prepare` = fill the ONNX cache."""
    import tempfile

    sys.path.insert(0, root)
    import segstudio.cli as cli
    import segstudio.commands.cmd_predict  # noqa: F401 - imports (torch...) are not the Predict All
    from segstudio.core.imageio import write_label_png
    from segstudio.nets.predictor import Predictor

    files = sorted(CAMVID_VAL.glob("*.png"))[:n]
    out = Path(tempfile.mkdtemp(prefix="bench-predict-all-"))
    if mode == "prepare":
        from segstudio.nets.backends import prepare_onnxruntime
        from segstudio.nets.checkpoint import load_checkpoint

        prepare_onnxruntime(*load_checkpoint(os.environ["BENCH_MODEL"]))
        return {}
    t, c = time.perf_counter(), time.process_time()
    if mode == "cli":
        folder = out / "in"
        folder.mkdir()
        for f in files:
            (folder / f.name).symlink_to(f)
        t, c = time.perf_counter(), time.process_time()
        rc = cli.main(["predict", str(folder), "--out", str(out / "masks"), "--quiet", "--backend", backend,
                       "--model", os.environ["BENCH_MODEL"]])
        assert rc == 0
    else:
        pred = Predictor.from_checkpoint(os.environ["BENCH_MODEL"], device="cpu", backend=backend)
        conf = hasattr(pred, "predict_confidence")
        if conf:
            from segstudio.core.assist.confidence_store import save_confidence
        for path, result, _ in pred.predict_paths(files, **({"confidence": True} if conf else {})):
            labels = result[0] if conf else result
            write_label_png(out / "masks" / f"{path.stem}.png", labels, pred.labelset)
            if conf and result[1] is not None:
                save_confidence(out / "masks", path.stem, result[1])
    res = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c}
    from segstudio.core.imageio import read_label_png

    res["labels"] = str(out / "masks")
    res["segstudio"] = str(Path(cli.__file__).parents[1])
    res["first_label"] = int(read_label_png(out / "masks" / f"{files[0].stem}.png")[0, 0])
    return res


def _predict_all_run(root, mode, backend, n, cache) -> dict:
    from segstudio.nets.checkpoint import default_model

    # Both versions run this tree's default model file, so a newer shipped model compares like with like.
    env = dict(os.environ, SEGSTUDIO_CACHE=str(cache), BENCH_MODEL=str(default_model().path))
    proc = subprocess.run([sys.executable, __file__, "--predict-all-worker", str(root), mode, backend, str(n)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {backend} in {root}: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _agreement(a: str, b: str) -> float:
    from segstudio.core.imageio import read_label_png

    pairs = [(read_label_png(p), read_label_png(Path(b) / p.name)) for p in sorted(Path(a).glob("*.png"))]
    return sum(float((x == y).mean()) for x, y in pairs) / len(pairs)


def predict_all_section(n: int, rounds: int) -> dict:
    """The default model's Predict All over n CamVid files: today's code (BASELINE_COMMIT, eager torch)
    against this tree's default (auto), the CLI and the studio loop, alternating runs (`rounds` each);
    then a first run with an empty ONNX cache (CLI, timed from outside: does it wait for the export?)."""
    import tempfile

    if not sorted(CAMVID_VAL.glob("*.png"))[:n]:
        return {"skipped": "CamVid not found"}
    from segstudio.nets.onnx_export import cache_dir

    old = _baseline_tree()
    cache = cache_dir()  # the user's: the warm runs use (or first make) its export of the default model
    _predict_all_run(REPO, "prepare", "auto", n, cache)
    res = {"images": n, "baseline_commit": BASELINE_COMMIT, "rounds": rounds}
    for mode in ("cli", "studio"):
        runs = {"today": [], "now": []}
        for _ in range(rounds):
            runs["today"].append(_predict_all_run(old, mode, "torch", n, cache))
            runs["now"].append(_predict_all_run(REPO, mode, "auto", n, cache))
        wall = {k: sum(r["wall_s"] for r in v) for k, v in runs.items()}
        cpu = {k: sum(r["cpu_s"] for r in v) for k, v in runs.items()}
        res[mode] = {"today_s_per_image": round(wall["today"] / rounds / n, 3),
                     "now_s_per_image": round(wall["now"] / rounds / n, 3),
                     "today_cpu_s_per_image": round(cpu["today"] / rounds / n, 3),
                     "now_cpu_s_per_image": round(cpu["now"] / rounds / n, 3),
                     "speed_wall": round(wall["today"] / wall["now"], 2), "speed_cpu": round(cpu["today"] / cpu["now"], 2),
                     "agreement": round(_agreement(runs["today"][0]["labels"], runs["now"][0]["labels"]), 6)}
        r = res[mode]
        print(f"Predict All ({mode}), {n} CamVid files, {rounds} alternating runs: today ({BASELINE_COMMIT}, torch) "
              f"{r['today_s_per_image']:.3f} s/img (CPU {r['today_cpu_s_per_image']:.3f}), now (auto) "
              f"{r['now_s_per_image']:.3f} s/img (CPU {r['now_cpu_s_per_image']:.3f}): x{r['speed_wall']:.2f} "
              f"wall, x{r['speed_cpu']:.2f} CPU time; labels agree {100 * r['agreement']:.4f} %", flush=True)
    cold_cache = Path(tempfile.mkdtemp(prefix="bench-onnx-cold-"))
    t = time.perf_counter()
    cold = _predict_all_run(REPO, "cli", "auto", n, cold_cache)
    res["cold_cli_wall_s"] = round(time.perf_counter() - t, 2)
    res["cold_cli_s_per_image"] = round(cold["wall_s"] / n, 3)
    res["cold_export_still_running_at_exit"] = any(cold_cache.glob("onnx/*.exporting"))
    print(f"first run, empty ONNX cache (CLI): {res['cold_cli_s_per_image']:.3f} s/img (torch while a low-priority "
          f"process exports); export still running when the command ended: "
          f"{res['cold_export_still_running_at_exit']}", flush=True)
    return res


def archs_section(args) -> list[dict]:
    """Random-weight architectures at CamVid and VOC sizes, one subprocess each."""
    results = []
    for arch in args.archs.split(","):
        for h, w in SIZES:
            cmd = [sys.executable, __file__, "--worker", arch, str(h), str(w), "--iters", str(args.iters),
                   "--gpu-batch", str(args.gpu_batch)] + (["--no-gpu"] if args.no_gpu else []) \
                + (["--no-compile"] if args.no_compile else []) + (["--cpu-bf16"] if args.cpu_bf16 else [])
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{arch} {h}x{w}: FAILED\n{proc.stderr[-2000:]}", flush=True)
                results.append({"arch": arch, "size": f"{h}x{w}", "error": proc.stderr[-500:]})
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            print(f"{arch:<13} {h}x{w}  CPU {r['cpu_images_per_s']:7.3f} img/s ({r['cpu_s_per_image']:.2f} s/img, "
                  f"first {r['cpu_first_s']:.2f} s; bare forward {r['cpu_baseline_s_per_image']:.2f} s/img, "
                  f"x{r['cpu_speed_vs_baseline']:.2f})  peak RSS {r['cpu_peak_rss_mb']:.0f} MB "
                  f"(+{r['cpu_peak_rss_over_imports_mb']:.0f} MB over imports)", flush=True)
            if "cpu_bf16_s_per_image" in r:
                print(f"    CPU bf16 autocast {r['cpu_bf16_s_per_image']:.2f} s/img (x{r['cpu_bf16_speed_vs_fp32']:.2f} "
                      f"vs fp32, labels agree on {100 * r['cpu_bf16_label_agreement']:.1f}% of pixels)", flush=True)
            for name, g in (r.get("gpu") or {}).items():
                print(f"    GPU {name:<28} " + (f"{g['images_per_s']:8.1f} img/s  peak {g['peak_gpu_mb']:.0f} MB  "
                                                  f"x{g.get('speed_vs_eager_fp32', 1):.2f} vs eager fp32"
                                                  if "images_per_s" in g else g["error"]), flush=True)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=1, help="timed images per arch and size on CPU")
    ap.add_argument("--cpu-bf16", action="store_true", help="also time bf16 autocast on the CPU")
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--paths", type=int, default=6, help="files for the predict_paths comparison (0: skip)")
    ap.add_argument("--no-gpu", action="store_true")
    ap.add_argument("--gpu-batch", type=int, default=8)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--worker", nargs=3, metavar=("ARCH", "H", "W"), help=argparse.SUPPRESS)
    ap.add_argument("--only", choices=["shipped", "archs", "default"], default=None,
                    help="shipped: only the CPU paths of the shipped models; archs: only the random-weight archs; "
                         "default: only the default model against the previous one (inference_default.py)")
    ap.add_argument("--default-new", default="fcn8s-lite0-camvid", help="the default model (name or path)")
    ap.add_argument("--default-old", default="segnet-basic-camvid", help="the model it replaced")
    ap.add_argument("--default-n", type=int, default=8, help="timed frames per model and backend")
    ap.add_argument("--shipped-n", type=int, default=6, help="timed frames per shipped model and CPU path")
    ap.add_argument("--shipped-worker", help=argparse.SUPPRESS)
    ap.add_argument("--predict-all", type=int, default=24, help="CamVid files for the Predict All comparison")
    ap.add_argument("--predict-all-rounds", type=int, default=2, help="alternating runs per Predict All path")
    ap.add_argument("--predict-all-worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.predict_all_worker:
        root, mode, backend, n = args.predict_all_worker
        print(json.dumps(predict_all_worker(root, mode, backend, int(n))))
        return 0
    if args.shipped_worker:
        print(json.dumps(shipped_worker(args.shipped_worker, args.shipped_n)))
        return 0
    if args.worker:
        arch, h, w = args.worker[0], int(args.worker[1]), int(args.worker[2])
        print(json.dumps(worker(arch, h, w, args.iters, not args.no_gpu, args.gpu_batch, not args.no_compile,
                                args.cpu_bf16)))
        return 0

    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(), "cpu_threads": torch.get_num_threads(),
            "cores": os.cpu_count(), "cuda": torch.cuda.is_available(),
            "gpu_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average_at_start": round(os.getloadavg()[0], 2)}
    print(f"torch {info['torch']}, {info['cores']} cores, {info['cpu_threads']} torch threads, "
          f"GPU: {info['gpu_name'] or 'none (GPU section skipped)'}", flush=True)
    out = {"benchmark": "inference", **info, "iters": args.iters}
    if args.only in (None, "default"):
        from inference_default import default_section

        images, _ = _images(360, 480, args.default_n + 1)
        out["default"] = default_section(args.default_new, args.default_old, images, 2)
    if args.only in (None, "shipped"):
        out["shipped_cpu"] = shipped_section(args.shipped_n) if args.shipped_n else []
        out["predict_all"] = (predict_all_section(args.predict_all, args.predict_all_rounds) if args.predict_all
                              else {"skipped": "0"})
    if args.only in (None, "archs"):
        out["results"] = archs_section(args)
        out["predict_paths"] = paths_section(args.paths) if args.paths else {"skipped": "--paths 0"}
        paths = out["predict_paths"]
        if "speed_vs_loop" in paths:
            print(f"predict_paths {paths['predict_paths_images_per_s']:.3f} img/s vs load+predict loop "
                  f"{paths['loop_images_per_s']:.3f} img/s (x{paths['speed_vs_loop']:.2f}), {paths['images']} CamVid files")
    info["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps({**out, "load_average_at_end": info["load_average_at_end"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
