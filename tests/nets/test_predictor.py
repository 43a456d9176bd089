"""Predictor: preprocessing from the card, tiling tolerance, batching on decode threads, cancel, OOM."""

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from segstudio.core.labels import LabelSet, preset
from segstudio.nets import build_model
from segstudio.nets.checkpoint import CAFFE_INPUT, make_card, save_checkpoint
from segstudio.nets.errors import ModelError
from segstudio.core.jobs import Cancelled
from segstudio.nets.device import pick_device
from segstudio.nets.predictor import Predictor
from segstudio.nets.tiling import spans

LS5 = LabelSet(tuple("abcde"), ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)), name="t5")


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([np.sin(xx / 17) * 127 + 128, np.cos(yy / 23) * 127 + 128, (xx + yy) % 255], -1)
    return (img + rng.integers(0, 40, img.shape)).clip(0, 255).astype(np.uint8)


def _calibrated(arch, width, labelset=LS5, seed=0, image=None):
    """A random model whose BN statistics fit real-looking input, so its labels vary in space."""
    torch.manual_seed(seed)
    model = build_model(arch, labelset.num_classes, width=width)
    for p in model.parameters():
        torch.nn.init.normal_(p, 0, (2 / p[0].numel()) ** 0.5 if p.dim() > 1 else 0.1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.momentum = None
    if bns:
        x = torch.from_numpy(image if image is not None else _image(96, 128)).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            model.train()(x / 255 - 0.45)
    return model.eval(), make_card(arch, width, labelset)


def _assert_same_up_to_float_ties(t_labels, t_probs, labels, probs):
    """Probabilities equal to float rounding; labels equal except at float-level ties."""
    assert np.abs(t_probs - probs).max() < 1e-5
    top2 = np.sort(probs, axis=0)[-2:]
    differ = t_labels != labels
    assert np.all(top2[1][differ] - top2[0][differ] < 1e-5)
    assert differ.mean() < 1e-3


def test_spans_cover_the_image_once_with_aligned_starts():
    for length, tile, overlap, align in [(1000, 512, 208, 16), (2500, 1024, 256, 32), (300, 256, 128, 32)]:
        ss = spans(length, tile, overlap, align)
        assert ss[0].own_start == 0 and ss[-1].own_end == length and ss[-1].end == length
        for a, b in zip(ss, ss[1:]):
            assert a.own_end == b.own_start  # each pixel owned once
            assert a.end - b.start >= overlap  # neighbours overlap enough
            assert b.own_start - b.start >= overlap // 2 and a.end - a.own_end >= overlap // 2
        assert all(s.start % align == 0 and s.end - s.start <= tile for s in ss)
    assert spans(200, 256, 128) == [spans(200, 256, 128)[0]] and spans(200, 256, 128)[0].end == 200
    with pytest.raises(ValueError, match="too small"):
        spans(1000, 100, 100, 16)


def test_tiled_equals_untiled_within_the_stated_tolerance():
    """Stated tolerance: with the default overlap (SegNet-Basic: 208 px, more than its receptive
    field) tiles give the whole-image result: probabilities within 1e-5 (float rounding) and the
    same labels except at float-level ties. With a smaller overlap of 128 px at least 95% of the
    labels still agree."""
    img = _image(160, 300)
    model, card = _calibrated("segnet-basic", 0.125, image=img)
    whole = Predictor(model, card, device="cpu", tile_size=4096)
    labels, probs = whole.predict(img, return_probs=True)
    assert len(np.unique(labels)) >= 3  # a meaningful comparison, not a constant map
    seen = []
    tiled = Predictor(model, card, device="cpu", tile_size=240)
    assert tiled.tile_overlap == 208
    t_labels, t_probs = tiled.predict(img, return_probs=True, progress=lambda i, n: seen.append((i, n)))
    assert seen[-1] == (3, 3) and len(seen) == 3  # 3 tiles, batch size 1 on CPU
    _assert_same_up_to_float_ties(t_labels, t_probs, labels, probs)
    rough = Predictor(model, card, device="cpu", tile_size=192, tile_overlap=128, batch_size=4)
    r_labels = rough.predict(img)
    assert (r_labels == labels).mean() >= 0.95
    assert not np.array_equal(r_labels, labels)  # the tolerance is really needed here


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["fcn8s", "segnet"])
def test_default_overlap_makes_tiles_exact_for_the_vgg_nets(arch):
    img = _image(150, 700)
    model, card = _calibrated(arch, 0.0625, image=img[:, :300])
    for name, m in model.named_children():
        if name.startswith("score"):  # zero at init: make the FCN's labels vary
            torch.nn.init.kaiming_normal_(m.weight)
    labels, probs = Predictor(model, card, device="cpu", tile_size=4096).predict(img, return_probs=True)
    assert len(np.unique(labels)) >= 3
    tiled = Predictor(model, card, device="cpu", tile_size=512)
    assert tiled.tile_overlap == {"fcn8s": 448, "segnet": 384}[arch]
    seen = []
    t_labels, t_probs = tiled.predict(img, return_probs=True, progress=lambda i, n: seen.append(n))
    assert seen[-1] >= 3
    _assert_same_up_to_float_ties(t_labels, t_probs, labels, probs)


