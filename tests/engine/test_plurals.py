"""Numbers of things in messages: the noun singular for one only."""

from __future__ import annotations

from sagan_engine.plurals import counted


def test_one_thing_is_singular_and_any_other_number_plural():
    assert [counted(n, "image") for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]
    assert counted(1, "query", "queries") == "1 query"
    assert counted(3, "query", "queries") == "3 queries"
