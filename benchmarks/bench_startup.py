"""Benchmark: how long after launch the studio's window is first painted, and `segstudio eval`'s time.

Each launch is a fresh process (Qt offscreen, temporary home, config, data and
cache folders, so no user file is touched). A small wrapper creates the
QApplication, installs an application-wide event filter that notes the first
paint event of a QMainWindow, and then runs `segstudio` exactly as the
command does (`segstudio.cli.main([])`: the bundled samples open); at the
first paint it prints the time since the launch and closes the app. The same
wrapper runs:
  - baseline: a bare QMainWindow (PySide6 import, QApplication, show);
  - today: segstudio as it was at BASELINE_COMMIT (git archive into a temp folder);
  - now: this tree.
The variants take turns, `--runs` each, after one warm-up launch each (the
samples are copied to the temporary data folder then). Reported: median
launch-to-first-paint wall time, and the launched process's whole CPU time
(user + sys, until it exits right after that paint: work a version does before
its first paint, or beside it on other threads, shows there).

`segstudio eval` on the CamVid val annotations scored against themselves
(--eval-runs launches each, today and now, turns taken), wall and CPU time.

Bytecode: a user's install has it (pip compiles every module when it installs
the wheel), so the honest figures are those with cached bytecode
(`--bytecode cached`, the default): the launches run without
PYTHONDONTWRITEBYTECODE, and the warm-up launch writes each tree's
__pycache__. `--bytecode none` measures what a shell exporting
PYTHONDONTWRITEBYTECODE=1 sees on a source checkout: copies of both trees
without __pycache__, every segstudio module compiled at every launch
(site-packages keep their installed bytecode). `both` runs the two; the
JSON says which mode each figure used ("bytecode").
The last line printed is one JSON object.

    .venv/bin/python benchmarks/bench_startup.py [--runs 5] [--eval-runs 5] [--bytecode cached|none|both]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "d8b3a9f"
CAMVID_VALANNOT = REPO.parent / "shared" / "datasets" / "camvid" / "valannot"

WRAPPER = r"""
import os, sys, time
root = sys.argv[1]
if root != "-":
    sys.path.insert(0, root)
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

START = float(os.environ["BENCH_LAUNCHED_AT"])


class FirstPaint(QObject):
    done = False

    def eventFilter(self, obj, event):
        if not self.done and event.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow):
            self.done = True
            print(f"FIRST_PAINT {time.time() - START:.4f}", flush=True)
            QTimer.singleShot(0, lambda: (app.closeAllWindows(), app.quit()))
        return False


app = QApplication(sys.argv[:1])
probe = FirstPaint()
app.installEventFilter(probe)
if root == "-":
    win = QMainWindow()
    win.resize(1280, 820)
    win.show()
    app.exec()
else:
    from segstudio.cli import main
    main([])
"""


def _extract(commit: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-startup-old-"))
    data = subprocess.run(["git", "-C", str(REPO), "archive", commit, "segstudio"], capture_output=True,
                          check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=data, check=True)
    return root


def _source_copy() -> Path:
    """This tree's segstudio package without any __pycache__ (for --bytecode none)."""
    root = Path(tempfile.mkdtemp(prefix="bench-startup-now-"))
    shutil.copytree(REPO / "segstudio", root / "segstudio", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def _bytecode_env(env: dict, bytecode: str) -> dict:
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode == "none":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _env(home: Path, bytecode: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), SEGSTUDIO_HOME=str(home / "segstudio"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), SEGSTUDIO_BACKEND="torch")
    env.pop("SEGSTUDIO_CACHE", None)
    return _bytecode_env(env, bytecode)


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def launch(root: str, home: Path, bytecode: str) -> tuple[float, float]:
    """(seconds from launch to the first paint, child CPU seconds) of one launch."""
    env = _env(home, bytecode)
    cpu0 = _child_cpu()
    env["BENCH_LAUNCHED_AT"] = repr(time.time())
    proc = subprocess.run([sys.executable, "-c", WRAPPER, root], capture_output=True, text=True, env=env,
                          timeout=300)
    cpu = _child_cpu() - cpu0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("FIRST_PAINT ")]
    if not lines:
        raise RuntimeError(f"no first paint from {root}: {proc.stderr[-1500:]}")
    return float(lines[0].split()[1]), cpu


