"""Writing imported label maps as label PNGs: the one mask writer every import uses.

Nothing is written over an existing mask unless the caller allows it, and the
masks are encoded into a staging folder inside the destination first, then
moved into place one atomic rename each, so a cancelled or failed import
leaves the destination as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import SegstudioError
from ..imageio import encode_label_png
from ..jobs import CancelFn, check_cancel
from ..labels import LabelSet
from ..staging import commit_files


def write_masks(results: list[tuple[str, np.ndarray]], labelset: LabelSet, out_dir: str | Path, *,
                overwrite: bool = False, cancelled: CancelFn | None = None) -> list[str]:
    """Write `out_dir/<stem>.png` for each `(stem, labels)`; returns the stems written."""
    out_dir = Path(out_dir)
    if not overwrite and out_dir.is_dir():
        clash = [s for s, _ in results if (out_dir / f"{s}.png").exists()]
        if clash:
            raise SegstudioError(f"{out_dir}: {len(clash)} mask(s) already exist ({', '.join(clash[:5])}"
                                 f"{' ...' if len(clash) > 5 else ''}); allow overwriting to replace them")
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-partial-", dir=out_dir))
    try:
        for stem, labels in results:
            check_cancel(cancelled)
            (staging / f"{stem}.png").write_bytes(encode_label_png(labels, labelset))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    commit_files(staging, out_dir)
    return [s for s, _ in results]
