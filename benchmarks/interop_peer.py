"""The peer side of check_interop.py: read files with the peers' own tools, write label maps.

Runs in a SEPARATE virtual environment holding datumaro and labelme (never
segstudio's own .venv), and imports nothing from segstudio:

    peer-python interop_peer.py voc DIR OUT.npz        datumaro 'voc_segmentation'
    peer-python interop_peer.py coco FILE.json OUT.npz datumaro 'coco_instances'
    peer-python interop_peer.py labelme DIR LABELS.txt OUT.npz
                                                       labelme's labelme2voc steps
    peer-python interop_peer.py revoc DIR OUTDIR       datumaro re-exports a VOC folder as
                                                       CVAT's "Segmentation mask 1.1" does

Each OUT.npz holds one int16 H x W map per item (-1 where nothing was painted)
and `__names__`, the label names the values index. Errors are printed as one
line on stderr with exit status 3, so the caller can report what the peer said.
"""

from __future__ import annotations

import glob
import os
import sys

import numpy as np


def _datumaro_maps(ds) -> tuple[dict[str, np.ndarray], list[str]]:
    from datumaro.components.annotation import AnnotationType

    names = [c.name for c in ds.categories()[AnnotationType.label]]
    maps: dict[str, np.ndarray] = {}
    for item in ds:
        h, w = item.media.size
        lab = np.full((h, w), -1, np.int16)
        for ann in item.annotations:
            if ann.type == AnnotationType.mask:
                lab[np.asarray(ann.image).astype(bool)] = ann.label
        maps[item.id] = lab
    return maps, names


def read_voc(path: str):
    from datumaro.components.dataset import Dataset

    return _datumaro_maps(Dataset.import_from(path, "voc_segmentation"))


def read_coco(path: str):
    from datumaro.components.dataset import Dataset

    ds = Dataset.import_from(path, "coco_instances")
    ds.transform("polygons_to_masks")
    return _datumaro_maps(ds)


def read_labelme(folder: str, labels_txt: str):
    """labelme2voc.py's steps with labelme's own functions: __ignore__ = -1, _background_ = 0."""
    import labelme

    class_name_to_id = {}
    names = []
    with open(labels_txt, encoding="utf-8") as f:
        for i, line in enumerate(f):
            class_name_to_id[line.strip()] = i - 1
            if i:
                names.append(line.strip())
    maps = {}
    for filename in sorted(glob.glob(os.path.join(folder, "*.json"))):
        label_file = labelme.LabelFile(filename=filename)
        img = labelme.utils.img_data_to_arr(label_file.imageData)
        lbl, _ = labelme.utils.shapes_to_label(img_shape=img.shape, shapes=label_file.shapes,
                                               label_name_to_value=class_name_to_id)
        maps[os.path.splitext(os.path.basename(filename))[0]] = lbl.astype(np.int16)
    return maps, names


def revoc(src: str, dst: str) -> None:
    """Read a VOC folder and write it back with datumaro's own VOC segmentation exporter (colour masks)."""
    from datumaro.components.dataset import Dataset

    ds = Dataset.import_from(src, "voc_segmentation")
    ds.export(dst, "voc_segmentation", save_media=False, apply_colormap=True)


def main(argv: list[str]) -> int:
    kind = argv[0]
    try:
        if kind == "revoc":
            revoc(argv[1], argv[2])
            return 0
        if kind == "voc":
            maps, names = read_voc(argv[1])
        elif kind == "coco":
            maps, names = read_coco(argv[1])
        else:
            maps, names = read_labelme(argv[1], argv[2])
    except Exception as e:  # report what the peer said (and why), in one line
        chain, c = [], e
        while c is not None and len(chain) < 4:
            chain.append(f"{type(c).__name__}: {c}".replace("\n", " "))
            c = c.__cause__ or c.__context__
        print(" <- ".join(chain), file=sys.stderr)
        return 3
    np.savez_compressed(argv[-1], __names__=np.array(names), **maps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
