"""The NumPy-free scoring of `segstudio eval` (core.label_decode, core.score_math) equals the array path.

Real label PNGs (mode P with a palette, mode L) are written to tmp_path; the
counts of the Pillow-only path are checked against an independent np.bincount
count and against core.eval_arrays (the careful path), and the figures of
core.score_math against NumPy's own arithmetic, bit for bit.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from segstudio.core import eval_arrays, label_decode
from segstudio.core.evaluate import evaluate_folders
from segstudio.core.imageio import write_label_png
from segstudio.core.labels import LabelSet, preset
from segstudio.core.score_math import figures_from_rows, pairwise_sum


def _labelset(n: int, ignore: int) -> LabelSet:
    return LabelSet(names=tuple(f"c{i}" for i in range(n)), colors=tuple((i, 2 * i, 3 * i) for i in range(n)),
                    ignore_index=ignore, name=f"set{n}")


def _reference(gt: np.ndarray, pred: np.ndarray, n: int, ignore: int):
    """Counts straight from the definition: rows gt < n, column min(pred, n); strays by value."""
    keep = gt < n
    rows = np.bincount(gt[keep].astype(np.int64) * (n + 1) + np.minimum(pred[keep], n),
                       minlength=n * (n + 1)).reshape(n, n + 1)
    values = np.bincount(gt.ravel(), minlength=256)
    stray = {v: int(values[v]) for v in range(n, 256) if values[v] and v not in (ignore, 255)}
    return rows.tolist(), stray


def _random_pair(rng, n, shape=(37, 53)):
    gt = rng.integers(0, n, shape).astype(np.uint8)
    gt[rng.random(shape) < 0.1] = 255  # void
    gt[rng.random(shape) < 0.02] = rng.integers(n, 255)  # a stray value (or the ignore index)
    pred = rng.integers(0, n, shape).astype(np.uint8)
    pred[rng.random(shape) < 0.05] = rng.integers(n, 256)  # beyond the classes: an error
    return gt, pred


@pytest.mark.parametrize("n,ignore", [(1, 255), (3, 5), (11, 11), (14, 255)])
def test_pillow_counts_equal_the_definition_and_the_array_path(tmp_path, n, ignore):
    ls = _labelset(n, ignore)
    rng = np.random.default_rng(n)
    for k in range(6):
        gt, pred = _random_pair(rng, n)
        g, p = tmp_path / f"g{k}.png", tmp_path / f"p{k}.png"
        write_label_png(g, gt, ls)  # mode P with the label set's palette
        Image.fromarray(pred, mode="L").save(p)  # mode L
        gi, pi = label_decode.open_plain_label(g), label_decode.open_plain_label(p)
        assert gi is not None and pi is not None and gi.mode == "P" and pi.mode == "L"
        rows, stray = label_decode.pair_counts(gi, pi, ls)
        assert (rows, stray) == _reference(gt, pred, n, ignore)
        assert (rows, stray) == eval_arrays.score_arrays(p, g, ls)


def test_files_the_fast_path_declines(tmp_path):
    a = np.zeros((4, 5), np.uint8)
    Image.fromarray(a.astype(np.uint16) + 300).save(tmp_path / "wide.png")  # 16-bit
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(a).save(tmp_path / "plain.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "plain.png").read_bytes()[:40])
    (tmp_path / "text.png").write_text("not a png")
    Image.fromarray(a).save(tmp_path / "jpeg.png", format="JPEG")
    assert label_decode.open_plain_label(tmp_path / "plain.png") is not None
    for name in ("wide", "rgb", "cut", "text", "jpeg", "absent"):
        assert label_decode.open_plain_label(tmp_path / f"{name}.png") is None, name


def test_sixteen_bit_and_mixed_pairs_are_scored_by_the_careful_path(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    camvid = preset("camvid")
    gt = np.zeros((6, 8), np.uint8)
    gt[:, 4:] = 3
    write_label_png(gt_dir / "a.png", gt, camvid)
    write_label_png(gt_dir / "b.png", gt, camvid)
    wide = gt.astype(np.uint16)
    wide[0, 0] = 700
    Image.fromarray(wide).save(pred_dir / "a.png")  # 16-bit: careful path
    write_label_png(pred_dir / "b.png", gt, camvid)  # plain: fast path
    ev = evaluate_folders(pred_dir, gt_dir, camvid)
    rows = ev.total.rows()
    assert rows[0][0] == 24 + 23 and rows[0][11] == 1 and rows[3][3] == 48
    assert ev.report()["invalid_predictions"] == 1
    assert [r.matrix for r in ev.images][1] == eval_arrays.score_arrays(pred_dir / "b.png", gt_dir / "b.png",
                                                                         camvid)[0]


def test_label_sets_of_more_classes_give_the_same_report_as_a_direct_count(tmp_path):
    voc = preset("voc")  # 21 classes: beyond the uint8 code, so the array path counts
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    rng = np.random.default_rng(5)
    gt, pred = _random_pair(rng, 21)
    write_label_png(gt_dir / "x.png", gt, voc)
    write_label_png(pred_dir / "x.png", pred, voc)
    ev = evaluate_folders(pred_dir, gt_dir, voc)
    rows, stray = _reference(gt, pred, 21, 255)
    assert ev.total.rows() == rows and ev.stray_gt() == ([("x", stray)] if stray else [])


def _numpy_figures(m: np.ndarray):
    """The figures as NumPy computes them (the formulas of docs/design.md §7 on arrays)."""
    n = m.shape[0]
    conf, invalid = m[:, :n], m[:, n:].sum(axis=1)
    diag = np.diag(conf).astype(np.float64)
    t, p = conf.sum(axis=1) + invalid, conf.sum(axis=0)
    total = t.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(t > 0, diag / t, np.nan)
        iou = np.where(t + p - diag > 0, diag / (t + p - diag), np.nan)
        pix = diag.sum() / total if total else float("nan")
        fw = float(np.nansum((t / total) * iou)) if total else float("nan")

    def mean(a):
        a = a[~np.isnan(a)]
        return float(a.mean()) if a.size else float("nan")

    return [float(pix), mean(acc), mean(iou), fw] + acc.tolist() + iou.tolist()


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_figures_are_bit_identical_to_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 8, 9, 11, 16, 21, 130, 255):
        for k in range(12):
            m = rng.integers(0, 10 ** int(rng.integers(1, 9)), (n, n + 1))
            if k % 3 == 0:
                m[rng.random(m.shape) < 0.5] = 0
            if k == 5:
                m[:] = 0
            f = figures_from_rows(m.tolist())
            mine = [f.pixel_accuracy, f.mean_accuracy, f.mean_iou, f.fw_iou] + f.accuracy + f.iou
            assert all(_same(a, b) for a, b in zip(mine, _numpy_figures(m), strict=True)), (n, k)


def test_pairwise_sum_rounds_like_numpy():
    rng = np.random.default_rng(1)
    for n in list(range(0, 140)) + [255, 256, 1000, 4097]:
        a = rng.random(n) * 10.0 ** rng.integers(-6, 6, n)
        assert pairwise_sum(a.tolist()) == float(a.sum()), n
    assert pairwise_sum([1e16, 1.0, -1e16]) == float(np.array([1e16, 1.0, -1e16]).sum())


def test_segstudio_eval_loads_neither_numpy_nor_opencv(tmp_path):
    camvid = preset("camvid")
    for d in ("gt", "pred"):
        (tmp_path / d).mkdir()
        write_label_png(tmp_path / d / "a.png", np.full((5, 7), 2, np.uint8), camvid)
    code = ("import sys; from segstudio.cli import main; rc = main(sys.argv[1:]); "
            "print(rc, 'numpy' in sys.modules, 'cv2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, "eval", "--pred", str(tmp_path / "pred"), "--gt",
                          str(tmp_path / "gt"), "--labels", "camvid", "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 False False"
    assert json.loads((tmp_path / "r.json").read_text())["per_class"][2]["iou"] == 1.0
