"""Propagation's work for gui.assist.propagate: one frame's proposal, the Shift+J job, applying a frame.

`propagate_one` warps and fuses one frame (on a worker); `writable` keeps a
person's pixels and protected classes out of a proposal.

`forward_job(...)` is a JobRunner job: frame after frame it loads the image
and its mask (the copy in memory for an open document, else the saved file),
asks the model for its probabilities (when a model is selected), warps the
previous result and fuses them (propagate_one), keeps a
person's pixels (core.assist.propagate.edited_pixels), and reports
`progress(i, n, path, prev_path, seen, new, kept)`; the next frame starts
from `new`. `apply_frame` runs on the GUI thread: it writes the frame's
document as one undoable step, keeping any pixel a person changed while the
job ran (where the document no longer equals `seen`), and saves a document
that is not on screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from segstudio.core.errors import SegstudioError
from segstudio.core.jobs import check_cancel
from segstudio.core.states import ImageState

if TYPE_CHECKING:  # numpy loads with the first folder, not at startup
    import numpy as np


def writable(labels, proposal, edited, protect, ignore: int):
    """The map after propagation: `proposal` where it has a label and the pixel is neither edited nor
    holding a protected class, `labels` elsewhere."""
    import numpy as np

    write = proposal != ignore
    if edited is not None:
        write &= ~edited
    if protect:
        write &= ~np.isin(labels, sorted(protect))
    return np.where(write, proposal, labels).astype(np.uint8), bool(edited is not None and edited.any())


def propagate_one(prev_labels, prev_rgb, rgb, probs, ignore: int, cancelled=None):
    """On the worker: (labels, from_warp) for `rgb` from the previous frame (core.assist.propagate.fuse)."""
    from segstudio.core.assist.propagate import fuse, propagate_labels

    prop = propagate_labels(prev_labels, prev_rgb, rgb, ignore, cancelled=cancelled)
    return fuse(prop, probs)


def forward_job(rgb0: np.ndarray, labels0: np.ndarray, first: Path, plans: list[dict], ignore: int, protect,
                get_predictor):
    def job(progress, cancelled):
        import numpy as np

        from segstudio.core.assist.propagate import edited_pixels, fuse, propagate_labels
        from segstudio.core.imageio import load_image, read_label_png

        predictor = get_predictor() if get_predictor is not None else None
        prev_rgb, prev_labels, prev_path, prev_gray = rgb0, labels0, first, None
        for i, plan in enumerate(plans):
            check_cancel(cancelled)
            rgb = load_image(plan["path"])
            size = (rgb.shape[1], rgb.shape[0])
            seen = plan["labels"]
            if seen is None:
                seen = read_label_png(plan["mask"], expected_size=size, image_path=plan["path"]) \
                    if plan["mask"].is_file() else np.full(size[::-1], ignore, np.uint8)
            probs = None
            if predictor is not None:
                from segstudio.nets.uncertainty import working_probabilities

                probs = working_probabilities(predictor, rgb, cancelled)
            prop = propagate_labels(prev_labels, prev_rgb, rgb, ignore, cancelled=cancelled, prev_gray=prev_gray)
            proposal = fuse(prop, probs)[0]
            edited = None if plan["overwrite"] else edited_pixels(seen, ignore, plan["human"], plan["steps"])
            new, kept = writable(seen, proposal, edited, protect, ignore)
            progress(i + 1, len(plans), plan["path"], prev_path, seen, new, kept)
            prev_rgb, prev_labels, prev_path, prev_gray = rgb, new, plan["path"], prop.gray
        return len(plans)
    return job


def apply_frame(ctl, path: Path, prev: Path, seen: np.ndarray, new: np.ndarray, kept: bool) -> bool:
    """Write frame `path`'s propagated labels into its document as one step (see the module docstring)."""
    import numpy as np

    win = ctl.win
    doc = win.docs.open(path)
    was_loaded = doc.loaded
    if doc.history_length == 0:
        ctl.base_states.setdefault(path, win.project.state(path))
    try:
        if not was_loaded:  # read again, not `seen`: the person may have edited and saved it meanwhile
            win.docs.load(doc, (new.shape[1], new.shape[0]))
    except SegstudioError as e:
        ctl.say(f"{path.name}: not propagated ({e})", 10000)
        return False
    if doc.read_only or doc.labels.shape != new.shape:
        if not was_loaded:
            doc.unload()
        return False
    if doc is win.current:
        win.canvas.cancel_interaction()
    changed_since = doc.labels != seen
    merged = np.where(changed_since, doc.labels, new).astype(np.uint8)
    state = ImageState.EDITED if kept or changed_since.any() else ImageState.PREDICTED
    doc.apply_labels(0, 0, merged, text=f"Propagate from {prev.name}", state=state)
    if doc is not win.current:
        win.save_doc(doc)
        if not was_loaded and doc.path not in win.save_failures:
            doc.unload()
    return True