def test_labels_and_probabilities():
    model, card = _calibrated("segnet-basic", 0.125)
    p = Predictor(model, card, device="cpu")
    img = _image(45, 61)
    labels, probs = p.predict(img, return_probs=True)
    assert labels.dtype == np.uint8 and labels.shape == (45, 61)
    assert probs.dtype == np.float32 and probs.shape == (5, 45, 61)
    assert np.allclose(probs.sum(0), 1, atol=1e-5)
    assert np.array_equal(probs.argmax(0), labels)
    assert np.array_equal(p.predict(img), labels)
    gray = p.predict(img[:, :, 0])
    assert gray.shape == (45, 61)
    assert p.labelset == LS5 and p.device == "cpu"
    with pytest.raises(Exception, match="HxWx3"):
        p.predict(np.zeros((4, 4, 4), np.uint8))


def test_preprocessing_follows_the_card_bgr_caffe_mean():
    model, _ = _calibrated("fcn32s", 0.0625)
    card = make_card("fcn32s", 0.0625, LS5, input_norm=CAFFE_INPUT)
    img = _image(40, 50)
    _, probs = Predictor(model, card, device="cpu").predict(img, return_probs=True)
    bgr = img[:, :, ::-1].astype(np.float32) - np.array(CAFFE_INPUT["mean"], np.float32)
    with torch.no_grad():
        ref = torch.softmax(model(torch.from_numpy(bgr.copy()).permute(2, 0, 1)[None]), 1)[0].numpy()
    assert np.allclose(probs, ref, atol=1e-5)
    rgb = img.astype(np.float32) - np.array(CAFFE_INPUT["mean"], np.float32)
    with torch.no_grad():
        wrong = torch.softmax(model(torch.from_numpy(rgb).permute(2, 0, 1)[None]), 1)[0].numpy()
    assert not np.allclose(probs, wrong, atol=1e-3)  # channel order matters for this model


def test_device_choice():
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else pick_device("auto").type)
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert pick_device("auto").type in ("cpu", "mps")
        with pytest.raises(ModelError, match="CUDA is not available"):
            pick_device("cuda")
    with pytest.raises(ModelError, match="unknown device"):
        pick_device("tpu9")


def test_cancel_between_tiles():
    model, card = _calibrated("segnet-basic", 0.125)
    p = Predictor(model, card, device="cpu", tile_size=240)
    cancel = threading.Event()
    calls = []

    def progress(i, n):
        calls.append(i)
        if i == 2:
            cancel.set()

    with pytest.raises(Cancelled):
        p.predict(_image(200, 600), cancel=cancel, progress=progress)
    assert calls == [1, 2]  # stopped right after the tile during which cancel was set


def _write_images(folder, sizes):
    paths = []
    for i, (h, w) in enumerate(sizes):
        path = folder / f"img{i}.png"
        Image.fromarray(_image(h, w, seed=i)).save(path)
        paths.append(path)
    return paths


