"""Label sets: class names, colours and the ignore index of a segmentation task.

A label map is a uint8 array whose values 0..K-1 are classes and whose value
`ignore_index` (outside that range) means "unlabelled / void". Presets cover
Pascal VOC and CamVid; label sets are saved as JSON and can be read from VOC
`class_names.txt` and CVAT `labelmap.txt` files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LabelSetError
from .palette import palette_bytes, voc_color

Color = tuple[int, int, int]

MAX_CLASSES = 255
FORMAT_NAME = "segstudio.labelset"
FORMAT_VERSION = 1

VOC_CLASSES = (
    "background aeroplane bicycle bird boat bottle bus car cat chair cow "
    "diningtable dog horse motorbike person pottedplant sheep sofa train tvmonitor"
).split()

CAMVID_CLASSES = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol",
    "Fence", "Car", "Pedestrian", "Bicyclist",
)
CAMVID_COLORS: tuple[Color, ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128),
    (60, 40, 222), (128, 128, 0), (192, 128, 128), (64, 64, 128),
    (64, 0, 128), (64, 64, 0), (0, 128, 192),
)


@dataclass(frozen=True)
class LabelSet:
    """Immutable, validated description of the classes of a task."""

    names: tuple[str, ...]
    colors: tuple[Color, ...]
    ignore_index: int = 255
    ignore_color: Color = (0, 0, 0)
    name: str = ""
    _index: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = tuple(self.names)
        colors = tuple(_check_color(c, f"colour of class {i}") for i, c in enumerate(self.colors))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "colors", colors)
        object.__setattr__(self, "ignore_color", _check_color(self.ignore_color, "ignore colour"))
        _validate(self)
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def index_of(self, name: str) -> int:
        """Class index of `name`; raises KeyError naming the unknown class."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown class {name!r}; the label set has: {', '.join(self.names)}") from None

    def get_index(self, name: str) -> int | None:
        return self._index.get(name)

    def palette(self) -> bytes:
        """768-byte PNG palette: class colours, the ignore colour, VOC colours elsewhere."""
        colors = [voc_color(i) for i in range(256)]
        colors[: self.num_classes] = self.colors
        colors[self.ignore_index] = self.ignore_color
        return palette_bytes(colors)

    def color_table(self) -> list[Color]:
        """256 RGB entries, the palette as tuples."""
        p = self.palette()
        return [(p[3 * i], p[3 * i + 1], p[3 * i + 2]) for i in range(256)]

    # --- serialisation -------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "classes": [{"name": n, "color": list(c)} for n, c in zip(self.names, self.colors)],
            "ignore_index": self.ignore_index,
            "ignore_color": list(self.ignore_color),
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "label set") -> LabelSet:
        if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
            raise LabelSetError(f"{source}: expected an object with a 'classes' list")
        names, colors = [], []
        for i, entry in enumerate(data["classes"]):
            if isinstance(entry, str):
                names.append(entry)
                colors.append(voc_color(i))
            elif isinstance(entry, dict) and "name" in entry:
                names.append(entry["name"])
                colors.append(parse_color(entry.get("color", voc_color(i)), f"{source}: class {entry['name']!r}"))
            else:
                raise LabelSetError(f"{source}: class entry {i} must be a name or {{'name', 'color'}}")
        try:
            return cls(
                names=tuple(names),
                colors=tuple(colors),
                ignore_index=data.get("ignore_index", 255),
                ignore_color=parse_color(data.get("ignore_color", (0, 0, 0)), f"{source}: ignore_color"),
                name=str(data.get("name", "")),
            )
        except LabelSetError as e:
            raise LabelSetError(f"{source}: {e}") from None

    def save(self, path: str | Path) -> None:
        from .atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def to_class_names_txt(self) -> str:
        return "".join(n + "\n" for n in self.names)

    def to_cvat_labelmap(self) -> str:
        """CVAT "Segmentation mask 1.1" labelmap.txt text."""
        lines = ["# label:color_rgb:parts:actions"]
        lines += [f"{n}:{r},{g},{b}::" for n, (r, g, b) in zip(self.names, self.colors)]
        return "\n".join(lines) + "\n"


# --- validation --------------------------------------------------------------
def _check_color(value, what: str) -> Color:
    return parse_color(value, what)


def parse_color(value, what: str = "colour") -> Color:
    """Accept (r, g, b) sequences of ints 0..255 or '#rrggbb' strings."""
    if isinstance(value, str):
        m = re.fullmatch(r"#?([0-9a-fA-F]{6})", value.strip())
        if not m:
            raise LabelSetError(f"{what}: bad colour {value!r} (expected '#rrggbb' or [r, g, b])")
        h = m.group(1)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    try:
        items = tuple(value)
    except TypeError:
        raise LabelSetError(f"{what}: bad colour {value!r} (expected [r, g, b])") from None
    if len(items) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise LabelSetError(f"{what}: bad colour {value!r} (expected three integers)")
    if not all(0 <= v <= 255 for v in items):
        raise LabelSetError(f"{what}: bad colour {value!r} (components must be 0..255)")
    return items  # type: ignore[return-value]


