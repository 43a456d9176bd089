"""Label sets: presets, validation messages, JSON / class_names.txt / labelmap.txt round trips."""

import json

import pytest

from segstudio.core.errors import LabelSetError
from segstudio.core.labels import (
    LabelSet, load_labelset_json, preset, read_class_names, read_cvat_labelmap, resolve_labelset,
)
from segstudio.core.palette import voc_color

# The devkit's labelcolormap(256), first 21 entries and entry 255.
VOC_EXPECTED = [
    (0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128), (0, 128, 128),
    (128, 128, 128), (64, 0, 0), (192, 0, 0), (64, 128, 0), (192, 128, 0), (64, 0, 128), (192, 0, 128),
    (64, 128, 128), (192, 128, 128), (0, 64, 0), (128, 64, 0), (0, 192, 0), (128, 192, 0), (0, 64, 128),
]


def test_voc_preset_names_and_palette_bytes():
    ls = preset("voc")
    assert ls.num_classes == 21
    assert ls.names[0] == "background" and ls.names[11] == "diningtable" and ls.names[20] == "tvmonitor"
    assert ls.ignore_index == 255
    pal = ls.palette()
    assert len(pal) == 768
    for i, rgb in enumerate(VOC_EXPECTED):
        assert tuple(pal[3 * i: 3 * i + 3]) == rgb, i
    assert tuple(pal[765:768]) == (224, 224, 192)
    assert voc_color(255) == (224, 224, 192)


def test_camvid_preset():
    ls = preset("camvid")
    assert ls.num_classes == 11 and ls.ignore_index == 11
    assert ls.names[3] == "Road" and ls.colors[3] == (128, 64, 128)
    assert ls.colors[10] == (0, 128, 192)
    assert ls.color_table()[11] == (0, 0, 0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(names=("a", "b", "a"), colors=((0, 0, 0),) * 3), "duplicate class name 'a'"),
    (dict(names=tuple(f"c{i}" for i in range(256)), colors=((0, 0, 0),) * 256), "256 classes"),
    (dict(names=("a", "b", "c"), colors=((0, 0, 0),) * 3, ignore_index=1), "ignore index 1 lies inside"),
    (dict(names=("a", "b"), colors=((0, 0, 0), (0, 300, 0))), "components must be 0..255"),
    (dict(names=("a", "b"), colors=((0, 0, 0), (1, 2))), "expected three integers"),
    (dict(names=("a", ""), colors=((0, 0, 0),) * 2), "class 1 has an empty name"),
    (dict(names=("a", "b"), colors=((0, 0, 0),)), "2 class names but 1 colours"),
    (dict(names=(), colors=()), "at least one class"),
])
def test_invalid_label_sets_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(LabelSetError, match=message):
        LabelSet(**kwargs)


def test_json_round_trip_and_hex_colours(tmp_path):
    ls = LabelSet(names=("bg", "cat"), colors=((1, 2, 3), (250, 0, 9)), ignore_index=200,
                  ignore_color=(9, 9, 9), name="pets")
    path = tmp_path / "pets.json"
    ls.save(path)
    assert load_labelset_json(path) == ls
    assert resolve_labelset(str(path)) == ls
    path.write_text(json.dumps({"classes": [{"name": "x", "color": "#ff0080"}, "y"], "ignore_index": 255}))
    got = load_labelset_json(path)
    assert got.colors == ((255, 0, 128), voc_color(1))


def test_bad_json_file_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(LabelSetError, match="broken.json: not valid JSON"):
        load_labelset_json(path)
    path.write_text(json.dumps({"classes": [{"name": "a", "color": [1, 2]}]}))
    with pytest.raises(LabelSetError, match=r"broken.json.*class 'a'"):
        load_labelset_json(path)


def test_class_names_txt(tmp_path):
    path = tmp_path / "class_names.txt"
    path.write_text("".join(n + "\n" for n in preset("voc").names) + "\n")
    ls = read_class_names(path)
    assert ls.names == preset("voc").names and ls.colors == preset("voc").colors
    assert resolve_labelset(path).names == ls.names
    path.write_text("a\nb\na\n")
    with pytest.raises(LabelSetError, match="class_names.txt: duplicate class name 'a'"):
        read_class_names(path)


def test_cvat_labelmap_round_trip(tmp_path):
    ls = preset("camvid")
    path = tmp_path / "labelmap.txt"
    path.write_text(ls.to_cvat_labelmap())
    assert path.read_text().splitlines()[1] == "Sky:128,128,128::"
    got = read_cvat_labelmap(path)
    assert got.names == ls.names and got.colors == ls.colors
    assert resolve_labelset(path).names == ls.names
    path.write_text("background:0,0,0::\ncat:1,x,3::\n")
    with pytest.raises(LabelSetError, match=r"labelmap.txt:2: bad colour"):
        read_cvat_labelmap(path)


def test_unknown_preset_and_missing_file():
    with pytest.raises(LabelSetError, match="neither a label-set preset"):
        resolve_labelset("nonexistent-set")


def test_index_lookup():
    ls = preset("camvid")
    assert ls.index_of("Car") == 8
    assert ls.get_index("car") is None
    with pytest.raises(KeyError, match="unknown class 'Truck'"):
        ls.index_of("Truck")
