"""COCO export (RLE / polygon) and import, checked with real pycocotools."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from segstudio.core.formats.classmap import UnknownClassesError
from segstudio.core.jobs import Cancelled
from segstudio.core.formats.coco import CocoCheckError, export_coco, import_coco, outline_polygon, verify_coco
from segstudio.core.formats.coco_json import dumps_with_segmentations, quarter_texts
from segstudio.core.formats.coco_polygons import polygon_annotations
from segstudio.core.formats.coco_rle import _decode_concat, label_runs
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import read_label_png
from segstudio.core.pathsafety import UnsafePathError

from .formats_data import LS3, make_dataset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _decode_by_class(coco, image_id, h, w, k):
    out = {}
    for ann in coco.imgToAnns[image_id]:
        c = ann["category_id"] - 1
        out[c] = out.get(c, np.zeros((h, w), bool)) | coco.annToMask(ann).astype(bool)
    return out


def test_rle_round_trip_is_exact(tmp_path):
    images, masks, src = make_dataset(tmp_path, n=3)
    out = tmp_path / "coco.json"
    s = export_coco(images, masks, LS3, out, segmentation="rle")
    assert s.checked and s.images == 3
    doc = json.loads(out.read_text())
    assert [c["id"] for c in doc["categories"]] == [1, 2, 3]
    assert [c["name"] for c in doc["categories"]] == list(LS3.names)
    assert all(a["iscrowd"] == 0 and isinstance(a["segmentation"]["counts"], str) for a in doc["annotations"])
    coco = COCO(str(out))
    for img in coco.dataset["images"]:
        m = src[img["id"] - 1]
        assert (img["width"], img["height"], img["file_name"]) == (32, 24, f"img{img['id'] - 1}.png")
        per = _decode_by_class(coco, img["id"], 24, 32, 3)
        anns = coco.imgToAnns[img["id"]]
        assert len(anns) == 3  # one per class present (COCO-Stuff style)
        for c in range(3):
            np.testing.assert_array_equal(per[c], m == c)
        for ann in anns:
            rle = coco.annToRLE(ann)
            assert ann["area"] == int(mask_utils.area(rle)) == int((m == ann["category_id"] - 1).sum())
            assert ann["bbox"] == [float(v) for v in mask_utils.toBbox(rle)]


def test_polygon_export_keeps_holes_via_rle_and_is_exact(tmp_path):
    images, masks, src = make_dataset(tmp_path, n=1)
    out = tmp_path / "poly.json"
    s = export_coco(images, masks, LS3, out, segmentation="polygon")
    m = src[0]
    coco = COCO(str(out))
    anns = coco.imgToAnns[1]
    holed = [a for a in anns if isinstance(a["segmentation"], dict)]
    polys = [a for a in anns if isinstance(a["segmentation"], list)]
    # the car ring (its hole holds road and a tree island) and the road (holes where cars are)
    assert s.rle_fallbacks == len(holed) >= 2
    ring = [a for a in holed if a["category_id"] == 2]
    assert len(ring) == 1
    dec = coco.annToMask(ring[0]).astype(bool)
    assert not dec[9, 9] and not dec[8, 8] and dec[4, 4]  # the hole stays a hole
    # one annotation per connected component: tree has the stroke, the island, the single pixel
    assert sum(1 for a in anns if a["category_id"] == 3) == 3
    assert all(len(a["segmentation"][0]) >= 6 for a in polys)
    per = _decode_by_class(coco, 1, 24, 32, 3)
    for c in range(3):
        np.testing.assert_array_equal(per[c], m == c)  # pixel-outline polygons re-rasterise exactly
    assert s.fidelity_miou == pytest.approx(1.0)


@pytest.mark.parametrize("shape", ["blob", "stroke", "pixel", "diagonal", "L"])
def test_outline_polygon_rasterises_back_exactly(shape):
    m = np.zeros((9, 9), np.uint8)
    if shape == "blob":
        m[2:7, 1:6] = 1
        m[2, 1] = 0
    elif shape == "stroke":
        m[1:8, 4] = 1
    elif shape == "pixel":
        m[4, 4] = 1
    elif shape == "diagonal":
        for i in range(2, 7):
            m[i, i] = 1
    else:
        m[1:8, 2] = 1
        m[7, 2:8] = 1
    poly, holes = outline_polygon(m)
    assert not holes
    rle = mask_utils.merge(mask_utils.frPyObjects([poly.ravel().tolist()], 9, 9))
    np.testing.assert_array_equal(mask_utils.decode(rle), m)


def test_export_cancel_leaves_nothing(tmp_path):
    images, masks, _ = make_dataset(tmp_path, n=3)
    out = tmp_path / "c.json"
    with pytest.raises(Cancelled):
        export_coco(images, masks, LS3, out, cancelled=lambda: True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "masks"]


def test_self_check_catches_a_wrong_file(tmp_path):
    images, masks, _ = make_dataset(tmp_path, n=1)
    out = tmp_path / "c.json"
    export_coco(images, masks, LS3, out)
    # a digest that does not match what the file decodes to must fail the check
    with pytest.raises(CocoCheckError, match="do not decode back"):
        verify_coco(out, LS3, {1: b"0" * 16})
    # so must a file that loads as something other than the document written
    doc = json.loads(out.read_text())
    verify_coco(out, LS3, {}, doc)
    doc["annotations"][-1]["segmentation"]["counts"] += "0"
    with pytest.raises(CocoCheckError, match="differs from what was written"):
        verify_coco(out, LS3, {}, doc)
    out.write_text("{not json")
    with pytest.raises(CocoCheckError):
        verify_coco(out, LS3, {1: b"0" * 16})


@pytest.mark.parametrize("mode", ["rle", "polygon"])
@pytest.mark.parametrize("damage", ["truncated", "one number", "no annotation id"])
def test_a_damaged_written_file_fails_the_export(tmp_path, monkeypatch, mode, damage):
    """Whatever goes wrong between the document and the bytes on disk, the export fails and leaves nothing."""
    from segstudio.core.formats import coco as coco_module

    images, masks, _ = make_dataset(tmp_path, n=2)
    real_dumps = coco_module.dumps_with_segmentations

    def damaged(doc, texts):
        text = real_dumps(doc, texts)
        if damage == "truncated":
            return text[:-40]
        if damage == "one number":  # a polygon coordinate or an RLE count character, near the end
            i = max(text.rfind('.25,'), text.rfind('"counts":"') + 12)
            return text[:i] + ("0" if text[i] != "0" else "1") + text[i + 1:]
        assert '"annotations":[{"id":1,' in text
        return text.replace('"annotations":[{"id":1,', '"annotations":[{', 1)

    monkeypatch.setattr(coco_module, "dumps_with_segmentations", damaged)
    with pytest.raises(CocoCheckError) as e:
        export_coco(images, masks, LS3, tmp_path / "c.json", segmentation=mode)
    assert str(e.value).startswith(f"{tmp_path / 'c.json'} (not written): ")  # not the temporary file's name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "masks"]


def _coco_doc(file_name="a.png", h=24, w=32):
    square = [4.0, 4.0, 20.0, 4.0, 20.0, 20.0, 4.0, 20.0]
    small = np.zeros((h, w), np.uint8)
    small[8:12, 8:12] = 1
    rle = mask_utils.encode(np.asfortranarray(small))
    rle["counts"] = rle["counts"].decode()
    return {
        "images": [{"id": 7, "file_name": file_name, "width": w, "height": h}],
        "categories": [{"id": 1, "name": "road"}, {"id": 2, "name": "car"}, {"id": 5, "name": "tree"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "segmentation": [square], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 2, "segmentation": rle, "iscrowd": 0},
            # uncompressed RLE (iscrowd style): a 2-pixel run at the start of column 0
            {"id": 3, "image_id": 7, "category_id": 5, "segmentation": {"size": [h, w], "counts": [0, 2, h * w - 2]},
             "iscrowd": 1},
        ],
    }


def _write_image(folder, name, w=32, h=24):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(folder / name)


def test_import_polygons_rle_and_overlap_rule(tmp_path):
    _write_image(tmp_path / "images", "a.png")
    (tmp_path / "c.json").write_text(json.dumps(_coco_doc()))
    r = import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out")
    assert r.written == ["a"]
    got = read_label_png(tmp_path / "out" / "a.png")
    expect = np.full((24, 32), LS3.ignore_index, np.uint8)
    expect[4:20, 4:20] = 0
    expect[8:12, 8:12] = 1  # the later car annotation wins over the road square
    expect[0:2, 0] = 2
    np.testing.assert_array_equal(got, expect)
    # with fill, uncovered pixels become that class
    import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out2", fill="road")
    assert read_label_png(tmp_path / "out2" / "a.png")[23, 31] == 0


def test_export_then_import_round_trip(tmp_path):
    images, masks, src = make_dataset(tmp_path, n=2)
    for mode in ("rle", "polygon"):
        export_coco(images, masks, LS3, tmp_path / f"{mode}.json", segmentation=mode)
        import_coco(tmp_path / f"{mode}.json", images, LS3, tmp_path / mode)
        for i, m in enumerate(src):
            np.testing.assert_array_equal(read_label_png(tmp_path / mode / f"img{i}.png"), m)


@pytest.mark.parametrize("bad", ["../secret.png", "../../etc/passwd", "/etc/passwd", "..\\..\\x.png",
                                 "C:/Windows/x.png", "sub/../../x.png"])
def test_path_traversal_file_name_is_refused(tmp_path, bad):
    _write_image(tmp_path / "images", "a.png")
    _write_image(tmp_path, "secret.png")
    (tmp_path / "c.json").write_text(json.dumps(_coco_doc(file_name=bad)))
    with pytest.raises(UnsafePathError, match="c.json"):
        import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_subfolder_file_name_inside_images_is_accepted(tmp_path):
    _write_image(tmp_path / "images" / "train2017", "a.png")
    (tmp_path / "c.json").write_text(json.dumps(_coco_doc(file_name="train2017/a.png")))
    r = import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out")
    assert r.written == ["a"]


def test_unknown_categories_are_reported_not_dropped(tmp_path):
    _write_image(tmp_path / "images", "a.png")
    doc = _coco_doc()
    doc["categories"][2]["name"] = "boat"
    doc["categories"].append({"id": 9, "name": "plane"})  # unused: only noted
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(UnknownClassesError, match="'boat' \\(1 annotations\\)") as e:
        import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out")
    assert "plane" not in str(e.value)
    assert not (tmp_path / "out").exists()
    r = import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out", skip_unknown=True)
    assert r.unknown == {"boat": 1} and any("plane" in n for n in r.notes)
    assert read_label_png(tmp_path / "out" / "a.png")[0, 0] == LS3.ignore_index
    import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out3", mapping={"boat": "tree"})
    assert read_label_png(tmp_path / "out3" / "a.png")[0, 0] == 2


def test_size_mismatch_and_missing_image_are_reported(tmp_path):
    _write_image(tmp_path / "images", "a.png", w=30)
    doc = _coco_doc()
    doc["images"].append({"id": 8, "file_name": "gone.png", "width": 32, "height": 24})
    (tmp_path / "c.json").write_text(json.dumps(doc))
    r = import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out")
    assert r.written == []
    assert "32x24" in r.skipped["a.png"] and "30x24" in r.skipped["a.png"]
    assert "not found" in r.skipped["gone.png"]


def test_not_a_coco_file(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "c.json").write_text("[]")
    with pytest.raises(SegstudioError, match="not a COCO file"):
        import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out")


def test_malformed_segmentation_names_the_annotation(tmp_path):
    _write_image(tmp_path / "images", "a.png")
    doc = _coco_doc()
    doc["annotations"][1]["segmentation"] = {"size": [5, 5], "counts": "abc"}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(SegstudioError, match="c.json: annotation 2 of a.png: bad segmentation"):
        import_coco(tmp_path / "c.json", tmp_path / "images", LS3, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _per_component_annotations(labels, k):
    """The reference: one outline_polygon per connected component (RLE for holed ones), by pycocotools."""
    polys, rles = set(), set()
    for c in range(k):
        n, cc, stats, _ = cv2.connectedComponentsWithStats((labels == c).astype(np.uint8), connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, _ = stats[i]
            poly, holes = outline_polygon((cc[y:y + bh, x:x + bw] == i).astype(np.uint8))
            if holes:
                rle = mask_utils.encode(np.asfortranarray((cc == i).astype(np.uint8)))
                rles.add((c + 1, rle["counts"].decode()))
            else:
                polys.add((c + 1, tuple((poly + (x, y)).ravel().tolist())))
    return polys, rles


@pytest.mark.parametrize("seed", range(4))
def test_class_tracing_equals_per_component_outlines(seed):
    """Tracing each class once gives the per-component outlines and holed-component RLEs, and is exact."""
    rng = np.random.default_rng(seed)
    labels = np.kron(rng.integers(0, 3, (9, 12)), np.ones((4, 4), np.int64))[:35, :45].astype(np.uint8)
    noise = rng.random(labels.shape) < 0.08
    labels[noise] = rng.integers(0, 3, int(noise.sum()))
    labels[rng.random(labels.shape) < 0.02] = LS3.ignore_index
    starts, ends, values = label_runs(labels)
    keep = values < 3
    res = polygon_annotations(labels, (starts[keep], ends[keep], values[keep]), 3, LS3.ignore_index)
    polys = {(a["category_id"], tuple(a["segmentation"][0])) for a in res.anns if isinstance(a["segmentation"], list)}
    rles = {(a["category_id"], a["segmentation"]["counts"]) for a in res.anns if isinstance(a["segmentation"], dict)}
    assert (polys, rles) == _per_component_annotations(labels, 3)
    assert res.fallbacks == len(rles) > 0
    painted = np.full(labels.shape, LS3.ignore_index, np.uint8)
    for a in res.anns:
        seg = a["segmentation"]
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, *labels.shape)) if isinstance(seg, list) else \
            {"size": seg["size"], "counts": seg["counts"].encode()}
        m = mask_utils.decode(rle).astype(bool)
        assert a["area"] == int(m.sum())
        painted[m] = a["category_id"] - 1
    np.testing.assert_array_equal(painted, labels)
    assert res.confusion.trace() == int((labels < 3).sum())


def test_quarter_texts_parse_back_to_the_same_floats():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 4 * 100000, 1000) / 4.0
    values[:6] = [0, 0.25, 0.5, 0.75, 10.0, 1e9]
    texts = quarter_texts(values, [0, 3, 10, 1000])
    assert [json.loads(t) for t in texts] == [values[:3].tolist(), values[3:10].tolist(), values[10:].tolist()]
    small = np.array([0, 0.25, 0.5, 0.75, 1, 9.75, 10, 99.5, 100, 8191.75, 8192, 12345.25])
    texts = quarter_texts(small, [0, 4, 10, 12])  # image coordinates (a table row each), then beyond
    assert texts[0] == "[0,0.25,0.5,0.75]" and texts[1] == "[1,9.75,10,99.5,100,8191.75]"
    assert [json.loads(t) for t in texts] == [small[:4].tolist(), small[4:10].tolist(), small[10:].tolist()]
    assert quarter_texts(np.array([0.3]), [0, 1]) is None  # not a multiple of 0.25: json writes it
    assert quarter_texts(np.array([-0.25]), [0, 1]) is None
    # a file name that looks like a placeholder is left alone
    doc = {"images": [{"file_name": "\ue0000"}],
           "annotations": [{"id": 1, "segmentation": [[1.25, 2.5, 3.0, 4.75, 5.0, 6.0]]}, {"id": 2, "segmentation": {}}]}
    text = dumps_with_segmentations(doc, ["[[1.25,2.5,3,4.75,5,6]]", None])
    assert json.loads(text) == doc


def test_inexact_rasters_are_painted_in_annotation_order():
    """When the rasters' runs differ from the source, the decoded runs are painted in annotation order,
    as pycocotools' masks would be."""
    from segstudio.core.formats.coco_polygons import _checked
    from segstudio.core.formats.coco_rle import class_runs_digest
    from segstudio.core.metrics import ConfusionMatrix

    rng = np.random.default_rng(3)
    labels = np.kron(rng.integers(0, 3, (8, 10)), np.ones((4, 5), np.int64)).astype(np.uint8)[:30, :47]
    starts, ends, values = label_runs(labels)
    polys = [rng.uniform(0, 30, 8).tolist() for _ in range(6)]  # overlapping: the order decides
    rles = mask_utils.frPyObjects(polys, *labels.shape)
    anns = [{"category_id": int(c)} for c in rng.integers(1, 4, len(polys))]
    res = _checked(labels, (starts, ends, values), anns, rles, 3, 255, 0, True)
    painted = np.full(labels.shape, 255, np.uint8)
    for a, r in zip(anns, rles):
        painted[mask_utils.decode(r).astype(bool)] = a["category_id"] - 1
    assert res.digest == class_runs_digest(painted, 3)
    np.testing.assert_array_equal(res.confusion, ConfusionMatrix(3).update(labels, painted))


