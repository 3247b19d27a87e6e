"""Glob matching for push rules: agrees with a backtracking reference and stays fast on
patterns that make a regex backtrack catastrophically.

spec: appendices.md, "Glob-style matching"; push.md, event_match on content.body.
"""

from __future__ import annotations

import random
import re
import time

import pytest

from homeserver.core.push.glob import glob_matches


def reference(glob: str, value: str, word_boundary: bool) -> bool:
    """The obvious regex translation: right, but exponential on hostile input."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    if word_boundary:
        return re.search(f"(?<![A-Za-z0-9_]){body}(?![A-Za-z0-9_])", value, re.I | re.S) is not None
    return re.fullmatch(body, value, re.I | re.S) is not None


@pytest.mark.parametrize("word_boundary", [False, True])
def test_agrees_with_the_reference_on_random_cases(word_boundary: bool) -> None:
    rng = random.Random(1234)
    for _ in range(5000):
        glob = "".join(rng.choice("ab*?- ") for _ in range(rng.randint(0, 6)))
        value = "".join(rng.choice("abAB- _") for _ in range(rng.randint(0, 10)))
        assert glob_matches(glob, value, word_boundary=word_boundary) == reference(glob, value, word_boundary), (
            glob, value, word_boundary)


@pytest.mark.parametrize(
    ("glob", "value", "word_boundary", "expected"),
    [
        ("*", "", False, True),
        ("**", "x", False, True),
        ("a*b*c", "aXXbYYc", False, True),
        ("a*b*c", "aXXcYYb", False, False),
        ("a*a", "a", False, False),  # head and tail may not overlap
        ("*cake*", "I like cake.", False, True),
        ("cake*lie", "the cake is a lie", True, True),
        ("cake*lie", "the cake is a liar", True, False),
        ("*lie", "a lie!", True, True),
        ("ex*", "text", True, False),
        ("x", "a\nx", True, True),
        ("a?c", "A\nC", False, True),  # '?' matches any character, newline too
    ],
)
def test_glob_table(glob: str, value: str, word_boundary: bool, expected: bool) -> None:
    assert glob_matches(glob, value, word_boundary=word_boundary) is expected


@pytest.mark.parametrize("word_boundary", [False, True])
def test_hostile_pattern_is_fast(word_boundary: bool) -> None:
    body = "a" * 65536  # the largest event body
    start = time.perf_counter()
    assert not glob_matches("a*a*a*a*a*a*a*b", body, word_boundary=word_boundary)
    assert not glob_matches("*a?*a?*a?*" + "b", body, word_boundary=word_boundary)
    assert time.perf_counter() - start < 1.0
