"""The models shipped in segstudio/data/models/ load, describe themselves, and predict the bundled samples well."""

import json
import re

import pytest

from segstudio.core.imageio import load_image, read_label_png
from segstudio.core.metrics import ConfusionMatrix
from segstudio.nets.checkpoint import default_model, find_models, load_checkpoint, validate_card
from segstudio.nets.predictor import Predictor
from segstudio.paths import DATA_DIR

MODELS = DATA_DIR / "models"
SAMPLES = DATA_DIR / "samples"
SHIPPED = sorted(MODELS.glob("*.safetensors"))
pytestmark = pytest.mark.slow  # real models on real images


def test_the_default_model_ships(monkeypatch):
    monkeypatch.setenv("SEGSTUDIO_SHIPPED_MODELS", str(MODELS))
    info = default_model()
    assert info is not None and info.name == "fcn8s-lite0-camvid"
    assert {m.name for m in find_models()} >= {"fcn8s-lite0-camvid", "segnet-basic-camvid", "fcn8s-w0.3-camvid"}


@pytest.mark.parametrize("weights", SHIPPED, ids=lambda p: p.stem)
def test_shipped_model_card_and_sample_quality(weights):
    card = json.loads(weights.with_suffix(".json").read_text())
    validate_card(card, weights)
    assert weights.stat().st_size <= 25 * 1024 * 1024
    for key in ("pixel_accuracy", "mean_accuracy", "mean_iou"):
        assert 0 < card["metrics"][key] <= 1
    assert card["training"]["hardware"] and card["training"]["wall_time_s"] > 0
    model, card = load_checkpoint(weights)
    predictor = Predictor(model, card, device="cpu")
    cm = ConfusionMatrix(predictor.labelset.num_classes)
    for image in sorted(SAMPLES.glob("*.png")):
        labels = predictor.predict(load_image(image))
        cm.update(read_label_png(SAMPLES / "ground-truth" / image.name), labels)
    # A random network scores about 0.03 here; the shipped ones are trained.
    assert cm.scores().mean_iou > 0.2
    assert cm.scores().pixel_accuracy > 0.5


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


@pytest.mark.parametrize("weights", SHIPPED, ids=lambda p: p.stem)
def test_shipped_cards_name_data_not_machine_paths(weights):
    card = json.loads(weights.with_suffix(".json").read_text())
    leaked = [s for s in _strings(card) if re.search(r"(^|[\s=\"'])/[A-Za-z]", s) or "../" in s or ":\\" in s]
    assert leaked == []
    assert not card["training"]["recipe"]["data"] or "/" not in card["training"]["recipe"]["data"]


@pytest.mark.parametrize("weights", SHIPPED, ids=lambda p: p.stem)
def test_card_embedded_in_the_weights_is_the_shipped_card(weights):
    """A wheel or a copy that loses the .json falls back to the embedded card: it must be the same, path-free one."""
    from safetensors import safe_open

    from segstudio.nets.checkpoint import CARD_METADATA_KEY

    with safe_open(str(weights), "np") as f:
        embedded = json.loads(f.metadata()[CARD_METADATA_KEY])
    assert embedded == json.loads(weights.with_suffix(".json").read_text())
