"""Sliding-window geometry for predicting images larger than a tile.

Tiles overlap, and each output pixel is taken from exactly one tile: the one
whose window it sits deepest in (the boundary between two tiles is the middle
of their overlap). Tile starts are multiples of the network's output stride,
so every tile sees the same pooling grid as the whole image; a pixel then gets
exactly the whole-image result whenever half the overlap covers the network's
receptive field, and nearly so otherwise. Tiles touching the image border end
exactly on it, so border pixels see the same zero padding as untiled.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int  # window [start, end) fed to the network
    end: int
    own_start: int  # the part [own_start, own_end) of the output taken from this window
    own_end: int


def spans(length: int, tile: int, overlap: int, align: int = 1) -> list[Span]:
    """1-D windows of at most `tile` covering [0, length), overlapping by at least `overlap`."""
    if length <= tile:
        return [Span(0, length, 0, length)]
    step = ((tile - overlap) // align) * align
    if step <= 0:
        raise ValueError(f"tile size {tile} is too small for an overlap of {overlap} "
                         f"(need at least {overlap + align})")
    starts = [0]
    while starts[-1] + tile < length:
        starts.append(starts[-1] + step)
    ends = [min(s + tile, length) for s in starts]
    bounds = [0] + [(starts[i] + ends[i - 1]) // 2 for i in range(1, len(starts))] + [length]
    return [Span(s, e, bounds[i], bounds[i + 1]) for i, (s, e) in enumerate(zip(starts, ends))]


def tiles(height: int, width: int, tile: int, overlap: int, align: int = 1) -> list[tuple[Span, Span]]:
    """(row span, column span) of every tile of an image, row by row."""
    return [(r, c) for r in spans(height, tile, overlap, align) for c in spans(width, tile, overlap, align)]


def same_shape_groups(grid, batch_size: int):
    """Consecutive tiles of equal size, at most `batch_size` per group."""
    group = []
    for rc in grid:
        shape = (rc[0].end - rc[0].start, rc[1].end - rc[1].start)
        if group and (len(group) == batch_size or shape != (group[0][0].end - group[0][0].start,
                                                            group[0][1].end - group[0][1].start)):
            yield group
            group = []
        group.append(rc)
    if group:
        yield group
