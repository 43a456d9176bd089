"""Bad-input corpus: every case run through the real `segstudio` in a subprocess, with a timeout.

    .venv/bin/python benchmarks/check_bad_inputs.py [--timeout 60] [--only SUBSTRING]

Cases (made in a temporary folder; the shipped models are used as shipped):

* shapes: `segstudio predict` on 1xN, Nx1, 100000x2, 3x4000, 4000x3, 1x1 ... images, after an ordinary
  480x360 one whose time is the baseline (and with --tta,
  --scale 8, the FCN model): each must be predicted at its own size;
* cards: a copy of the shipped checkpoint whose card has an absurd value (train_short_side 0, negative,
  NaN, 1e9; mean/std of the wrong length; unknown arch ...): refused naming the card file and the field;
* options: --scale / --tta / --workers / --batch-size ... of 0, negative, NaN, inf, huge: refused by
  argparse naming the option;
* onnx: a foreign, truncated or renamed ONNX given as --model: refused naming it; a damaged file in
  the ONNX cache: predicted (with torch) and said;
* confidence: --confidence into an --out whose .confidence/ holds corrupt maps (replaced) or a folder
  (that image's write fails, named; the others are written);
* studio (the studio itself, offscreen, driven by this script re-run as `--studio`): lock files
  (garbage, a folder, a pipe, another host's), damaged settings files, corrupt / truncated /
  wrong-size / huge / folder confidence maps under the heat map.

Each case is ok, crash (a traceback, or an exit status other than 0/1/2), silent (a bad input taken
without a word, or a refusal that does not name the file / option), hang (the timeout), lost (a file
of the user's changed) or refused (a valid input refused). Prints one line per case, the counts, and
as the last line one JSON object {"cases", "ok", "crash", "silent", "hang", "lost", "refused"}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHAPES = [(480, 360), (4000, 3), (3, 4000), (1, 5000), (5000, 1), (100000, 2), (2, 100000), (1, 1), (2, 2), (7, 3), (1, 300)]


class Case:
    """argv after `segstudio`; expect "predict" (outputs of the right size), "refuse" (exit 2 naming
    `says`), "warn" (exit 0 or 1 with `says` on stderr) or "studio" (judged by `judge(report)`)."""

    def __init__(self, name, argv, expect, says=(), outputs=(), keep=(), judge=None):
        self.name, self.argv, self.expect, self.says = name, argv, expect, [str(s) for s in says]
        self.outputs = outputs  # (path, (w, h)) that must exist with that size
        self.keep = {Path(p): Path(p).read_bytes() for p in keep}  # files that must not change
        self.judge = judge


def _png(path: Path, w: int, h: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _model(name: str) -> Path:
    return ROOT / "segstudio" / "data" / "models" / f"{name}.safetensors"


def shape_cases(tmp: Path) -> list[Case]:
    cases = []
    for i, (w, h) in enumerate(SHAPES):
        img = _png(tmp / "shapes" / f"s{w}x{h}.png", w, h, i)
        out = tmp / "shapes-out" / f"{w}x{h}"
        cases.append(Case(f"shape {w}x{h}", ["predict", str(img), "--out", str(out), "--confidence"], "predict",
                          outputs=[(out / img.name, (w, h)), (out / ".confidence" / img.name, (w, h))]))
    for extra, label in ((["--tta", "flip+scales"], "tta"), (["--scale", "8"], "scale 8"),
                         (["--model", str(_model("fcn8s-w0.3-camvid"))], "fcn8s")):
        for w, h in ((4000, 3), (2, 100000)):
            img = tmp / "shapes" / f"s{w}x{h}.png"
            out = tmp / "shapes-out" / f"{label}-{w}x{h}"
            cases.append(Case(f"shape {w}x{h} {label}", ["predict", str(img), "--out", str(out), *extra], "predict",
                              outputs=[(out / img.name, (w, h))]))
    return cases


CARD_EDITS = {
    "train_short_side 0": ("input", "train_short_side", 0), "train_short_side -5": ("input", "train_short_side", -5),
    "train_short_side NaN": ("input", "train_short_side", math.nan),
    "train_short_side inf": ("input", "train_short_side", math.inf),
    "train_short_side 1e9": ("input", "train_short_side", 1e9),
    "train_short_side '180'": ("input", "train_short_side", "180"),
    "mean of 2": ("input", "mean", [0.5, 0.5]), "mean of 4": ("input", "mean", [0.5] * 4),
    "std of 2": ("input", "std", [0.2, 0.2]), "std NaN": ("input", "std", [0.2, math.nan, 0.2]),
    "std 0": ("input", "std", [0.2, 0, 0.2]), "channel_order XYZ": ("input", "channel_order", "XYZ"),
    "resize 0": ("input", "resize", 0), "resize NaN": ("input", "resize", math.nan),
    "resize 1e9": ("input", "resize", 1e9), "scale NaN": ("input", "scale", math.nan),
    "arch unknown": (None, "arch", "resnet9000"), "width NaN": (None, "width", math.nan),
    "num_classes 1e9": (None, "num_classes", 10 ** 9), "input null": (None, "input", None),
}


def card_cases(tmp: Path) -> list[Case]:
    img = _png(tmp / "cards" / "img.png", 40, 30)
    base = json.loads(_model("segnet-basic-camvid").with_suffix(".json").read_text())
    cases = []
    for i, (name, (section, key, value)) in enumerate(CARD_EDITS.items()):
        card = json.loads(json.dumps(base))
        (card[section] if section else card)[key] = value
        weights = tmp / "cards" / f"m{i}.safetensors"
        shutil.copy(_model("segnet-basic-camvid"), weights)
        weights.with_suffix(".json").write_text(json.dumps(card, allow_nan=True))
        field = f"{section}.{key}" if section else key
        cases.append(Case(f"card {name}", ["predict", str(img), "--model", str(weights), "--out",
                                           str(tmp / "cards" / f"out{i}")], "refuse",
                          says=[weights.with_suffix(".json"), field.replace("arch", "architecture")]))
    for name, raw in (("not JSON", "{garbage"), ("empty", ""), ("deep", "[" * 100000)):
        weights = tmp / "cards" / f"raw-{name.replace(' ', '')}.safetensors"
        shutil.copy(_model("segnet-basic-camvid"), weights)
        weights.with_suffix(".json").write_text(raw)
        cases.append(Case(f"card {name}", ["predict", str(img), "--model", str(weights), "--out",
                                           str(tmp / "cards" / "out")], "refuse", says=[weights.with_suffix(".json")]))
    return cases


def option_cases(tmp: Path) -> list[Case]:
    img = _png(tmp / "opts" / "img.png", 40, 30)
    out = tmp / "opts" / "out"
    out.mkdir(parents=True)
    (out / "img.png").write_bytes(b"the user's mask")  # must survive every refusal
    cases = []
    values = {"--scale": ["0", "-1", "nan", "inf", "-inf", "1e9", "1e-9", "abc"], "--tta": ["0", "-1", "nan", "inf", "9"],
              "--workers": ["0", "-2", "1e9"], "--batch-size": ["0", "-3", "99999999"], "--tile-size": ["0", "-5", "5"],
              "--tile-overlap": ["-5"]}
    for option, vals in values.items():
        for v in vals:
            cases.append(Case(f"predict {option} {v}", ["predict", str(img), "--out", str(out), "--overwrite",
                                                        f"{option}={v}"], "refuse", says=[option], keep=[out / "img.png"]))
    for v in ("0", "nan", "inf"):
        cases.append(Case(f"eval --tta {v}", ["eval", "--model", "segnet-basic-camvid", "--images", str(tmp / "opts"),
                                              "--gt", str(tmp / "opts"), "--labels", "camvid", f"--tta={v}"],
                          "refuse", says=["--tta"]))
    cases.append(Case("eval --workers -1", ["eval", "--pred", str(out), "--gt", str(out), "--labels", "camvid",
                                            "--workers=-1"], "refuse", says=["--workers"]))
    return cases


def onnx_cases(tmp: Path) -> list[Case]:
    import torch

    img = _png(tmp / "onnx" / "img.png", 40, 30)
    foreign = tmp / "onnx" / "foreign.onnx"
    with warnings.catch_warnings():  # the legacy exporter: a small foreign graph is all it needs to make
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.nn.Linear(4, 2), torch.zeros(1, 4), str(foreign), dynamo=False)
    cut = tmp / "onnx" / "truncated.onnx"
    cut.write_bytes(foreign.read_bytes()[:100])
    carded = tmp / "onnx" / "carded.onnx"
    shutil.copy(foreign, carded)
    shutil.copy(_model("segnet-basic-camvid").with_suffix(".json"), carded.with_suffix(".json"))
    renamed = tmp / "onnx" / "renamed.safetensors"
    shutil.copy(foreign, renamed)
    shutil.copy(_model("segnet-basic-camvid").with_suffix(".json"), renamed.with_suffix(".json"))
    cases = [Case(f"onnx {p.stem} as --model", ["predict", str(img), "--model", str(p), "--out",
                                                 str(tmp / "onnx" / "out")], "refuse", says=[p])
             for p in (foreign, cut, carded, renamed)]
    for kind, data in (("truncated", foreign.read_bytes()[:60]), ("foreign", foreign.read_bytes())):
        cache = tmp / f"cache-{kind}"
        cases.append(Case(f"onnx cache {kind}", ["predict", str(img), "--backend", "auto", "--out",
                                                  str(tmp / "onnx" / f"out-{kind}")], "warn",
                          says=["cached ONNX export is damaged"], outputs=[(tmp / "onnx" / f"out-{kind}" / "img.png",
                                                                            (40, 30))]))
        cases[-1].env = {"SEGSTUDIO_CACHE": str(cache)}
        _damage_cache(cache, data)
    return cases


def _damage_cache(cache: Path, data: bytes) -> None:
    os.environ["SEGSTUDIO_CACHE"] = str(cache)
    try:
        from segstudio.nets.backends import _cache_files
        from segstudio.nets.checkpoint import DEFAULT_MODEL_NAME, load_checkpoint

        # the cache of the model `predict` uses without --model
        onnx_path, verdict = _cache_files(*load_checkpoint(_model(DEFAULT_MODEL_NAME)))
    finally:
        del os.environ["SEGSTUDIO_CACHE"]
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.write_bytes(data)
    verdict.write_text(json.dumps({"agreement": 1.0}))


def confidence_cases(tmp: Path) -> list[Case]:
    src = tmp / "conf" / "images"
    _png(src / "a.png", 40, 30)
    _png(src / "b.png", 40, 30, 1)
    cases = []
    for kind, make in (("corrupt", lambda p: p.write_bytes(b"\x89PNG garbage")), ("folder", lambda p: p.mkdir()),
                       ("truncated", lambda p: p.write_bytes(_tiny_png()[:30]))):
        out = tmp / "conf" / f"out-{kind}"
        (out / ".confidence").mkdir(parents=True)
        make(out / ".confidence" / "a.png")
        expect, says = ("warn", ["a.png", "cannot write"]) if kind == "folder" else ("predict", [])
        cases.append(Case(f"predict --confidence over a {kind} map", ["predict", str(src), "--out", str(out),
                                                                     "--confidence", "--overwrite"], expect,
                          says=says, outputs=[(out / "b.png", (40, 30)), (out / ".confidence" / "b.png", (40, 30))]))
    return cases


def _tiny_png() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.full((30, 40), 200, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


# --- the studio, offscreen, re-run as `check_bad_inputs.py --studio SPEC` --------------------------------

def _studio_folder(tmp: Path, name: str) -> Path:
    folder = tmp / "studio" / name
    _png(folder / "a.png", 40, 30)
    masks = folder / "SegmentationClass"
    masks.mkdir()
    Image.fromarray(np.full((30, 40), 3, np.uint8), mode="L").save(masks / "a.png")
    return folder


def studio_cases(tmp: Path) -> list[Case]:
    cases = []
    ini = tmp / "studio" / "good.ini"

    def add(name, folder, judge, settings=ini, heat=False, keep=()):
        spec = {"folder": str(folder), "settings": str(settings), "heat": heat, "model": str(_model("segnet-basic-camvid"))}
        keep = [folder / "SegmentationClass" / "a.png", *keep]
        cases.append(Case(name, ["--studio", json.dumps(spec)], "studio", keep=keep, judge=judge))

    lock = ".segstudio-lock"
    for kind, content in (("garbage", b"\x00\xffgarbage"), ("empty", b""), ("pid 1e30", b'{"pid": 1e30}'),
                          ("pid huge", json.dumps({"pid": 10 ** 30, "host": os.uname().nodename}).encode())):
        folder = _studio_folder(tmp, f"lock-{kind.replace(' ', '')}")
        (folder / lock).write_bytes(content)
        os.utime(folder / lock, (time.time() - 60, time.time() - 60))
        add(f"studio lock {kind}", folder, lambda r: "ok" if r["opened"] and not r["read_only"] else "refused")
    folder = _studio_folder(tmp, "lock-other-host")
    (folder / lock).write_text(json.dumps({"pid": 1, "host": "far-away", "user": "bob", "time": "2026-01-01T00:00:00"}))
    add("studio lock from another host", folder,
        lambda r, f=folder: "ok" if r["read_only"] and "far-away" in r["read_only"] and str(f / lock) in r["read_only"]
        else "silent", keep=[folder / lock])
    for kind in ("folder", "pipe"):
        folder = _studio_folder(tmp, f"lock-{kind}")
        if kind == "folder":
            (folder / lock).mkdir()
            (folder / lock / "keep.txt").write_text("the user's")
            keep = [folder / lock / "keep.txt"]
        else:
            os.mkfifo(folder / lock)
            keep = []
        add(f"studio lock path is a {kind}", folder,
            lambda r, f=folder: "ok" if r["read_only"] and str(f / lock) in r["read_only"] else "silent", keep=keep)
    for kind, data in (("garbage", b"\x00\xff\xfe[General]\x00garbage==\n[[[\xff"),
                       ("wrong types", b"[view]\nopacity=1e99\n[tools]\nbrush_size=abc\n[predict]\nscale=nan\n"),
                       ("huge value", b"[General]\nrecent=" + b"x" * 5_000_000 + b"\n")):
        settings = tmp / "studio" / f"settings-{kind.replace(' ', '')}.ini"
        settings.write_bytes(data)
        folder = _studio_folder(tmp, f"settings-{kind.replace(' ', '')}")
        must = str(settings) if kind != "huge value" else None
        add(f"studio settings {kind}", folder, settings=settings,
            judge=lambda r, m=must: "ok" if r["opened"] and (m is None or m in (r["settings"] or "")) else "silent")
    settings_dir = tmp / "studio" / "settings-folder.ini"
    settings_dir.mkdir()
    add("studio settings file is a folder", _studio_folder(tmp, "settings-folder"), settings=settings_dir,
        judge=lambda r: "ok" if r["opened"] and str(settings_dir) in (r["settings"] or "") else "silent")
    big = _claimed_png(30000, 20000)
    for kind, make in (("corrupt", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))),
                       ("truncated", lambda p: p.write_bytes(_tiny_png()[:len(_tiny_png()) // 2])),
                       ("wrong size", lambda p: Image.fromarray(np.zeros((31, 40), np.uint8), mode="L").save(p)),
                       ("huge", lambda p: p.write_bytes(big)), ("RGB", lambda p: _png(p, 40, 30)),
                       ("folder", lambda p: p.mkdir())):
        folder = _studio_folder(tmp, f"conf-{kind.replace(' ', '')}")
        path = folder / "SegmentationClass" / ".confidence" / "a.png"
        path.parent.mkdir()
        make(path)
        add(f"studio confidence map {kind}", folder, heat=True,
            judge=lambda r, p=path: ("ok" if r["conf"] == [30, 40] and any(str(p) in m for m in r["status"])
                                     else "silent" if r["conf"] == [30, 40] else "refused"))
    return cases


def _claimed_png(w: int, h: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def studio_driver(spec: dict) -> None:
    """Open the studio on spec's folder with spec's settings file; with `heat`, show the confidence heat
    map (the selected model computes it when the saved map is unusable). Prints a JSON report."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from segstudio.gui import settings_store
    from segstudio.gui.main_window import MainWindow

    win = MainWindow(settings=QSettings(spec["settings"], QSettings.Format.IniFormat), scan_models=False)
    win.show()
    opened = win.open_path(spec["folder"], labels="camvid")
    report = {"opened": bool(opened), "read_only": win.project.read_only_reason if win.project else None,
              "settings": settings_store.problem, "status": [], "conf": None}
    if spec["heat"] and opened:
        win.statusBar().messageChanged.connect(report["status"].append)
        win.prediction.select(Path(spec["model"]))
        view = win.assist.confidence
        win.assist.warm_up()  # as the studio does once an assisted tool is used
        end = time.monotonic() + 60
        while win.assist.rgb() is None and time.monotonic() < end:  # the image is decoded on a worker
            app.processEvents()
            time.sleep(0.02)
        view.act_heat.setChecked(True)
        while (view.conf is None or view.runner.running()) and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        report["conf"] = list(view.conf.shape) if view.conf is not None else None
    win.close()
    print(json.dumps(report))


