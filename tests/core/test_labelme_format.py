"""labelme JSON import: every area shape type, overlap order, EXIF frame, unsafe paths."""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from segstudio.core.formats.classmap import UnknownClassesError
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import read_label_png
from segstudio.core.formats.labelme import import_labelme
from segstudio.core.pathsafety import UnsafePathError

from .formats_data import LS3

IGN = LS3.ignore_index


def _mask_b64(a):
    buf = io.BytesIO()
    Image.fromarray(a.astype(bool)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _shape(label, kind, points, **kw):
    return {"label": label, "points": points, "shape_type": kind, "group_id": None, "description": "",
            "flags": {}, "mask": None, **kw}


def _write(folder, name, shapes, image_path, w, h, **extra):
    doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
           "imageHeight": h, "imageWidth": w, **extra}
    (folder / name).write_text(json.dumps(doc))


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(d / "a.png")
    return d


def test_each_shape_type_and_later_shapes_win(data, tmp_path):
    m = np.zeros((4, 6), bool)
    m[1:3, 1:5] = True
    shapes = [
        _shape("road", "rectangle", [[30, 20], [2, 2]]),  # reversed corners are fine
        _shape("car", "polygon", [[5, 5], [15, 5], [15, 15], [5, 15]]),
        _shape("tree", "circle", [[30, 10], [33, 10]]),
        _shape("car", "mask", [[20, 22], [25, 25]], mask=_mask_b64(m)),
    ]
    _write(data, "a.json", shapes, "a.png", 40, 30)
    r = import_labelme(data, data, LS3, tmp_path / "out")
    assert r.written == ["a"] and r.notes == []
    got = read_label_png(tmp_path / "out" / "a.png")
    # expected map drawn independently, in the same order, with Pillow
    exp = Image.new("L", (40, 30), IGN)
    dr = ImageDraw.Draw(exp)
    dr.rectangle([2, 2, 30, 20], fill=0, outline=0)
    dr.polygon([(5, 5), (15, 5), (15, 15), (5, 15)], fill=1, outline=1)
    dr.ellipse([27, 7, 33, 13], fill=2, outline=2)
    exp = np.asarray(exp).copy()
    exp[22:26, 20:26][m] = 1
    np.testing.assert_array_equal(got, exp)
    assert got[10, 10] == 1  # the polygon drawn after the rectangle wins
    assert got[10, 30] == 2 and got[23, 22] == 1 and got[22, 20] == IGN and got[0, 0] == IGN  # mask-off pixels keep what was below


def test_lines_line_strips_and_points_are_drawn_as_labelme_draws_them(data, tmp_path):
    """labelme's shape_to_mask: lines and line strips 10 px wide, points discs of radius 5, in file order."""
    shapes = [
        _shape("road", "linestrip", [[2, 25], [20, 25], [20, 5], [38, 5]]),
        _shape("car", "line", [[0, 0], [10, 0]]),
        _shape("tree", "point", [[20, 15]]),
        _shape("car", "point", [[0, 29]]),
    ]
    _write(data, "a.json", shapes, "a.png", 40, 30)
    r = import_labelme(data, data, LS3, tmp_path / "out")
    assert r.written == ["a"] and r.notes == [] and r.skipped == {}
    got = read_label_png(tmp_path / "out" / "a.png")
    exp = Image.new("L", (40, 30), IGN)
    dr = ImageDraw.Draw(exp)
    dr.line([(2, 25), (20, 25), (20, 5), (38, 5)], fill=0, width=10)
    dr.line([(0, 0), (10, 0)], fill=1, width=10)
    dr.ellipse([15, 10, 25, 20], fill=2, outline=2)
    dr.ellipse([-5, 24, 5, 34], fill=1, outline=1)
    np.testing.assert_array_equal(got, np.asarray(exp))
    assert got[25, 10] == 0 and got[0, 5] == 1  # on the strip and the line
    assert got[15, 20] == 2 and got[15, 24] == 2 and got[10, 10] == IGN
    assert (got == 0).sum() > 400  # a strip, not a hairline


