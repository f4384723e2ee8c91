"""A number of things in a message, its noun singular for one: "1 image", "3 images"."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, plural unless ``count`` is 1 (``plural`` where the noun does
    not just take an "s": ``counted(n, "query", "queries")``)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
