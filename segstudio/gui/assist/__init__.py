"""Assisted correction in the studio: superpixel brush, magic wand, GrabCut box, re-predict a region,
confidence view and review keys. The algorithms live in core.assist and nets; this package only turns
mouse and keys into them and their results into single Document.apply_mask / apply_labels steps."""
