"""CVAT "Segmentation mask 1.1" import: colour masks through labelmap.txt, folder and zip."""

import zipfile

import numpy as np
import pytest
from PIL import Image

from segstudio.core.formats.classmap import UnknownClassesError
from segstudio.core.formats.cvat import import_cvat
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import read_label_png
from segstudio.core.pathsafety import UnsafePathError

from .formats_data import LS3

LABELMAP = """# label:color_rgb:parts:actions
background:0,0,0::
car:250,50,83::
road:51,221,255::
tree:36,179,83::
"""


def _export(root, extra_color=None):
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "labelmap.txt").write_text(LABELMAP)
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[0:2] = (250, 50, 83)
    rgb[2:4] = (51, 221, 255)
    rgb[4, :4] = (36, 179, 83)
    if extra_color:
        rgb[5, 7] = extra_color
    Image.fromarray(rgb).save(root / "SegmentationClass" / "a.png")
    expect = np.full((6, 8), LS3.ignore_index, np.uint8)
    expect[0:2], expect[2:4], expect[4, :4] = 1, 0, 2
    return expect


@pytest.fixture
def images(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(d / "a.jpg")
    return d


def test_folder_import_maps_colours_by_name(tmp_path, images):
    expect = _export(tmp_path / "cvat")
    r = import_cvat(tmp_path / "cvat", images, LS3, tmp_path / "out")
    assert r.written == ["a"] and r.to_unlabelled == {"background": 1}
    np.testing.assert_array_equal(read_label_png(tmp_path / "out" / "a.png"), expect)


def test_zip_import(tmp_path, images):
    expect = _export(tmp_path / "cvat")
    z = tmp_path / "task.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in (tmp_path / "cvat").rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(tmp_path / "cvat").as_posix())
    import_cvat(z, images, LS3, tmp_path / "out")
    np.testing.assert_array_equal(read_label_png(tmp_path / "out" / "a.png"), expect)


def test_zip_with_traversal_member_is_refused(tmp_path, images):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("labelmap.txt", LABELMAP)
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(UnsafePathError, match="evil.txt"):
        import_cvat(z, images, LS3, tmp_path / "out")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_colour_not_in_labelmap_is_reported(tmp_path, images):
    _export(tmp_path / "cvat", extra_color=(1, 2, 3))
    with pytest.raises(UnknownClassesError, match="colour 1,2,3"):
        import_cvat(tmp_path / "cvat", images, LS3, tmp_path / "out")
    r = import_cvat(tmp_path / "cvat", images, LS3, tmp_path / "out", skip_unknown=True)
    assert r.unknown == {"colour 1,2,3": 1}
    assert read_label_png(tmp_path / "out" / "a.png")[5, 7] == LS3.ignore_index


def test_missing_labelmap(tmp_path, images):
    (tmp_path / "cvat" / "SegmentationClass").mkdir(parents=True)
    with pytest.raises(SegstudioError, match="labelmap.txt"):
        import_cvat(tmp_path / "cvat", images, LS3, tmp_path / "out")
