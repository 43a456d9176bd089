"""Reading JSON that came from elsewhere with limits on its size and nesting depth.

Python's JSON decoder recurses once per nested array or object, so a file of
100 000 `[` ends in a RecursionError traceback instead of a message, and a
multi-gigabyte file is read into memory whole. `load_json_file` checks the
size before reading and the nesting depth before parsing (brackets inside
strings are not counted), and turns every failure into a SegstudioError that
names the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import SegstudioError

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: COCO's largest official file is ~450 MB
DEFAULT_MAX_DEPTH = 64  # COCO and labelme need 5


class UnsafeJsonError(SegstudioError, ValueError):
    """A JSON file is unreadable, too large, or nested too deeply."""




_CHUNK = 1 << 24


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays/objects in JSON text (brackets inside strings ignored).

    Escaped backslashes and quotes are blanked first (bytes.replace pairs them
    left to right, as a JSON reader does), so every quote left opens or closes
    a string; a bracket is inside a string when an odd number of quotes
    precede it. Counted in chunks with numpy: memory stays a small multiple of
    the chunk, time a fraction of json.loads'.
    """
    clean = raw.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    deepest = depth = quotes_before = 0
    for start in range(0, len(clean), _CHUNK):
        a = np.frombuffer(clean, np.uint8, count=min(_CHUNK, len(clean) - start), offset=start)
        quotes = np.flatnonzero(a == 34)
        opens = (a == 91) | (a == 123)
        where = np.flatnonzero(opens | (a == 93) | (a == 125))
        if len(where):
            outside = (quotes_before + np.searchsorted(quotes, where)) % 2 == 0
            where = where[outside]
            steps = np.where(opens[where], 1, -1).astype(np.int64)
            if len(steps):
                running = np.cumsum(steps) + depth
                deepest = max(deepest, int(running.max()))
                depth = int(running[-1])
        quotes_before += len(quotes)
    return deepest


def loads_checked(raw: bytes, source: str | Path, max_depth: int = DEFAULT_MAX_DEPTH):
    """Parse JSON bytes (UTF-8, a BOM allowed) after checking their nesting depth."""
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise UnsafeJsonError(f"{source}: JSON nested {depth} levels deep (the limit is {max_depth}); "
                              "refused as malformed or hostile")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnsafeJsonError(f"{source}: not UTF-8 text ({e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UnsafeJsonError(f"{source}: not valid JSON ({e})") from None
    except RecursionError:  # a depth below our limit but above Python's recursion limit
        raise UnsafeJsonError(f"{source}: JSON nested too deeply to parse") from None


def load_json_file(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH):
    """The parsed content of a JSON file, refusing files over `max_bytes` or nested over `max_depth`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsafeJsonError(f"{path}: {size:,} bytes, more than the {max_bytes:,} accepted for a JSON file")
        with open(path, "rb") as f:
            raw = f.read(size + 1)  # read(n) reserves n bytes: ask for what stat promised
    except FileNotFoundError:
        raise UnsafeJsonError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnsafeJsonError(f"{path}: is a folder, not a JSON file") from None
    except OSError as e:
        raise UnsafeJsonError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(raw) > size:
        raise UnsafeJsonError(f"{path}: the file grew while it was read; try again when it is complete")
    return loads_checked(raw, path, max_depth)
