"""labelme's own conventions (issue 14 item 2), as labelme2voc reads them.

`_background_` is the background class and uncovered pixels follow it;
`__ignore__` is void; embedded imageData stands in for a missing image (or an
imagePath naming the JSON itself, like labelme's apc2016_obj3.json);
oriented_rectangle is drawn; one bad JSON is skipped, never the folder.
"""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import SegstudioError
from segstudio.core.formats.labelme import import_labelme
from segstudio.core.imageio import read_label_png
from segstudio.core.labels import resolve_labelset

from .formats_data import LS3

VOC = resolve_labelset("voc")


def _shape(label, kind, points):
    return {"label": label, "points": points, "shape_type": kind, "group_id": None, "flags": {}}


def _doc(shapes, image_path, w=40, h=30, image_data=None):
    return {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path,
            "imageData": image_data, "imageHeight": h, "imageWidth": w}


def _png_b64(w, h):
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(d / "a.png")
    return d


def test_background_label_and_uncovered_pixels_become_the_background_class(folder, tmp_path):
    shapes = [_shape("_background_", "rectangle", [[0, 0], [10, 10]]),
              _shape("person", "rectangle", [[20, 5], [30, 15]]),
              _shape("__ignore__", "rectangle", [[32, 20], [36, 25]])]
    (folder / "a.json").write_text(json.dumps(_doc(shapes, "a.png")))
    r = import_labelme(folder, folder, VOC, tmp_path / "out")
    got = read_label_png(tmp_path / "out" / "a.png")
    assert r.written == ["a"]
    assert got[5, 5] == 0 and got[29, 0] == 0  # _background_ shape and an uncovered pixel: class 0
    assert got[10, 25] == VOC.index_of("person")
    assert got[22, 34] == VOC.ignore_index  # __ignore__
    assert r.to_unlabelled == {"__ignore__": 1} and r.mapped == {"_background_": "background"}


def test_background_option_void_and_label_sets_without_background(folder, tmp_path):
    from segstudio.core.formats.labelme import background_index

    shapes = [_shape("_background_", "rectangle", [[0, 0], [10, 10]]), _shape("car", "rectangle", [[20, 5], [30, 15]])]
    (folder / "a.json").write_text(json.dumps(_doc(shapes, "a.png")))
    import_labelme(folder, folder, VOC, tmp_path / "void", background="void")
    got = read_label_png(tmp_path / "void" / "a.png")
    assert got[5, 5] == VOC.ignore_index and got[29, 0] == VOC.ignore_index
    import_labelme(folder, folder, LS3, tmp_path / "ls3")  # road, car, tree: no background class
    got = read_label_png(tmp_path / "ls3" / "a.png")
    assert got[5, 5] == LS3.ignore_index and got[29, 0] == LS3.ignore_index and got[10, 25] == 1
    import_labelme(folder, folder, LS3, tmp_path / "road", background="road")
    assert read_label_png(tmp_path / "road" / "a.png")[29, 0] == 0
    assert background_index(VOC) == 0 and background_index(LS3) == LS3.ignore_index
    with pytest.raises(SegstudioError, match="'sky' is not in label set"):
        background_index(LS3, "sky")


def test_image_data_used_when_image_path_is_the_json_itself(folder, tmp_path):
    # labelme's examples/instance_segmentation/data_annotated/apc2016_obj3.json names itself
    doc = _doc([_shape("car", "polygon", [[1, 1], [10, 1], [10, 8]])], "apc.json", w=12, h=9,
               image_data=_png_b64(12, 9))
    (folder / "apc.json").write_text(json.dumps(doc))
    (folder / "a.json").write_text(json.dumps(_doc([_shape("car", "rectangle", [[0, 0], [3, 3]])], "a.png")))
    r = import_labelme(folder, folder, LS3, tmp_path / "out")
    assert sorted(r.written) == ["a", "apc"] and not r.skipped
    got = read_label_png(tmp_path / "out" / "apc.png")
    assert got.shape == (9, 12) and got[2, 8] == 1 and got[8, 0] == LS3.ignore_index
    assert any("imageData" in n for n in r.notes)


def test_oriented_rectangle_is_drawn(folder, tmp_path):
    corners = [[20, 5], [30, 15], [20, 25], [10, 15]]  # a diamond
    (folder / "a.json").write_text(json.dumps(_doc([_shape("tree", "oriented_rectangle", corners)], "a.png")))
    import_labelme(folder, folder, LS3, tmp_path / "out")
    got = read_label_png(tmp_path / "out" / "a.png")
    assert got[15, 20] == 2 and got[6, 12] == LS3.ignore_index
    assert abs(int((got == 2).sum()) - 200) < 40  # a 14.1 x 14.1 square, outline included


def test_one_bad_json_is_skipped_and_reported(folder, tmp_path):
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "b.png")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "c.png")
    (folder / "a.json").write_text(json.dumps(_doc([_shape("car", "rectangle", [[0, 0], [3, 3]])], "a.png")))
    (folder / "b.json").write_text("{not json")
    (folder / "c.json").write_text(json.dumps(_doc([_shape("car", "rectangle", [[0, 0]])], "c.png")))
    (folder / "d.json").write_text("[" * 50000 + "]" * 50000)
    r = import_labelme(folder, folder, LS3, tmp_path / "out")
    assert r.written == ["a"]
    assert "not valid JSON" in r.skipped["b.json"]
    assert "needs 2 points" in r.skipped["c.json"]
    assert "nested" in r.skipped["d.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_degenerate_polygons_are_reported(folder, tmp_path):
    shapes = [_shape("car", "polygon", [[1, 1], [5, 5]]), _shape("car", "rectangle", [[0, 0], [3, 3]])]
    (folder / "a.json").write_text(json.dumps(_doc(shapes, "a.png")))
    r = import_labelme(folder, folder, LS3, tmp_path / "out")
    assert any("fewer than 3 points (a.json)" in n for n in r.notes)