def test_predict_paths_batches_same_size_images_decoded_on_threads(tmp_path, monkeypatch):
    import segstudio.nets.predictor as pred

    model, card = _calibrated("segnet-basic", 0.125)
    p = Predictor(model, card, device="cpu", workers=2)
    paths = _write_images(tmp_path, [(40, 56)] * 5 + [(33, 47)] + [(40, 56)])
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    paths.insert(3, bad)
    threads, batches = set(), []
    real_load, real_batch = pred.load_image, p.predict_batch

    def spy_load(path):
        threads.add(threading.current_thread().name)
        return real_load(path)

    def spy_batch(images, cancel=None):
        batches.append(len(images))
        return real_batch(images, cancel=cancel)

    monkeypatch.setattr(pred, "load_image", spy_load)
    monkeypatch.setattr(p, "predict_batch", spy_batch)
    progress = []
    results = list(p.predict_paths(paths, batch_size=3, progress=lambda i, n: progress.append((i, n))))
    assert [r[0] for r in results] == paths  # input order
    assert batches == [3, 2, 1, 1]  # img0-2 | broken | img3-4 | img5 (other size) | img6
    assert threads and all(t.startswith("segstudio-decode") for t in threads)
    assert progress[-1] == (8, 8) and len(progress) == 8
    failed = [r for r in results if r[1] is None]
    assert len(failed) == 1 and failed[0][0] == bad and "broken.png" in failed[0][2]
    for path, labels, err in results:
        if path != bad:
            assert err is None and labels.shape == np.asarray(Image.open(path)).shape[:2]
            assert np.array_equal(labels, p.predict(np.asarray(Image.open(path).convert("RGB"))))


def test_predict_paths_cancel(tmp_path):
    model, card = _calibrated("segnet-basic", 0.125)
    p = Predictor(model, card, device="cpu")
    paths = _write_images(tmp_path, [(32, 32)] * 4)
    cancel = threading.Event()
    got = []
    with pytest.raises(Cancelled):
        for path, labels, err in p.predict_paths(paths, batch_size=1, cancel=cancel):
            got.append(path)
            cancel.set()
    assert got == paths[:1]


def test_out_of_memory_falls_back_to_tiles_then_cpu(monkeypatch):
    model, card = _calibrated("segnet-basic", 0.125)
    img = _image(120, 400)
    expected = Predictor(model, card, device="cpu", tile_size=4096).predict(img)
    messages = []
    p = Predictor(model, card, device="cpu", tile_size=1024, tile_overlap=64, on_message=messages.append)
    real = p._forward

    def limited(x):  # simulate an accelerator that cannot take more than 300 px wide inputs
        if x.shape[-1] > 300:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(x)

    monkeypatch.setattr(p, "_forward", limited)
    labels = p.predict(img)
    assert messages == ["out of memory on cpu predicting a 400x120 image; retrying in tiles of 256 px"]
    assert (labels == expected).mean() > 0.9
    assert np.array_equal(labels, Predictor(model, card, device="cpu", tile_size=256, tile_overlap=64).predict(img))

    # An accelerator that cannot even take the smallest tile: the predictor moves to the CPU.
    p2 = Predictor(model, card, device="cpu", on_message=messages.append)
    p2._device = torch.device("meta")  # pretend to be on an accelerator; tensors still run on the CPU
    real2 = p2._forward

    def no_memory(x):
        if p2._device.type != "cpu":
            raise torch.OutOfMemoryError("out of memory")
        return real2(x)

    monkeypatch.setattr(p2, "_forward", no_memory)
    monkeypatch.setattr(p2, "preprocess", lambda images: Predictor.preprocess(p2, images).cpu()
                        if p2._device.type == "cpu" else torch.zeros(1))
    assert np.array_equal(p2.predict(img), expected)
    assert p2.device == "cpu" and "falling back to the CPU" in messages[-1]

    p3 = Predictor(model, card, device="cpu")
    monkeypatch.setattr(p3, "_forward", lambda x: (_ for _ in ()).throw(torch.OutOfMemoryError("oom")))
    with pytest.raises(ModelError, match="out of memory predicting a 400x120 image on the CPU"):
        p3.predict(img)


