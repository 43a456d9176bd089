"""`segstudio export voc|coco`: write masks as a Pascal VOC tree or a COCO JSON file."""

from __future__ import annotations

from pathlib import Path

from segstudio.core.labels import resolve_labelset

from .progress_text import TextProgress


def _common(p) -> None:
    p.add_argument("--images", required=True, type=Path, help="folder of images")
    p.add_argument("--masks", required=True, type=Path, help="folder of label PNGs named <image stem>.png")
    p.add_argument("--labels", required=True, help="label set: voc, camvid or a label-set file")
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--workers", type=int, default=None, help="worker threads (default 4)")


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="format", required=True, metavar="{voc,coco}")
    voc = sub.add_parser(
        "voc", help="Pascal VOC segmentation tree",
        description="Write JPEGImages/ (JPEGs copied byte for byte, others converted), SegmentationClass/ "
                    "palette PNGs (classes 0..K-1, 255 = void/unlabelled), ImageSets/Segmentation/"
                    "{train,val,trainval}.txt, class_names.txt and a CVAT labelmap.txt. The tree is written "
                    "into a temporary folder and renamed into place when complete.")
    _common(voc)
    voc.add_argument("--out", required=True, type=Path, help="output folder (must not exist, or be empty)")
    voc.add_argument("--val-fraction", type=float, default=0.2, help="share of images in val.txt (default 0.2)")
    voc.add_argument("--seed", type=int, default=0, help="seed of the train/val shuffle (default 0)")
    voc.add_argument("--visualize", action="store_true", help="also write SegmentationClassVisualization/ overlays")
    coco = sub.add_parser(
        "coco", help="COCO JSON (RLE or polygons)",
        description="Write one COCO JSON: category ids from 1, iscrowd 0, area and bbox from pycocotools. "
                    "rle: one lossless RLE annotation per class per image (COCO-Stuff style). polygon: one "
                    "annotation per connected component; components with holes are written as RLE to keep "
                    "their holes. The file is loaded back with pycocotools and decoded before it is kept.")
    _common(coco)
    coco.add_argument("--out", required=True, type=Path, help="output .json file")
    coco.add_argument("--segmentation", choices=("rle", "polygon"), default="rle", help="encoding (default rle)")


def run(args) -> int:
    labelset = resolve_labelset(args.labels)
    bar = TextProgress(f"export {args.format}")
    if args.format == "voc":
        from segstudio.core.formats.voc import export_voc

        summary = export_voc(args.images, args.masks, labelset, args.out, val_fraction=args.val_fraction,
                             seed=args.seed, visualize=args.visualize, overwrite=args.overwrite,
                             workers=args.workers, progress=bar)
    else:
        from segstudio.core.formats.coco import export_coco

        summary = export_coco(args.images, args.masks, labelset, args.out, segmentation=args.segmentation,
                              overwrite=args.overwrite, workers=args.workers, progress=bar)
    for line in summary.lines():
        print(line)
    from segstudio.core.review import state_counts, summary_line

    print(summary_line(state_counts(args.images, args.masks)))
    return 0