def eval_run(root: str, bytecode: str) -> tuple[float, float]:
    """(wall, child CPU) of `segstudio eval --pred VALANNOT --gt VALANNOT --labels camvid` from `root`."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from segstudio.cli import main; "
            "sys.exit(main(sys.argv[2:]))")
    cmd = [sys.executable, "-c", code, root, "eval", "--pred", str(CAMVID_VALANNOT), "--gt", str(CAMVID_VALANNOT),
           "--labels", "camvid"]
    cpu0 = _child_cpu()
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_bytecode_env(dict(os.environ), bytecode))
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"eval from {root} failed: {proc.stderr[-1500:]}")
    return wall, _child_cpu() - cpu0


def _summary(samples: list[tuple[float, float]]) -> dict:
    return {"median_s": round(statistics.median(s[0] for s in samples), 3),
            "cpu_median_s": round(statistics.median(s[1] for s in samples), 3),
            "runs_s": [round(s[0], 3) for s in samples]}


def measure(bytecode: str, runs: int, eval_runs: int) -> dict:
    """The first-paint and eval figures of one bytecode mode."""
    old = _extract(BASELINE_COMMIT)
    now = str(REPO) if bytecode == "cached" else str(_source_copy())
    variants = {"bare_qmainwindow": "-", "today": str(old), "now": now}
    homes = {k: Path(tempfile.mkdtemp(prefix=f"bench-startup-{k}-")) for k in variants}
    samples: dict[str, list] = {k: [] for k in variants}
    for k, root in variants.items():
        launch(root, homes[k], bytecode)  # warm-up: samples copied, bytecode written (cached mode)
    for _ in range(runs):
        for k, root in variants.items():
            samples[k].append(launch(root, homes[k], bytecode))
    out: dict = {"bytecode": bytecode}
    for k in variants:
        out[k] = _summary(samples[k])
        print(f"[bytecode {bytecode}] {k:<17} first paint {out[k]['median_s']:.3f} s after launch (median of "
              f"{runs}; CPU {out[k]['cpu_median_s']:.3f} s)", flush=True)
    out["now_vs_today"] = round(out["today"]["median_s"] / out["now"]["median_s"], 2)
    print(f"[bytecode {bytecode}] window appears x{out['now_vs_today']:.2f} sooner than at {BASELINE_COMMIT}")
    if eval_runs and CAMVID_VALANNOT.is_dir():
        for root in (str(old), now):
            eval_run(root, bytecode)  # warm-up (bytecode, file cache)
        ev: dict[str, list] = {"today": [], "now": []}
        for _ in range(eval_runs):
            ev["today"].append(eval_run(str(old), bytecode))
            ev["now"].append(eval_run(now, bytecode))
        out["eval"] = {k: _summary(v) for k, v in ev.items()}
        out["eval"]["now_vs_today_wall"] = round(out["eval"]["today"]["median_s"] / out["eval"]["now"]["median_s"], 2)
        out["eval"]["now_vs_today_cpu"] = round(out["eval"]["today"]["cpu_median_s"]
                                                / out["eval"]["now"]["cpu_median_s"], 2)
        for k in ("today", "now"):
            print(f"[bytecode {bytecode}] segstudio eval, 101 CamVid val files ({k}): "
                  f"{out['eval'][k]['median_s']:.3f} s wall, CPU {out['eval'][k]['cpu_median_s']:.3f} s "
                  f"(median of {eval_runs})", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="timed launches per variant")
    ap.add_argument("--eval-runs", type=int, default=5, help="timed `segstudio eval` runs, today and now (0: skip)")
    ap.add_argument("--bytecode", choices=("cached", "none", "both"), default="cached",
                    help="cached: launches use (and the warm-up writes) __pycache__, as an installed copy does; "
                         "none: every segstudio module compiled at every launch (PYTHONDONTWRITEBYTECODE=1)")
    args = ap.parse_args()
    modes = ("cached", "none") if args.bytecode == "both" else (args.bytecode,)
    figures = [measure(m, args.runs, args.eval_runs) for m in modes]
    out = {"benchmark": "startup", "baseline_commit": BASELINE_COMMIT, "runs": args.runs, **figures[0],
           "load_average": round(os.getloadavg()[0], 2)}
    if len(figures) > 1:
        out["without_bytecode"] = figures[1]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
