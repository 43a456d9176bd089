"""`torchrun --nproc_per_node=2 -m segstudio predict`: two CPU ranks (gloo) write exactly what one process writes."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.cli import main
from segstudio.commands.predict_shard import Shard
from segstudio.core.labels import preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import make_card, save_checkpoint


def test_shard_from_the_torchrun_environment():
    assert Shard.from_env({}) == Shard() and not Shard().distributed
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    shard = Shard.from_env(env)
    assert (shard.rank, shard.world, shard.local_rank, shard.local_world) == (3, 4, 1, 2)
    items = list(range(10))
    parts = [Shard.from_env(dict(env, RANK=str(r))).take(items) for r in range(4)]
    assert sorted(sum(parts, [])) == items and {len(p) for p in parts} == {2, 3}
    assert Shard().take(items) == items and Shard().combine(2, 5) == (2, 5)


@pytest.mark.slow
def test_two_cpu_ranks_write_the_same_files_as_one_process(tmp_path, monkeypatch):
    home = tmp_path / "home"
    torch.manual_seed(0)
    model = build_model("segnet-basic", 11, width=0.125)
    save_checkpoint(home / "models" / "tiny", model, make_card("segnet-basic", 0.125, preset("camvid")))
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    sizes = [(48, 32), (48, 32), (37, 29), (64, 40), (48, 32)]  # 5 images: shards of 3 and 2
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(images / f"im{i}.png")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")

    monkeypatch.setenv("SEGSTUDIO_HOME", str(home))
    single = tmp_path / "single"
    assert main(["predict", "--model", "tiny", "--backend", "torch", "--out", str(single), "--quiet",
                 str(images)]) == 1

    env = dict(os.environ, SEGSTUDIO_HOME=str(home), OMP_NUM_THREADS="1")
    sharded = tmp_path / "sharded"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", "-m", "segstudio", "predict", "--model", "tiny", "--backend", "torch",
                           "--out", str(sharded), "--quiet", str(images)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stderr[-3000:]  # the broken image fails the run, as in one process
    names = sorted(p.name for p in single.iterdir())
    assert names == [f"im{i}.png" for i in range(5)]
    assert sorted(p.name for p in sharded.iterdir()) == names
    for name in names:
        assert (sharded / name).read_bytes() == (single / name).read_bytes(), name
    # Rank 0 alone prints the combined summary.
    assert proc.stderr.count("wrote 5 label PNG(s)") == 1 and "1 failed" in proc.stderr
