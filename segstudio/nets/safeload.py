"""Reading tensors from files without ever executing code hidden in them.

`.safetensors` files hold only tensors. `.pth` / `.pt` / `.bin` files are
pickles: they are read with `torch.load(weights_only=True)`, whose restricted
unpickler refuses any global that is not a tensor type, so a checkpoint
crafted to run code is rejected with `UnsafeCheckpointError` instead.

Before a `.safetensors` file is opened, its header is read and checked in
Python (`check_safetensors_header`): the 8-byte header length, each tensor's
dtype, shape and byte range must agree with each other and with the file's
size, and the tensors together may not claim more than `MAX_TENSOR_BYTES`.
A header that claims absurd sizes is refused by reading a few bytes, before
anything is allocated for it.
"""

from __future__ import annotations

import math
import os
import pickle
import struct
from pathlib import Path

import torch

from segstudio.core.errors import SegstudioError
from segstudio.core.safe_json import loads_checked

from .errors import ModelError, UnsafeCheckpointError

PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")
STATE_DICT_WRAPPERS = ("model_state_dict", "state_dict", "model")


MAX_HEADER_BYTES = 100 << 20  # the safetensors format's own limit
MAX_TENSOR_BYTES = 16 << 30  # a segmentation model is far smaller
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def _check_tensor(name: str, entry, data_bytes: int, path: Path) -> int:
    """The byte count of one header entry, after checking it is consistent; raises ModelError."""
    if not isinstance(entry, dict):
        raise ModelError(f"{path}: safetensors header entry {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise ModelError(f"{path}: tensor {name!r} has an unknown dtype {dtype!r}")
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise ModelError(f"{path}: tensor {name!r} has a malformed shape {str(shape)[:60]}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise ModelError(f"{path}: tensor {name!r} has malformed data_offsets {str(offsets)[:60]}")
    nbytes = math.prod(shape) * DTYPE_BYTES[dtype]
    if nbytes > MAX_TENSOR_BYTES:
        raise ModelError(f"{path}: tensor {name!r} claims {nbytes:,} bytes (shape {shape}); refused")
    begin, end = offsets
    if not 0 <= begin <= end <= data_bytes or end - begin != nbytes:
        raise ModelError(f"{path}: tensor {name!r} claims bytes {begin}..{end} for {nbytes:,} bytes of data, "
                         f"but the file holds {data_bytes:,} bytes of tensor data; refused")
    return nbytes


def check_safetensors_header(path: str | Path) -> dict:
    """The parsed header of a .safetensors file, refused (ModelError) if it claims absurd sizes."""
    path = Path(path)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ModelError(f"{path}: not a readable safetensors file: only {size} bytes")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES or n > size - 8:
                raise ModelError(f"{path}: not a readable safetensors file: its header claims {n:,} bytes "
                                 f"but the file has {size:,} (limit {MAX_HEADER_BYTES:,}); refused")
            raw = f.read(n)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        header = loads_checked(raw, path, max_depth=8)
    except SegstudioError as e:
        raise ModelError(f"{path}: safetensors header: {e}") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path}: safetensors header is not an object")
    data_bytes = size - 8 - n
    total = sum(_check_tensor(k, v, data_bytes, path) for k, v in header.items() if k != "__metadata__")
    if total > MAX_TENSOR_BYTES:
        raise ModelError(f"{path}: tensors claim {total:,} bytes in all (limit {MAX_TENSOR_BYTES:,}); refused")
    return header


def load_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors (on CPU) and the string metadata of a .safetensors file, its header checked first."""
    from safetensors import safe_open

    path = Path(path)
    check_safetensors_header(path)
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
