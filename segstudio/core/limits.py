"""Bounds on numbers a user gives (command-line options, settings), shared by the CLI, the studio and
the networks so that each value is refused, with the same message, before any work starts.

No torch, no Qt: the command line checks its options here before importing the networks.
"""

from __future__ import annotations

import math

#: A prediction scale (the factor images are resized by before the network; 1 = their own size).
MIN_SCALE, MAX_SCALE = 0.01, 8.0


def scale_problem(value, shown: str | None = None) -> str | None:
    """Why `value` is not a usable prediction scale (None if it is one); the message quotes `shown`
    (what the user typed) when given."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not MIN_SCALE <= number <= MAX_SCALE:  # NaN fails every comparison
        return (f"scale must be a number from {MIN_SCALE:g} to {MAX_SCALE:g} (1 = the image's own size), "
                f"got {shown if shown is not None else repr(value)}")
    return None


def count_problem(value, name: str, low: int = 1, high: int = 1 << 16) -> str | None:
    """Why `value` is not a whole number from `low` to `high` for the option `name` (None if it is)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{name} must be a whole number from {low} to {high}, got {value!r}"
    return None


def positive_problem(value, name: str) -> str | None:
    """Why `value` is not a positive, finite number for the option `name` (None if it is)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        return f"{name} must be a positive number, got {value!r}"
    return None
