"""ONNX export of segstudio's networks, and the onnxruntime sessions built from it.

`onnx_bytes(model, card)` exports a network with torch's dynamo exporter (the
TorchScript exporter cannot express SegNet's max-unpooling in this torch) as
a graph from a normalised float32 input `image` (N,3,H,W; batch, height and
width dynamic) to float32 `logits` (N,K,H,W). The model card travels with it
as ONNX metadata (`segstudio.card`, JSON), so a consumer knows the label set
and the input normalisation (card["input"], including any resize factor).

`write_onnx` writes such a file atomically and never replaces a file that
segstudio did not export. `cached_onnx` keeps one export per weights digest
in the user's cache folder, for the predictor's onnxruntime backend; nothing
is ever downloaded. onnx, onnxscript and onnxruntime are imported only here,
and only when used.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from segstudio.core.atomic import atomic_write_bytes
from segstudio.core.errors import SegstudioError

from .card import FORMAT_NAME, InputTransform, validate_card
from .checkpoint import CARD_METADATA_KEY
from .errors import ModelError

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
DIM_NAMES = ("batch", "height", "width")
# An example input whose sizes are neither 0/1 nor equal to each other or to a channel
# count, so that the exporter keeps batch, height and width symbolic.
EXAMPLE_SHAPE = (2, 3, 67, 93)
EXPORT_VERSION = "1"


class OnnxUnavailable(SegstudioError):
    """onnx / onnxscript / onnxruntime are not installed."""


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise OnnxUnavailable(f"{module} is not installed; install it with "
                              f"'pip install onnx onnxscript onnxruntime'") from None


@contextlib.contextmanager
def _quiet():
    """The exporter's harmless warnings go to logging and the warnings module: silence those.

    (Not sys.stdout/stderr: swapping them is process-wide, and exports also run on a
    background thread while the CLI prints its summary.)
    """
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def _rename_dims(graph) -> None:
    """Give the exporter's symbolic sizes (s77, s53, ...) the names batch/height/width."""
    dims = graph.input[0].type.tensor_type.shape.dim
    mapping = {dims[i].dim_param: name for i, name in zip((0, 2, 3), DIM_NAMES) if dims[i].dim_param}
    for value in (*graph.input, *graph.output, *graph.value_info):
        for d in value.type.tensor_type.shape.dim:
            if d.dim_param in mapping:
                d.dim_param = mapping[d.dim_param]


def onnx_bytes(model: nn.Module, card: dict) -> bytes:
    """The serialised ONNX model of `model` (eval mode, float32, CPU) with `card` as metadata."""
    validate_card(card)
    _need("onnx")
    _need("onnxscript")
    if model.training or any(t.device.type != "cpu" or t.dtype != torch.float32
                             for t in model.state_dict().values() if t.is_floating_point()):
        model = copy.deepcopy(model).eval().to("cpu", torch.float32)  # the caller's model stays as it is
    auto = torch.export.Dim.AUTO
    example = torch.randn(*EXAMPLE_SHAPE)
    try:
        with _quiet(), torch.no_grad():
            program = torch.export.export(model, (example,), dynamic_shapes=({0: auto, 2: auto, 3: auto},))
            onnx_program = torch.onnx.export(program, dynamo=True, input_names=[INPUT_NAME],
                                             output_names=[OUTPUT_NAME], optimize=True, verbose=False)
    except Exception as e:
        raise ModelError(f"ONNX export of {card.get('name') or card['arch']} failed: "
                         f"{type(e).__name__}: {str(e)[:300]}") from e
    proto = onnx_program.model_proto
    _rename_dims(proto.graph)
    meta = {CARD_METADATA_KEY: json.dumps(card), "segstudio.format": FORMAT_NAME,
            "segstudio.onnx_export_version": EXPORT_VERSION, "segstudio.torch": torch.__version__}
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "segstudio"
    proto.doc_string = (f"{card.get('name') or card['arch']}: normalised RGB/BGR float input per the card's "
                        f"'input' entry -> per-class logits")
    return proto.SerializeToString()


