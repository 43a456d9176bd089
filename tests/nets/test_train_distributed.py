"""`segstudio train` under torchrun with 2 CPU processes (gloo, DistributedDataParallel)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from segstudio import paths
from segstudio.core.metrics import ConfusionMatrix
from segstudio.nets.checkpoint import load_checkpoint
from segstudio.nets.data import find_data, load_pair
from ..shapes_data import SHAPES_LABELSET, write_shapes_dataset

pytestmark = pytest.mark.slow  # two torchrun processes


def _evaluate(path, root) -> float:
    """Pixel accuracy of a checkpoint on the validation images, in this one process."""
    model, card = load_checkpoint(path)
    inp = card["input"]
    mean = torch.tensor(inp["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(inp["std"]).view(1, 3, 1, 1)
    cm = ConfusionMatrix(3)
    for s in find_data(images=root / "images", masks=root / "masks", val_list=root / "val.txt").val:
        img, mask = load_pair(s, 3)
        x = torch.from_numpy(img.transpose(2, 0, 1).copy()).float()[None] * inp["scale"]
        with torch.no_grad():
            pred = model((x - mean) / std).argmax(1)[0].numpy().astype(np.uint8)
        cm.update(mask, pred)
    return cm.scores().pixel_accuracy


def test_two_cpu_processes_train_together_and_only_rank0_writes(tmp_path):
    root = write_shapes_dataset(tmp_path / "data", n_train=8, n_val=4, size=(32, 24))
    SHAPES_LABELSET.save(root / "labels.json")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "segstudio", "train", "--arch", "segnet-basic", "--width", "0.125",
           "--images", str(root / "images"), "--masks", str(root / "masks"),
           "--train-list", str(root / "train.txt"), "--val-list", str(root / "val.txt"),
           "--labels", str(root / "labels.json"), "--out", str(out), "--epochs", "3", "--batch-size", "2",
           "--optimizer", "adamw", "--lr", "0.003", "--lr-schedule", "constant", "--threads", "1", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, cwd=paths.REPO_DIR)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    # both ranks ran, each on half of the training images
    assert "[rank 0/2] 8 training images, shard of 4" in text
    assert "[rank 1/2] 8 training images, shard of 4" in text
    # only rank 0 reports: one line per epoch, and the loss falls
    losses = [float(v) for v in re.findall(r"^epoch +\d+/3 loss ([\d.]+)", proc.stdout, re.M)]
    assert len(losses) == 3, text
    assert losses[-1] < losses[0]
    # exactly one set of checkpoint files, written once (rank 1 writes nothing)
    assert sorted(p.name for p in out.iterdir()) == [
        "segnet-basic-shapes-last.json", "segnet-basic-shapes-last.safetensors",
        "segnet-basic-shapes-last.state.pt", "segnet-basic-shapes.json", "segnet-basic-shapes.safetensors",
        "train-config.json", "train-log.jsonl"]
    log = [json.loads(line) for line in (out / "train-log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]
    # validation figures cover all validation images (confusion matrices summed over ranks):
    # they equal a single-process evaluation of the same saved weights
    model, card = load_checkpoint(out / "segnet-basic-shapes-last.safetensors")
    assert card["training"]["hardware"]["world_size"] == 2
    assert card["metrics"]["images"] == 4
    assert card["metrics"]["pixel_accuracy"] == pytest.approx(_evaluate(out / "segnet-basic-shapes-last.safetensors",
                                                                        root), abs=1e-9)
