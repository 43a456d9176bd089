"""Importing CVAT "Segmentation mask 1.1" exports (a folder or the .zip CVAT gives).

The export is VOC-shaped: `labelmap.txt` lines `name:R,G,B:parts:actions`
and `SegmentationClass/<stem>.png` colour masks. Each colour is mapped through
labelmap.txt to a class name and then, by name, to the label set; CVAT's
`background` becomes unlabelled when the label set has no such class.
Colours missing from labelmap.txt and names missing from the label set are
reported and stop the import unless skipped or mapped. A zip is checked
before anything is extracted (safe_zip): members whose names would leave the
extraction folder, symbolic links and members that inflate beyond the limits
(zip bombs) refuse the archive; extraction stops at the limits too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import SegstudioError
from ..labels import LabelSet
from ..safe_zip import extract_zip
from .classmap import ImportSummary
from .segfolder import import_segmentation_folder


def _extract_zip(path: Path, dest: Path) -> Path:
    extract_zip(path, dest)
    # the tree may sit in one top-level folder inside the archive
    if not (dest / "labelmap.txt").exists():
        subs = [p for p in dest.iterdir() if p.is_dir()]
        if len(subs) == 1 and (subs[0] / "labelmap.txt").exists():
            return subs[0]
    return dest


def import_cvat(src: str | Path, images_dir: str | Path, labelset: LabelSet, out_dir: str | Path, **kw) -> ImportSummary:
    """Import a CVAT "Segmentation mask 1.1" folder or zip; keywords as `import_segmentation_folder`."""
    src = Path(src)
    if src.is_file() and src.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="segstudio-cvat-") as tmp:
            root = _extract_zip(src, Path(tmp))
            return _import_tree(root, src, images_dir, labelset, out_dir, **kw)
    if not src.is_dir():
        raise SegstudioError(f"{src}: not a folder or .zip of a CVAT export")
    return _import_tree(src, src, images_dir, labelset, out_dir, **kw)


def _import_tree(root: Path, shown: Path, images_dir, labelset, out_dir, **kw) -> ImportSummary:
    if not (root / "labelmap.txt").is_file():
        raise SegstudioError(f"{shown}: no labelmap.txt; a CVAT 'Segmentation mask 1.1' export has one")
    kw.setdefault("colors", True)
    return import_segmentation_folder(root, images_dir, labelset, out_dir, kind="CVAT", **kw)
