"""`segstudio import voc|coco|labelme|cvat SRC`: bring annotations in as label PNGs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segstudio.core.labels import resolve_labelset

from .progress_text import TextProgress

EPILOG = """\
sources:
  voc      a Pascal VOC folder (SegmentationClass/ index PNGs, 255 = void; classes
           matched by name when it has class_names.txt or labelmap.txt)
  coco     a COCO JSON file (polygons, RLE and uncompressed RLE)
  labelme  a labelme .json file or a folder of them (polygon, rectangle, circle,
           mask shapes; coordinates in the EXIF-oriented image frame)
  cvat     a CVAT "Segmentation mask 1.1" export, folder or .zip (colour PNGs
           mapped through labelmap.txt)

overlaps: annotations (COCO) and shapes (labelme) are painted in file order, so
where two overlap the LATER one wins. Pixels nothing covers become unlabelled
(the label set's ignore index), or --fill CLASS for COCO.

labelme, as labelme's own labelme2voc converter: '_background_' shapes and the
pixels no shape covers are the label set's background class when it has one
(VOC: class 0), else unlabelled; --background void|CLASS chooses otherwise.
'__ignore__' is unlabelled. A labelme file that cannot be read is reported and
skipped; the other files are still imported.

classes are matched by name (exactly, else case-insensitively). 'background'
and '_background_' become unlabelled when the label set has no such class.
Any other unknown name stops the import before anything is written: map it
with --map NAME=CLASS (or NAME=ignore) or skip it with --skip-unknown; skipped
names are listed in the summary. Paths inside the files (file_name,
imagePath, zip members) that lead outside the data folder are refused, and so
are zip bombs, and masks that would replace an input (an image, a source mask).

exit status: 0 all imported; 1 some images were skipped (listed); 2 error.
"""


def add_arguments(parser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("kind", choices=("voc", "coco", "labelme", "cvat"), help="annotation format")
    parser.add_argument("src", type=Path, help="file or folder to import")
    parser.add_argument("--images", required=True, type=Path, help="folder of the images the annotations belong to")
    parser.add_argument("--labels", required=True, help="label set: voc, camvid or a label-set file")
    parser.add_argument("--out", required=True, type=Path, help="folder for the label PNGs (<image stem>.png)")
    parser.add_argument("--map", action="append", metavar="NAME=CLASS", default=[],
                        help="import class NAME as CLASS (or 'ignore' for unlabelled); repeatable")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="skip annotations of classes not in the label set (they are listed)")
    parser.add_argument("--overwrite", action="store_true", help="replace masks that already exist in --out")
    parser.add_argument("--fill", metavar="CLASS", help="COCO: class for pixels no annotation covers")
    parser.add_argument("--background", metavar="auto|void|CLASS",
                        help="labelme: what '_background_' and uncovered pixels become (default auto: the "
                             "label set's background class if it has one, else unlabelled)")


def run(args) -> int:
    from segstudio.core.formats.classmap import parse_mapping
    from segstudio.core.errors import SegstudioError

    labelset = resolve_labelset(args.labels)
    kw = dict(mapping=parse_mapping(args.map), skip_unknown=args.skip_unknown, overwrite=args.overwrite,
              progress=TextProgress(f"import {args.kind}"))
    if args.fill and args.kind != "coco":
        raise SegstudioError("--fill applies to COCO imports only")
    if args.background and args.kind != "labelme":
        raise SegstudioError("--background applies to labelme imports only")
    if args.kind == "voc":
        from segstudio.core.formats.voc import import_voc as fn
    elif args.kind == "coco":
        from segstudio.core.formats.coco import import_coco as fn

        kw["fill"] = args.fill
    elif args.kind == "labelme":
        from segstudio.core.formats.labelme import import_labelme as fn

        kw["background"] = args.background or "auto"
    else:
        from segstudio.core.formats.cvat import import_cvat as fn
    summary = fn(args.src, args.images, labelset, args.out, **kw)
    for line in summary.lines():
        print(line)
    if summary.skipped:
        print(f"segstudio import: {len(summary.skipped)} item(s) skipped (see above)", file=sys.stderr)
        return 1
    return 0