@pytest.mark.parametrize("extra_pixel,spelled", [(False, False), (True, False), (False, True)])
def test_rasters_are_exact_when_each_class_union_is_its_mask(extra_pixel, spelled):
    """Overlapping polygons of one class are exact when their union is the class (also when an RLE
    spells it with empty runs); a pixel of another class covered as well is not, and is painted in
    annotation order."""
    from segstudio.core.formats.coco_polygons import _checked
    from segstudio.core.formats.coco_rle import class_runs_digest, runs_digest
    from segstudio.core.metrics import ConfusionMatrix

    labels = np.ones((20, 30), np.uint8)
    labels[2:10, 3:15] = 0
    labels[6:16, 10:25] = 0  # class 0: two overlapping rectangles
    polys = [[3, 2, 15, 2, 15, 10, 3, 10], [10, 6, 25, 6, 25, 16, 10, 16], [0, 0, 30, 0, 30, 20, 0, 20]]
    if extra_pixel:
        polys[1] = [10, 6, 26, 6, 26, 16, 10, 16]  # one column of class 1 too many
    rles = mask_utils.frPyObjects([[float(v) for v in p] for p in polys], 20, 30)
    rles = rles[2:] + rles[:2]  # class 1 everywhere first, then class 0 painted over it
    if spelled:  # the same mask with a run of 0 ones and a run of 0 zeros inside: another string
        counts = [int(c) for c in _decode_concat([rles[1]["counts"].decode()])[0]]
        rles[1] = mask_utils.frPyObjects({"size": [20, 30], "counts": counts[:2] + [0, 0] + counts[2:]}, 20, 30)
        assert rles[1]["counts"] != mask_utils.frPyObjects([[float(v) for v in polys[0]]], 20, 30)[0]["counts"]
    anns = [{"category_id": 2}, {"category_id": 1}, {"category_id": 1}]
    runs = label_runs(labels)
    res = _checked(labels, runs, anns, rles, 2, 255, 0, True)
    painted = np.full(labels.shape, 255, np.uint8)
    for a, r in zip(anns, rles):
        painted[mask_utils.decode(r).astype(bool)] = a["category_id"] - 1
    assert res.digest == class_runs_digest(painted, 2)
    np.testing.assert_array_equal(res.confusion, ConfusionMatrix(2).update(labels, painted))
    assert (res.digest == runs_digest(*runs)) is not extra_pixel
