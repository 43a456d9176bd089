"""`segstudio train --out`: never into the training data, never over files the run did not write (issue 14)."""

from __future__ import annotations

import os

import pytest

from segstudio.cli import main
from ..shapes_data import SHAPES_LABELSET, write_shapes_dataset

COMMON = ["--arch", "segnet-basic", "--width", "0.125", "--batch-size", "2", "--threads", "1", "--quiet",
          "--epochs", "1"]


@pytest.fixture
def data(tmp_path):
    root = write_shapes_dataset(tmp_path / "data", n_train=4, n_val=0, size=(32, 24))
    SHAPES_LABELSET.save(tmp_path / "labels.json")
    return root


def _args(data, tmp_path, out, *extra):
    return ["train", *COMMON, "--images", str(data / "images"), "--masks", str(data / "masks"),
            "--labels", str(tmp_path / "labels.json"), "--out", str(out), *extra]


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("which", ["images", "masks", "parent", "link-to-parent", "link-to-masks"])
def test_an_output_folder_that_is_or_holds_the_training_data_is_refused(data, tmp_path, capsys, which):
    out = {"images": data / "images", "masks": data / "masks", "parent": data}.get(which)
    if out is None:
        out = tmp_path / "link"
        os.symlink(data if which == "link-to-parent" else data / "masks", out)
    before = _tree(data)
    assert main(_args(data, tmp_path, out)) == 2
    err = capsys.readouterr().err
    assert str(out) in err and (str(data / "images") in err or str(data / "masks") in err), err
    assert _tree(data) == before  # nothing written into the data


@pytest.mark.parametrize("name, foreign", [
    ("demo", "demo.safetensors"), ("demo", "demo.json"), ("demo", "demo-last.json"),
    (None, "segnet-basic-shapes.json"), (None, "train-log.jsonl"), (None, "train-config.json"),
])
def test_a_new_run_does_not_replace_files_it_did_not_write(data, tmp_path, capsys, name, foreign):
    out = tmp_path / "results"
    out.mkdir()
    (out / foreign).write_text("someone else's file\n")
    (out / "notes.txt").write_text("unrelated\n")
    assert main(_args(data, tmp_path, out, *(["--name", name] if name else []))) == 2
    err = capsys.readouterr().err
    assert str(out) in err and foreign in err and "--resume" in err, err
    assert _tree(out) == {foreign: b"someone else's file\n", "notes.txt": b"unrelated\n"}


@pytest.mark.slow  # trains twice
def test_unrelated_files_are_fine_and_resume_continues_in_its_own_folder(data, tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "notes.txt").write_text("unrelated\n")
    assert main(_args(data, tmp_path, out, "--name", "demo")) == 0
    assert (out / "demo.safetensors").is_file() and (out / "notes.txt").read_text() == "unrelated\n"
    # the same fresh run again would replace the first run's model: refused
    assert main(_args(data, tmp_path, out, "--name", "demo")) == 2
    assert "demo" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--epochs", "2", "--quiet"]) == 0
    assert "resuming after epoch 1 of 2" in capsys.readouterr().out
    assert main(["train", "--resume", str(out / "demo.safetensors"), "--epochs", "3", "--quiet",
                 "--out", str(out)]) == 0