def _validate(ls: LabelSet) -> None:
    k = len(ls.names)
    if k == 0:
        raise LabelSetError("a label set needs at least one class")
    if k > MAX_CLASSES:
        raise LabelSetError(f"{k} classes is more than the {MAX_CLASSES} a uint8 label map can hold with an ignore index")
    if len(ls.colors) != k:
        raise LabelSetError(f"{k} class names but {len(ls.colors)} colours")
    seen: dict[str, int] = {}
    for i, n in enumerate(ls.names):
        if not isinstance(n, str) or not n.strip():
            raise LabelSetError(f"class {i} has an empty name")
        if n != n.strip():
            raise LabelSetError(f"class {i} name {n!r} has leading or trailing spaces")
        if n in seen:
            raise LabelSetError(f"duplicate class name {n!r} (classes {seen[n]} and {i})")
        seen[n] = i
    ig = ls.ignore_index
    if not isinstance(ig, int) or isinstance(ig, bool) or not 0 <= ig <= 255:
        raise LabelSetError(f"ignore index {ig!r} must be an integer 0..255")
    if ig < k:
        raise LabelSetError(
            f"ignore index {ig} lies inside the class range 0..{k - 1}; it must be {k}..255"
        )


# --- presets and readers -----------------------------------------------------
def voc() -> LabelSet:
    return LabelSet(
        names=tuple(VOC_CLASSES),
        colors=tuple(voc_color(i) for i in range(len(VOC_CLASSES))),
        ignore_index=255,
        ignore_color=voc_color(255),
        name="voc",
    )


def camvid() -> LabelSet:
    return LabelSet(names=CAMVID_CLASSES, colors=CAMVID_COLORS, ignore_index=11, ignore_color=(0, 0, 0), name="camvid")


PRESETS = {"voc": voc, "camvid": camvid}


def preset(name: str) -> LabelSet:
    try:
        return PRESETS[name.lower()]()
    except KeyError:
        raise LabelSetError(f"unknown label-set preset {name!r}; presets: {', '.join(PRESETS)}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelSetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LabelSetError(f"{path}: cannot read ({e})") from None


def read_class_names(path: str | Path, ignore_index: int = 255) -> LabelSet:
    """VOC-style class_names.txt: one class per line, index = line number."""
    path = Path(path)
    names = [ln.strip() for ln in _read_text(path).splitlines()]
    while names and not names[-1]:
        names.pop()
    try:
        return LabelSet(
            names=tuple(names),
            colors=tuple(voc_color(i) for i in range(len(names))),
            ignore_index=ignore_index,
            ignore_color=voc_color(ignore_index),
            name=path.stem,
        )
    except LabelSetError as e:
        raise LabelSetError(f"{path}: {e}") from None


def read_cvat_labelmap(path: str | Path, ignore_index: int = 255) -> LabelSet:
    """CVAT / Pascal VOC 1.1 export `labelmap.txt`: `name:R,G,B:parts:actions` lines."""
    path = Path(path)
    names, colors = [], []
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 2:
            raise LabelSetError(f"{path}:{lineno}: expected 'name:R,G,B::', got {line!r}")
        try:
            rgb = tuple(int(v) for v in parts[1].split(","))
        except ValueError:
            raise LabelSetError(f"{path}:{lineno}: bad colour {parts[1]!r}") from None
        color = parse_color(rgb, f"{path}:{lineno}")
        # datumaro's `ignored:224,224,192::` (segstudio's VOC export writes it) declares void, not a class
        if parts[0].strip().lower() in ("ignored", "void") and color == voc_color(ignore_index):
            continue
        names.append(parts[0].strip())
        colors.append(color)
    try:
        return LabelSet(names=tuple(names), colors=tuple(colors), ignore_index=ignore_index,
                        ignore_color=voc_color(ignore_index), name=path.stem)
    except LabelSetError as e:
        raise LabelSetError(f"{path}: {e}") from None


def load_labelset_json(path: str | Path) -> LabelSet:
    from .safe_json import UnsafeJsonError, load_json_file

    path = Path(path)
    try:  # size and nesting limits: a hostile file is an error message, not a RecursionError
        data = load_json_file(path, max_bytes=16 << 20)
    except UnsafeJsonError as e:
        raise LabelSetError(str(e)) from None
    return LabelSet.from_dict(data, source=str(path))


def resolve_labelset(spec: str | Path | LabelSet) -> LabelSet:
    """A preset name (`voc`, `camvid`), or a .json / labelmap.txt / class_names.txt file."""
    if isinstance(spec, LabelSet):
        return spec
    s = str(spec)
    if s.lower() in PRESETS:
        return preset(s)
    path = Path(s)
    if not path.exists():
        raise LabelSetError(f"{s!r} is neither a label-set preset ({', '.join(PRESETS)}) nor an existing file")
    if path.suffix.lower() == ".json":
        return load_labelset_json(path)
    text = _read_text(path)
    if any(":" in ln and not ln.lstrip().startswith("#") for ln in text.splitlines() if ln.strip()):
        return read_cvat_labelmap(path)
    return read_class_names(path)
