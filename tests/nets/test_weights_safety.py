"""A pickle that would run code is refused, and its code never runs."""

import pickle

import pytest
import torch

from segstudio.nets.checkpoint import load_checkpoint
from segstudio.nets.errors import UnsafeCheckpointError
from segstudio.nets.safeload import load_pickled_state_dict, load_state_dict_file


class CreatesFile:
    """Unpickling this calls open(path, "w"): if it ever runs, the file exists."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _write(kind, path, marker):
    state = {"conv1.weight": torch.zeros(2, 3, 7, 7), "evil": CreatesFile(marker)}
    if kind == "torch.save":
        torch.save(state, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(state, f, protocol=2)


@pytest.mark.parametrize("kind", ["torch.save", "raw pickle"])
def test_crafted_pickle_is_refused_and_its_payload_never_runs(tmp_path, kind):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "model.pth"
    _write(kind, path, marker)
    for load in (load_pickled_state_dict, load_state_dict_file, load_checkpoint):
        with pytest.raises(UnsafeCheckpointError, match=r"model\.pth: refused to load.*run code"):
            load(path)
    assert not marker.exists()

    # Control: the payload is real; an unrestricted unpickler would have created the file.
    control_marker = tmp_path / "control.txt"
    control = tmp_path / "control.pth"
    _write(kind, control, control_marker)
    if kind == "torch.save":
        torch.load(control, weights_only=False)
    else:
        pickle.loads(control.read_bytes())
    assert control_marker.exists()


def test_plain_state_dict_pickle_loads(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"module.a": torch.ones(2), "module.b": torch.zeros(1)}, path)
    assert set(load_pickled_state_dict(path)) == {"a", "b"}  # DataParallel prefix removed


def test_garbage_files_give_clear_errors(tmp_path):
    from segstudio.nets.errors import ModelError

    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match=r"bad\.pth"):
        load_pickled_state_dict(bad)
    st = tmp_path / "bad.safetensors"
    st.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match=r"bad\.safetensors: not a readable safetensors file"):
        load_state_dict_file(st)