def read_onnx_card(path: str | Path) -> dict | None:
    """The model card embedded in a segstudio ONNX file, or None for any other file."""
    onnx = _need("onnx")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # not ONNX at all (or unreadable): not ours
        return None
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("segstudio.format") != FORMAT_NAME or CARD_METADATA_KEY not in meta:
        return None
    try:
        return json.loads(meta[CARD_METADATA_KEY])
    except json.JSONDecodeError:
        return None


def refuse_foreign_file(out: str | Path) -> None:
    """Raise if `out` exists and is not an ONNX model that segstudio exported."""
    out = Path(out)
    if out.is_symlink():  # the user's link (even to an earlier export, or dangling) would become a plain file
        raise SegstudioError(f"{out}: is a symbolic link (to {os.readlink(out)}); not overwriting it "
                             "(give the real path or another --out)")
    if out.exists() and (not out.is_file() or read_onnx_card(out) is None):
        raise SegstudioError(f"{out}: exists and is not an ONNX model exported by segstudio; "
                             "not overwriting it (choose another --out)")


def write_onnx(model: nn.Module, card: dict, out: str | Path) -> Path:
    """Export to `out` atomically; an existing file is replaced only if segstudio exported it."""
    out = Path(out)
    refuse_foreign_file(out)
    data = onnx_bytes(model, card)
    atomic_write_bytes(out, data)
    return out


# --- onnxruntime -----------------------------------------------------------------------------


def ort_session(model_source: str | Path | bytes, threads: int | None = None):
    """An onnxruntime CPU InferenceSession with all graph optimisations."""
    ort = _need("onnxruntime")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = int(threads or torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # Spinning worker threads cost more than they save when image decoding, PNG writing or
    # the studio share the cores (measured slower under load).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model_source if isinstance(model_source, bytes) else str(model_source)
    return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])


def cache_dir() -> Path:
    """SEGSTUDIO_CACHE, else SEGSTUDIO_HOME/cache, else $XDG_CACHE_HOME/segstudio (~/.cache)."""
    if os.environ.get("SEGSTUDIO_CACHE"):
        return Path(os.environ["SEGSTUDIO_CACHE"])
    if os.environ.get("SEGSTUDIO_HOME"):
        return Path(os.environ["SEGSTUDIO_HOME"]) / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "segstudio"


def weights_digest(model: nn.Module, card: dict) -> str:
    """SHA-256 over the card and every tensor of the state dict (what the export depends on)."""
    h = hashlib.sha256(json.dumps(card, sort_keys=True).encode())
    h.update(f"{torch.__version__}/{EXPORT_VERSION}".encode())
    for key, t in model.state_dict().items():
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def cached_onnx(model: nn.Module, card: dict) -> Path:
    """The ONNX export of `model`, from the cache when these exact weights were exported before."""
    path = cache_dir() / "onnx" / f"{weights_digest(model, card)[:32]}.onnx"
    if not path.is_file():
        atomic_write_bytes(path, onnx_bytes(model, card))
    return path


# --- checking an export ----------------------------------------------------------------------


def card_input(image: np.ndarray, card: dict) -> np.ndarray:
    """1,3,h,w float32 network input for an HxWx3 uint8 RGB image, as card["input"] says."""
    transform = InputTransform.from_card(card)
    if transform.resize != 1.0:
        size = transform.scaled_size(image.shape[1], image.shape[0])
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if transform.resize < 1 else cv2.INTER_LINEAR)
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    return np.ascontiguousarray(transform(x).numpy(), dtype=np.float32)


def label_agreement(model: nn.Module, session, x: np.ndarray) -> float:
    """Fraction of pixels whose argmax label is the same from torch and from the ORT session."""
    with torch.inference_mode():
        ref = model.eval()(torch.from_numpy(x)).argmax(1).numpy()
    got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0].argmax(1)
    return float((ref == got).mean())


class OrtModule(nn.Module):
    """An onnxruntime session behind the nn.Module interface the predictor drives (CPU tensors in and out)."""

    def __init__(self, session, like: nn.Module) -> None:
        super().__init__()
        self.session = session
        for attr in ("arch", "width", "num_classes", "output_stride", "tile_overlap"):
            if hasattr(like, attr):
                setattr(self, attr, getattr(like, attr))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().to("cpu", torch.float32).contiguous(memory_format=torch.contiguous_format)
        return torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0])
