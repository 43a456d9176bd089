"""Colour palettes: the Pascal VOC "bitget" colormap and palette byte strings."""

from __future__ import annotations


def voc_color(index: int) -> tuple[int, int, int]:
    """Colour of `index` in the VOC devkit's bitget colormap (labelcolormap.m)."""
    r = g = b = 0
    c = index
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return r, g, b


def voc_colormap(n: int = 256) -> list[tuple[int, int, int]]:
    """The first `n` colours of the VOC colormap."""
    return [voc_color(i) for i in range(n)]


def palette_bytes(colors: list[tuple[int, int, int]]) -> bytes:
    """768-byte PNG palette: `colors` first, the VOC colormap for the rest."""
    full = voc_colormap(256)
    full[: len(colors)] = colors
    return bytes(v for rgb in full for v in rgb)
