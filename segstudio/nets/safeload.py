"""Reading tensors from files without ever executing code hidden in them.

`.safetensors` files hold only tensors. `.pth` / `.pt` / `.bin` files are
pickles: they are read with `torch.load(weights_only=True)`, whose restricted
unpickler refuses any global that is not a tensor type, so a checkpoint
crafted to run code is rejected with `UnsafeCheckpointError` instead.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from .errors import ModelError, UnsafeCheckpointError

PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")
STATE_DICT_WRAPPERS = ("model_state_dict", "state_dict", "model")


def load_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (on CPU) and the string metadata of a .safetensors file."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file") from None
    except Exception as e:  # safetensors raises its own SafetensorError for corrupt headers
        raise ModelError(f"{path}: not a readable safetensors file ({e})") from None
    return tensors, meta


def load_pickled_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a PyTorch pickle, loaded with weights_only=True only.

    Training checkpoints that wrap the weights (`{"model_state_dict": ...}`,
    `{"state_dict": ...}`) are unwrapped; a DataParallel `module.` prefix is removed.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        detail = next((ln.strip() for ln in first if "GLOBAL" in ln or "Unsupported" in ln), "")
        raise UnsafeCheckpointError(
            f"{path}: refused to load: the file contains Python objects that would run code when "
            f"unpickled, not just tensors{' (' + detail + ')' if detail else ''}. Only load it if you "
            "trust its source, by converting it to safetensors yourself."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise ModelError(f"{path}: not a readable PyTorch checkpoint ({e})") from None
    return _unwrap(obj, path)


def _unwrap(obj, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in STATE_DICT_WRAPPERS:
            if isinstance(obj.get(key), dict) and not isinstance(obj.get(key), torch.Tensor):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path}: does not hold a state dict (a mapping of names to tensors)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors or PyTorch pickle file, safely."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        return load_safetensors(path)[0]
    return load_pickled_state_dict(path)
