"""Assisted correction without Qt: superpixels, magic wand, GrabCut boxes, low-confidence regions, confidence files."""
