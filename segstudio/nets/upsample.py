"""From a network's low-resolution output to labels (and confidence) at the image's size, in numpy/OpenCV.

The predictor runs a model on an image resized to its working scale and brings
the prediction back by upsampling the softmax probabilities bilinearly
(half-pixel centres, as torch's `interpolate(align_corners=False)` and
OpenCV's INTER_LINEAR) and taking the argmax. Done here on one thread with
OpenCV on an H,W,K array, this costs a tenth of the same work in torch on a
CPU (measured with benchmarks/bench_inference.py), whose thread pool also
stalls when other processes hold the cores. No Qt, no torch.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Above this many output values (K x H x W), probabilities are not upsampled as one
#: array (memory): the argmax is taken class by class instead.
MAX_UPSAMPLED_VALUES = 64_000_000


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 of K,h,w float32 logits."""
    e = np.exp(logits - logits.max(axis=0, keepdims=True), dtype=np.float32)
    e /= e.sum(axis=0, keepdims=True)
    return e


def margin(hwk: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """p(best) - p(second best) per pixel of H,W,K probabilities, float32 in [0, 1] (`labels` is
    their argmax; the second best is kept as a running maximum, without a copy of `hwk`)."""
    if hwk.shape[2] < 2:
        return np.ones(hwk.shape[:2], np.float32)
    best = np.take_along_axis(hwk, labels[..., None].astype(np.intp), axis=2)[..., 0]
    second = np.full(hwk.shape[:2], -1.0, np.float32)
    for c in range(hwk.shape[2]):
        plane = hwk[..., c]
        np.maximum(second, np.where(labels == c, -1.0, plane), out=second)
    return np.clip(best - second, 0.0, 1.0)


def upsample(probs: np.ndarray, h: int, w: int, with_probs: bool = False, with_margin: bool = False):
    """Labels HxW uint8 from K,h0,w0 probabilities upsampled bilinearly to h x w, and
    (`with_probs`) the K,H,W probabilities or (`with_margin`) the HxW margin (else None)."""
    k = probs.shape[0]
    if k * h * w > MAX_UPSAMPLED_VALUES and not with_probs:
        return upsampled_argmax(probs, h, w, with_margin)
    hwk = cv2.resize(np.ascontiguousarray(probs.transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_LINEAR)
    hwk = hwk.reshape(h, w, k)  # OpenCV drops a single channel's axis
    labels = hwk.argmax(axis=2).astype(np.uint8)
    if with_probs:
        return labels, np.ascontiguousarray(hwk.transpose(2, 0, 1))
    return labels, (margin(hwk, labels) if with_margin else None)


def upsampled_argmax(probs: np.ndarray, h: int, w: int, with_margin: bool = False):
    """(labels, margin or None) from the bilinearly upsampled probabilities, one class at a time
    (memory: three h x w float32 planes and the labels, not K planes)."""
    best = cv2.resize(np.ascontiguousarray(probs[0]), (w, h), interpolation=cv2.INTER_LINEAR)
    second = np.full((h, w), -1.0, np.float32) if with_margin else None
    labels = np.zeros((h, w), np.uint8)
    for c in range(1, probs.shape[0]):
        plane = cv2.resize(np.ascontiguousarray(probs[c]), (w, h), interpolation=cv2.INTER_LINEAR)
        better = plane > best
        labels[better] = c
        if second is not None:
            np.maximum(second, np.minimum(plane, best), out=second)
        np.maximum(best, plane, out=best)
    if second is None:
        return labels, None
    return labels, (np.clip(best - second, 0.0, 1.0) if probs.shape[0] > 1 else np.ones((h, w), np.float32))
