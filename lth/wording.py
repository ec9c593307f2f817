"""Numbers in the book's sentences: counts with their noun in the right number.

Kept apart from the chapter modules so that text-only modules (``lth.seed.report``, ``lth.stats``,
``lth.plots``) can use it without importing TensorFlow through them.
"""
from __future__ import annotations


def count(n, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1, with thousands separators: "1 trial", "1,200 runs"."""
    n = int(n)
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"
