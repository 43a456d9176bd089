"""Matching class names of imported annotations to a label set, and what an import reports.

`ClassMapper` resolves a source name in this order: an explicit mapping
(`{"src": "dst" | "ignore"}`), the exact name, a unique case-insensitive
match, then background-like names (background, _background_, void, ...)
become the ignore index when the label set has no such class. Anything else is
unknown: counted, and the import stops (`UnknownClassesError`) unless the
caller skips unknown classes. `ImportSummary` is what every import returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SegstudioError
from ..labels import LabelSet


@dataclass
class ImportSummary:
    """What an import wrote, skipped and could not map."""

    out_dir: Path
    written: list[str] = field(default_factory=list)  # stems of masks written
    skipped: dict[str, str] = field(default_factory=dict)  # source -> reason
    unknown: dict[str, int] = field(default_factory=dict)  # class name -> shapes / pixels skipped
    to_unlabelled: dict[str, int] = field(default_factory=dict)  # background-like names mapped to ignore
    mapped: dict[str, str] = field(default_factory=dict)  # source name -> label-set name
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{len(self.written)} mask(s) written to {self.out_dir}"]
        for name, n in sorted(self.unknown.items()):
            out.append(f"unknown class {name!r}: {n} skipped (not in the label set)")
        for name, n in sorted(self.to_unlabelled.items()):
            out.append(f"{name!r}: {n} mapped to unlabelled (the label set has no such class)")
        for src, dst in sorted(self.mapped.items()):
            out.append(f"class {src!r} imported as {dst!r}")
        for src, why in sorted(self.skipped.items()):
            out.append(f"skipped {src}: {why}")
        out.extend(self.notes)
        return out


class UnknownClassesError(SegstudioError):
    """Imported annotations use class names the label set does not have."""

    def __init__(self, unknown: dict[str, int], source: str | Path, labelset: LabelSet, unit: str = "annotations"):
        self.unknown = dict(unknown)
        names = ", ".join(f"{n!r} ({c} {unit})" for n, c in sorted(unknown.items()))
        super().__init__(
            f"{source}: class name(s) not in label set {labelset.name or '(unnamed)'}: {names}. "
            f"Known classes: {', '.join(labelset.names)}. Map them (--map SRC=DST, DST may be 'ignore') "
            "or skip them (--skip-unknown)."
        )


BACKGROUND_NAMES = frozenset({"background", "_background_", "__background__", "bg", "void", "unlabelled", "unlabeled"})


class ClassMapper:
    """Resolves class names from imported files to label-set indices.

    Order: an explicit mapping (`{"src": "dst" | "ignore"}`), the exact name, a
    unique case-insensitive match, then background-like names (background,
    _background_, void, ...) become the ignore index when the label set has no
    such class. Anything else is unknown: counted, and its annotations skipped.
    """

    def __init__(self, labelset: LabelSet, mapping: dict[str, str] | None = None):
        self.labelset = labelset
        self.mapping = dict(mapping or {})
        self.unknown: dict[str, int] = {}
        self.to_unlabelled: dict[str, int] = {}
        self.mapped: dict[str, str] = {}
        lower: dict[str, list[str]] = {}
        for n in labelset.names:
            lower.setdefault(n.lower(), []).append(n)
        self._lower = lower
        for src, dst in self.mapping.items():
            if dst.lower() not in ("ignore", "unlabelled", "unlabeled") and labelset.get_index(dst) is None:
                raise SegstudioError(f"mapping {src}={dst}: {dst!r} is not a class of the label set "
                                     f"({', '.join(labelset.names)}) nor 'ignore'")

    def index(self, name: str, count: int = 1) -> int | None:
        """Label-set index for `name` (the ignore index for unlabelled), or None if unknown."""
        ls = self.labelset
        if name in self.mapping:
            dst = self.mapping[name]
            if dst.lower() in ("ignore", "unlabelled", "unlabeled"):
                self.to_unlabelled[name] = self.to_unlabelled.get(name, 0) + count
                return ls.ignore_index
            self.mapped[name] = dst
            return ls.index_of(dst)
        i = ls.get_index(name)
        if i is not None:
            return i
        matches = self._lower.get(str(name).lower(), [])
        if len(matches) == 1:
            self.mapped[name] = matches[0]
            return ls.index_of(matches[0])
        if str(name).lower() in BACKGROUND_NAMES:
            self.to_unlabelled[name] = self.to_unlabelled.get(name, 0) + count
            return ls.ignore_index
        self.unknown[name] = self.unknown.get(name, 0) + count
        return None

    def fill_summary(self, summary: ImportSummary) -> None:
        summary.unknown.update(self.unknown)
        summary.to_unlabelled.update(self.to_unlabelled)
        summary.mapped.update(self.mapped)


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """`["old=new", "x=ignore"]` -> {"old": "new", "x": "ignore"}."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SegstudioError(f"bad class mapping {item!r}: expected SRC=DST")
        src, dst = item.split("=", 1)
        out[src.strip()] = dst.strip()
    return out