# --- running and judging -----------------------------------------------------------------------------------

def run_case(case: Case, tmp: Path, timeout: float) -> tuple[str, str]:
    env = {**os.environ, "SEGSTUDIO_HOME": str(tmp / "home"), "SEGSTUDIO_BACKEND": "torch",
           "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", **getattr(case, "env", {})}
    env.setdefault("SEGSTUDIO_CACHE", str(tmp / "cache"))
    argv = ([sys.executable, __file__, *case.argv] if case.expect == "studio"
            else [sys.executable, "-m", "segstudio", *case.argv])
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
    except subprocess.TimeoutExpired:
        return "hang", f"no answer in {timeout:g} s"
    err = p.stderr
    last = (err.strip().splitlines() or [""])[-1][:160]
    if "Traceback" in err or p.returncode not in (0, 1, 2):
        return "crash", f"exit {p.returncode}: {last}"
    for path, before in case.keep.items():
        if not path.exists() or path.read_bytes() != before:
            return "lost", f"{path} changed"
    if case.expect == "studio":
        report = json.loads(p.stdout.strip().splitlines()[-1])
        return case.judge(report), json.dumps(report)[:160]
    if case.expect == "refuse":
        said = p.returncode == 2 and all(s in err for s in case.says)
        return ("ok" if said else "silent"), f"exit {p.returncode}: {last}"
    if case.expect == "warn" and not all(s in err for s in case.says):
        return "silent", f"exit {p.returncode}: {last}"
    if case.expect == "predict" and p.returncode != 0:
        return "refused", f"exit {p.returncode}: {last}"
    for path, size in case.outputs:
        if not path.is_file() or Image.open(path).size != size:
            return "refused", f"{path.name}: missing or not {size[0]}x{size[1]}"
    return "ok", f"exit {p.returncode}: {last}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--studio", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.studio:
        studio_driver(json.loads(args.studio))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="segstudio-bad-inputs-"))
    try:
        cases = [c for make in (shape_cases, card_cases, option_cases, onnx_cases, confidence_cases, studio_cases)
                 for c in make(tmp)]
        cases = [c for c in cases if args.only in c.name]
        counts = dict.fromkeys(("ok", "crash", "silent", "hang", "lost", "refused"), 0)
        for case in cases:
            start = time.perf_counter()
            verdict, detail = run_case(case, tmp, args.timeout)
            counts[verdict] += 1
            print(f"{verdict:8s} {time.perf_counter() - start:6.1f} s  {case.name:45s} {detail}", flush=True)
        print("  ".join(f"{k} {v}" for k, v in counts.items()) + f"  ({len(cases)} cases)")
        print(json.dumps({"cases": len(cases), **counts}))
        return 0 if counts["ok"] == len(cases) else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
