"""Pascal VOC export and import on real files."""

import hashlib

import numpy as np
import pytest
from PIL import Image

from segstudio.core.formats.classmap import UnknownClassesError
from segstudio.core.jobs import Cancelled
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import read_label_png, write_label_png
from segstudio.core.labels import read_cvat_labelmap
from segstudio.core.formats.voc import export_voc, import_voc, split_stems

from .formats_data import LS3, make_dataset


def test_export_layout_palette_and_round_trip(tmp_path):
    images, masks, src = make_dataset(tmp_path, n=4, jpeg=True)
    calls = []
    out = tmp_path / "voc"
    s = export_voc(images, masks, LS3, out, val_fraction=0.25, seed=1, visualize=True,
                   progress=lambda i, n: calls.append((i, n)))
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert s.images == 4 and s.copied_jpegs == 2 and len(s.converted) == 2
    # original JPEGs byte for byte; PNGs converted to JPEG
    assert (out / "JPEGImages" / "img0.jpg").read_bytes() == (images / "img0.jpg").read_bytes()
    with Image.open(out / "JPEGImages" / "img1.jpg") as im:
        assert im.format == "JPEG" and im.size == (32, 24)
    for i, m in enumerate(src):
        with Image.open(out / "SegmentationClass" / f"img{i}.png") as im:
            assert im.mode == "P"
            pal = im.getpalette()
            a = np.asarray(im)
        expected = m.copy()
        expected[m == LS3.ignore_index] = 255  # unlabelled -> VOC void
        np.testing.assert_array_equal(a, expected)
        assert [tuple(pal[3 * c:3 * c + 3]) for c in range(3)] == list(LS3.colors)
        assert tuple(pal[765:768]) == (224, 224, 192)
        assert (out / "SegmentationClassVisualization" / f"img{i}.jpg").is_file()
    sets = out / "ImageSets" / "Segmentation"
    train = sets.joinpath("train.txt").read_text().split()
    val = sets.joinpath("val.txt").read_text().split()
    assert len(val) == 1 and len(train) == 3 and sorted(train + val) == sets.joinpath("trainval.txt").read_text().split()
    assert (out / "class_names.txt").read_text().split() == list(LS3.names)
    # void declared the way datumaro's own VOC label map does (VocLabel.ignored = 255) ...
    assert (out / "labelmap.txt").read_text().splitlines()[-1] == "ignored:224,224,192::"
    lm = read_cvat_labelmap(out / "labelmap.txt")  # ... which is the void declaration, not a class
    assert lm.names == LS3.names and lm.colors == LS3.colors and lm.ignore_color == (224, 224, 192)
    # import back: identical masks, ignore restored
    back = tmp_path / "back"
    r = import_voc(out, images, LS3, back)
    assert sorted(r.written) == ["img0", "img1", "img2", "img3"] and not r.unknown
    for i, m in enumerate(src):
        np.testing.assert_array_equal(read_label_png(back / f"img{i}.png"), m)


def test_split_is_deterministic_and_seeded():
    stems = [f"s{i}" for i in range(50)]
    a = split_stems(stems, 0.2, 0)
    assert a == split_stems(list(reversed(stems)), 0.2, 0)
    assert len(a[1]) == 10 and not set(a[0]) & set(a[1])
    assert split_stems(stems, 0.2, 1) != a
    with pytest.raises(SegstudioError):
        split_stems(stems, 1.5, 0)


def test_cancel_leaves_no_output(tmp_path):
    images, masks, _ = make_dataset(tmp_path, n=3)
    out = tmp_path / "voc"
    with pytest.raises(Cancelled):
        export_voc(images, masks, LS3, out, progress=lambda i, n: None, cancelled=lambda: True)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] and not any(p.name.startswith(".voc") for p in tmp_path.iterdir())


