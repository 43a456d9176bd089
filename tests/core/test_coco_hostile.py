"""COCO files that used to crash pycocotools or pass silently (issue 14 items 3-5).

The crash cases run `segstudio import coco` in a subprocess under a memory
limit: before the checks, a NaN or 1e308 coordinate made pycocotools allocate
without bound or die with a segmentation fault.
"""

import datetime
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from segstudio.core.errors import SegstudioError
from segstudio.core.formats.coco import export_coco, import_coco
from segstudio.core.labels import LabelSet

from .formats_data import LS3, make_dataset

H, W = 24, 32
LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
from segstudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _doc(segmentation, ann_id=5):
    return {"images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
            "categories": [{"id": 1, "name": "road"}, {"id": 2, "name": "car"}],
            "annotations": [{"id": 4, "image_id": 1, "category_id": 1, "iscrowd": 0,
                             "segmentation": [[1.0, 1.0, 9.0, 1.0, 9.0, 9.0]]},
                            {"id": ann_id, "image_id": 1, "category_id": 2, "iscrowd": 0,
                             "segmentation": segmentation}]}


@pytest.fixture
def images(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(d / "a.png")
    return d


def _write(tmp_path, doc):
    # json.dumps writes NaN / Infinity literals, as other tools do
    p = tmp_path / "c.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize("bad, why", [("float('nan')", "not finite"), ("float('inf')", "not finite"),
                                      ("1e308", "far outside"), ("-1e308", "far outside")])
def test_non_finite_and_huge_coordinates_are_clear_errors_not_crashes(tmp_path, images, bad, why):
    poly = [[2.0, 2.0, 20.0, 2.0, eval(bad), 20.0]]
    src = _write(tmp_path, _doc(poly, ann_id=17))
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-c", LIMITED, "import", "coco", str(src), "--images", str(images),
                          "--labels", str(_labelset_file(tmp_path)), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "annotation 17 of a.png" in run.stderr and why in run.stderr
    assert not out.exists()


def _labelset_file(tmp_path):
    p = tmp_path / "ls.json"
    LS3.save(p)
    return p


def _rle(mask):
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def test_rle_size_mismatch_and_overlong_counts_are_refused(tmp_path, images):
    m = np.zeros((H, W), bool)
    m[3:6, 3:6] = True
    wrong_size = _rle(np.zeros((H + 1, W), bool))
    for segm, why in ((wrong_size, "differs from the image"),
                      ({"size": [H, W], "counts": [0, 5, H * W]}, "run past the image"),
                      ({"size": [H, W], "counts": [0, 5, 3]}, "cover 8 pixels"),
                      ({"size": [H, W], "counts": _rle(m)["counts"] + "3"}, "run past the image")):
        src = _write(tmp_path, _doc(segm, ann_id=9))
        with pytest.raises(SegstudioError, match=f"annotation 9 of a.png: bad segmentation.*{why}"):
            import_coco(src, images, LS3, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_malformed_compressed_counts_are_refused(tmp_path, images):
    from segstudio.core.formats.coco_segm import BadSegmentation, counts_from_string

    for counts, why in (("0\x7f", "invalid character"), ("0o", "ends in the middle"), ("oooooooooooooo1", "too large")):
        with pytest.raises(BadSegmentation, match=why):
            counts_from_string(counts)
        src = _write(tmp_path, _doc({"size": [H, W], "counts": counts}, ann_id=3))
        with pytest.raises(SegstudioError, match="annotation 3 of a.png"):
            import_coco(src, images, LS3, tmp_path / "out")


def test_counts_parser_agrees_with_pycocotools():
    from segstudio.core.formats.coco_segm import counts_from_string, decode_segmentation

    rng = np.random.default_rng(1)
    for _ in range(20):
        m = rng.random((37, 23)) < rng.random()
        r = _rle(m)
        counts = counts_from_string(r["counts"])
        assert sum(counts) == m.size
        assert np.array_equal(decode_segmentation(r, 37, 23), m)


def test_degenerate_polygons_are_reported_with_annotation_ids(tmp_path, images):
    doc = _doc([[3.0, 3.0, 10.0, 3.0]], ann_id=21)
    doc["annotations"].append({"id": 22, "image_id": 1, "category_id": 2, "iscrowd": 0,
                               "segmentation": [[1.0, 1.0], [2.0, 2.0, 12.0, 2.0, 12.0, 12.0]]})
    r = import_coco(_write(tmp_path, doc), images, LS3, tmp_path / "out")
    assert r.written == ["a"]
    note = next(n for n in r.notes if "fewer than 3 points" in n)
    assert "2 annotation(s)" in note and "ids 21, 22" in note


def test_deeply_nested_json_is_a_clear_error(tmp_path, images):
    p = tmp_path / "c.json"
    p.write_text('{"images": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(SegstudioError, match="c.json: JSON nested 100001 levels deep"):
        import_coco(p, images, LS3, tmp_path / "out")


def test_coco_info_is_complete(tmp_path):
    from segstudio.core.formats.coco import coco_info

    images, masks, _ = make_dataset(tmp_path, n=1)
    export_coco(images, masks, LS3, tmp_path / "c.json")
    info = json.loads((tmp_path / "c.json").read_text())["info"]
    assert set(info) >= {"year", "version", "description", "contributor", "url", "date_created"}
    assert info["year"] == datetime.datetime.now(datetime.timezone.utc).year
    fixed = coco_info(LabelSet(names=("a",), colors=((1, 2, 3),), name="x"),
                      datetime.datetime(2026, 3, 4, tzinfo=datetime.timezone.utc))
    assert fixed["date_created"] == "2026/03/04" and fixed["year"] == 2026
