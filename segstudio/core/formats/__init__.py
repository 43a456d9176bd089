"""Annotation formats: Pascal VOC (voc), COCO JSON (coco), labelme JSON (labelme), CVAT (cvat).

Each format module is independent of the others (an import-linter contract
says so); what they share lives beside them: `pairing` (images with their
masks, for exports), `classmap` (source class names to the label set, import
summaries), `masks` (the one writer of imported label PNGs) and `segfolder`
(the VOC-shaped SegmentationClass folder that VOC and CVAT imports read).
"""