def test_degenerate_line_shapes_are_reported(data, tmp_path):
    _write(data, "a.json", [_shape("road", "linestrip", [[2, 2]]), _shape("car", "rectangle", [[1, 1], [5, 5]])],
           "a.png", 40, 30)
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(data / "b.png")
    _write(data, "b.json", [_shape("road", "line", [[0, 0], [5, 5], [9, 9]])], "b.png", 40, 30)
    r = import_labelme(data, data, LS3, tmp_path / "out")
    assert r.written == ["a"] and any("fewer than 2 points" in n and "a.json" in n for n in r.notes)
    assert "line" in r.skipped["b.json"] and "needs 2 points, has 3" in r.skipped["b.json"]
    assert (read_label_png(tmp_path / "out" / "a.png") == 1).sum() == 25


def test_exif_rotated_image_gives_oriented_mask(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    img = Image.fromarray(np.zeros((20, 40, 3), np.uint8))  # stored 40 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees: 20 wide, 40 high
    img.save(d / "r.jpg", exif=exif)
    # a rectangle near the bottom of the oriented frame: impossible in the stored frame
    _write(d, "r.json", [_shape("car", "rectangle", [[2, 30], [10, 38]])], "r.jpg", 20, 40)
    import_labelme(d / "r.json", d, LS3, tmp_path / "out")
    got = read_label_png(tmp_path / "out" / "r.png")
    assert got.shape == (40, 20)
    assert (got[30:39, 2:11] == 1).all() and (got == 1).sum() == 81


def test_size_mismatch_is_reported(data, tmp_path):
    _write(data, "a.json", [_shape("car", "rectangle", [[0, 0], [3, 3]])], "a.png", 30, 40)
    r = import_labelme(data, data, LS3, tmp_path / "out")
    assert r.written == [] and "30x40" in r.skipped["a.json"] and "40x30" in r.skipped["a.json"]


def test_unknown_labels_stop_the_import_or_are_counted(data, tmp_path):
    shapes = [_shape("car", "rectangle", [[0, 0], [3, 3]]), _shape("boat", "rectangle", [[5, 5], [8, 8]]),
              _shape("boat", "polygon", [[9, 9], [12, 9], [12, 12]]), _shape("_background_", "rectangle", [[0, 0], [1, 1]])]
    _write(data, "a.json", shapes, "a.png", 40, 30)
    with pytest.raises(UnknownClassesError, match="'boat' \\(2 shapes\\)"):
        import_labelme(data, data, LS3, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    r = import_labelme(data, data, LS3, tmp_path / "out", skip_unknown=True)
    assert r.unknown == {"boat": 2} and r.to_unlabelled == {"_background_": 1}
    got = read_label_png(tmp_path / "out" / "a.png")
    assert got[6, 6] == IGN and got[0, 0] == IGN and got[3, 3] == 1
    import_labelme(data, data, LS3, tmp_path / "out2", mapping={"boat": "tree"})
    assert read_label_png(tmp_path / "out2" / "a.png")[6, 6] == 2


@pytest.mark.parametrize("bad", ["../../outside.png", "/etc/passwd", "..\\..\\outside.png"])
def test_image_path_escaping_the_data_folder_is_refused(data, tmp_path, bad):
    _write(data, "a.json", [_shape("car", "rectangle", [[0, 0], [3, 3]])], bad, 40, 30)
    with pytest.raises(UnsafePathError, match="a.json.*imagePath"):
        import_labelme(data / "a.json", data, LS3, tmp_path / "out")
    # in a folder the file is reported and skipped, the others still imported
    _write(data, "b.json", [_shape("car", "rectangle", [[0, 0], [3, 3]])], "a.png", 40, 30)
    r = import_labelme(data, data, LS3, tmp_path / "out")
    assert r.written == ["a"] and "imagePath" in r.skipped["a.json"] and repr(bad) in r.skipped["a.json"]


def test_json_folder_beside_images_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "json").mkdir()
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    _write(tmp_path / "json", "a.json", [_shape("car", "rectangle", [[0, 0], [3, 3]])], "../images/a.png", 40, 30)
    r = import_labelme(tmp_path / "json", tmp_path / "images", LS3, tmp_path / "out")
    assert r.written == ["a"]


def test_not_labelme(data, tmp_path):
    (data / "x.json").write_text('{"hello": 1}')
    with pytest.raises(SegstudioError, match="x.json: not a labelme file"):
        import_labelme(data / "x.json", data, LS3, tmp_path / "out")
