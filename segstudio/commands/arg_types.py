"""argparse types for the numeric options of the commands: a bad value (0, negative, NaN, inf, huge)
is refused by argparse itself, as `segstudio CMD: error: argument --X: ...` with exit status 2, before
any model is loaded (bounds from core.limits)."""

from __future__ import annotations

import argparse

from segstudio.core.limits import count_problem, positive_problem, scale_problem


def scale(text: str) -> float:
    """--scale: a number from MIN_SCALE to MAX_SCALE."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    problem = scale_problem(value, shown=repr(text))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def count(low: int = 1, high: int = 1 << 16, what: str = "value"):
    """A type for a whole number from `low` to `high` (threads, images per batch, pixels)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        problem = count_problem(value, what, low, high)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value
    parse.__name__ = what  # argparse names the type in its messages
    return parse


def positive(what: str):
    """A type for a positive, finite number (a frame rate)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        problem = positive_problem(value, what)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value
    parse.__name__ = what
    return parse
