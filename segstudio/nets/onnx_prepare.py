"""`python -m segstudio.nets.onnx_prepare CHECKPOINT LOCK`: fill the ONNX cache for one model, at low priority.

Started by the auto backend (nets.backends) as a detached process the first
time a model predicts a batch: it loads the checkpoint, exports it, checks the
export's labels against torch's and writes the export and the verdict to the
cache (backends.prepare_onnxruntime), then removes LOCK. It runs at the lowest
CPU priority on one thread, so the predictions it speeds up later are not
slowed now, and nobody waits for it. Prints nothing; the exit status says
whether it worked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    source, lock = argv[0], Path(argv[1])
    try:
        os.nice(19)
    except OSError:
        pass
    try:
        import torch

        torch.set_num_threads(1)
        from .backends import prepare_onnxruntime
        from .checkpoint import load_checkpoint

        model, card = load_checkpoint(source, device="cpu")
        prepare_onnxruntime(model.eval(), card, threads=1)
        return 0
    except Exception:  # noqa: BLE001 - the parent reports a failed export from the exit status
        return 1
    finally:
        lock.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