def test_existing_output_refused_unless_overwrite(tmp_path):
    images, masks, _ = make_dataset(tmp_path, n=1)
    out = tmp_path / "voc"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(SegstudioError, match="already exists"):
        export_voc(images, masks, LS3, out)
    assert (out / "keep.txt").exists()
    with pytest.raises(SegstudioError, match="holds files this command did not write"):
        export_voc(images, masks, LS3, out, overwrite=True)  # keep.txt is not ours to delete
    (out / "keep.txt").unlink()
    export_voc(images, masks, LS3, out)
    export_voc(images, masks, LS3, out, overwrite=True)  # a previous export is replaced
    assert (out / "SegmentationClass" / "img0.png").exists()


def test_exif_rotated_jpeg_is_reencoded_upright(tmp_path):
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    img = Image.fromarray(np.zeros((10, 20, 3), np.uint8))  # stored 20x10
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated: 10x20
    img.save(images / "r.jpg", exif=exif)
    write_label_png(masks / "r.png", np.zeros((20, 10), np.uint8), LS3)
    s = export_voc(images, masks, LS3, tmp_path / "voc")
    assert s.copied_jpegs == 0 and "EXIF" in s.converted[0]
    with Image.open(tmp_path / "voc" / "JPEGImages" / "r.jpg") as im:
        assert im.size == (10, 20)


def test_bad_mask_values_and_sizes_name_the_file(tmp_path):
    images, masks, _ = make_dataset(tmp_path, n=1)
    bad = np.full((24, 32), 5, np.uint8)  # 5 is neither a class nor the ignore index 7
    write_label_png(masks / "img0.png", bad, LS3)
    with pytest.raises(SegstudioError, match="img0.png.*values 5"):
        export_voc(images, masks, LS3, tmp_path / "voc")
    write_label_png(masks / "img0.png", np.zeros((5, 5), np.uint8), LS3)
    with pytest.raises(SegstudioError, match="5x5.*32x24"):
        export_voc(images, masks, LS3, tmp_path / "voc")
    assert not (tmp_path / "voc").exists()


def test_import_maps_class_names_and_reports_unknown(tmp_path):
    images, masks, src = make_dataset(tmp_path, n=1)
    voc = tmp_path / "voc"
    (voc / "SegmentationClass").mkdir(parents=True)
    # the source folder orders its classes differently and has an extra one
    (voc / "class_names.txt").write_text("tree\nroad\ncar\nboat\n")
    a = np.array([[0, 1, 2, 3, 255]], np.uint8).repeat(24, 0)
    a = np.pad(a, ((0, 0), (0, 27)), constant_values=1)
    Image.fromarray(a, "L").save(voc / "SegmentationClass" / "img0.png")
    with pytest.raises(UnknownClassesError, match="boat"):
        import_voc(voc, images, LS3, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.png"))
    r = import_voc(voc, images, LS3, tmp_path / "out", skip_unknown=True)
    assert r.unknown == {"boat": 1}
    got = read_label_png(tmp_path / "out" / "img0.png")
    assert got[0, :5].tolist() == [2, 0, 1, 7, 7]
    r = import_voc(voc, images, LS3, tmp_path / "out2", mapping={"boat": "car"})
    assert read_label_png(tmp_path / "out2" / "img0.png")[0, 3] == 1


def test_import_refuses_to_overwrite_existing_masks(tmp_path):
    images, masks, src = make_dataset(tmp_path, n=2)
    out = tmp_path / "voc"
    export_voc(images, masks, LS3, out)
    before = hashlib.sha1((masks / "img0.png").read_bytes()).hexdigest()
    with pytest.raises(SegstudioError, match="already exist"):
        import_voc(out, images, LS3, masks)
    assert hashlib.sha1((masks / "img0.png").read_bytes()).hexdigest() == before
    r = import_voc(out, images, LS3, masks, overwrite=True)
    assert sorted(r.written) == ["img0", "img1"]
    assert not any(p.name.startswith(".") for p in masks.iterdir())