def test_from_checkpoint_and_mismatched_card(tmp_path):
    model, card = _calibrated("segnet-basic", 0.125, labelset=preset("camvid"))
    path = save_checkpoint(tmp_path / "m", model, card)
    p = Predictor.from_checkpoint(path, device="cpu")
    assert p.labelset == preset("camvid") and p.model.training is False
    assert p.predict(_image(30, 40)).max() < 11
    with pytest.raises(ModelError, match="predicts 11 classes but its card's label set has 21"):
        Predictor(model, make_card("segnet-basic", 0.125, preset("voc")), device="cpu")
    with pytest.raises(ModelError, match="tile size 100 must exceed"):
        Predictor(model, card, device="cpu", tile_size=100)


def test_autocast_and_channels_last_paths_run_and_inference_mode_is_on():
    """The CUDA fast path (autocast + channels_last) exercised on the CPU with bf16."""
    img = _image(64, 96)
    model, card = _calibrated("segnet-basic", 0.125, image=img)
    seen = []
    model.register_forward_pre_hook(lambda m, i: seen.append(
        (torch.is_inference_mode_enabled(), i[0].is_contiguous(memory_format=torch.channels_last))))
    fp32 = Predictor(model, card, device="cpu").predict(img)
    fast = Predictor(model, card, device="cpu", precision="bf16", channels_last=True)
    assert fast.autocast_dtype == torch.bfloat16 and fast.channels_last
    labels = fast.predict(img)
    assert seen == [(True, False), (True, True)]
    assert labels.shape == fp32.shape and (labels == fp32).mean() > 0.7
    with pytest.raises(ModelError, match="precision"):
        Predictor(model, card, device="cpu", precision="int8")


def test_input_resize_from_the_card_predicts_at_reduced_size_and_returns_full_size(tmp_path):
    import cv2

    torch.manual_seed(0)
    model = build_model("segnet-basic", 5, width=0.125).eval()
    card = make_card("segnet-basic", 0.125, LS5)
    card["input"]["resize"] = 0.5
    image = _image(48, 64)
    labels, probs = Predictor(model, card, device="cpu").predict(image, return_probs=True)
    assert labels.shape == (48, 64) and probs.shape == (5, 48, 64)
    # Same as running the network on the half-size image and upsampling its probabilities.
    small = cv2.resize(image, (32, 24), interpolation=cv2.INTER_AREA)
    plain = dict(card, input=dict(card["input"], resize=1.0))
    _, small_probs = Predictor(model, plain, device="cpu").predict(small, return_probs=True)
    up = torch.nn.functional.interpolate(torch.from_numpy(small_probs)[None], size=(48, 64), mode="bilinear",
                                         align_corners=False)[0]
    assert np.allclose(probs, up.numpy(), atol=1e-6)
    assert (labels == up.argmax(0).numpy()).all()
    # predict_batch and the card check agree with it.
    assert (Predictor(model, card, device="cpu").predict_batch([image])[0] == labels).all()
    card["input"]["resize"] = 0
    with pytest.raises(ModelError, match="input.resize"):
        Predictor(model, card, device="cpu")


@pytest.mark.slow
def test_confidence_of_a_tiled_image_is_taken_tile_by_tile_and_equals_the_whole_image_margin():
    img = _image(150, 700)
    model, card = _calibrated("segnet", 0.0625, image=img[:, :300])
    whole_labels, probs = Predictor(model, card, device="cpu", tile_size=4096).predict(img, return_probs=True)
    top2 = np.sort(probs, axis=0)[-2:]
    expected = np.clip(top2[1] - top2[0], 0, 1)
    tiled = Predictor(model, card, device="cpu", tile_size=512)
    labels, conf = tiled.predict_confidence(img, scale=1.0)
    assert conf is not None and conf.shape == img.shape[:2] and conf.dtype == np.float32
    assert np.mean(labels == whole_labels) > 0.999
    assert np.abs(conf - expected).max() < 1e-4
