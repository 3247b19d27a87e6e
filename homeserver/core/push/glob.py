"""Glob matching for push rules, in time linear in the pattern times the value.

spec: appendices.md, "Glob-style matching" (``*`` is zero or more characters, ``?``
exactly one); push.md, ``event_match`` (case-insensitive; for ``content.body`` any
substring that starts and ends at a word boundary).

A glob turned into a regex with ``.*`` backtracks catastrophically (``a*a*a*b`` on a
64 KiB body takes hours), and push rules are user input evaluated while an event is
being persisted. So a glob is split at its stars into fixed-length segments (literals
and ``?``), which are placed greedily leftmost: the leftmost placement of each
segment leaves the most room for the ones after it, so it finds a match whenever one
exists. Each segment is a quantifier-free regex, which cannot backtrack. Globs without
wildcards (most of them: types, user names, display names) skip regexes altogether.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORD_CHAR = "A-Za-z0-9_"  # spec: a word boundary is any character not in these sets
_BOUNDARY_BEFORE = f"(?<![{_WORD_CHAR}])"
_BOUNDARY_AFTER = f"(?![{_WORD_CHAR}])"
_FLAGS = re.IGNORECASE | re.DOTALL
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

# Lower-cased values, reused while one event is evaluated for every member of a room.
_lower = lru_cache(maxsize=256)(str.lower)


def contains_word(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` between word boundaries, case-insensitively."""
    haystack, needle = _lower(text), _lower(word)
    start = 0
    while True:
        i = haystack.find(needle, start)
        if i < 0:
            return False
        end = i + len(needle)
        if (i == 0 or haystack[i - 1] not in _WORD_CHARS) and (
            end == len(haystack) or haystack[end] not in _WORD_CHARS
        ):
            return True
        start = i + 1
        if start > len(haystack):
            return False


def _segment_regex(segment: str) -> str:
    return "".join("." if c == "?" else re.escape(c) for c in segment)


@dataclass(frozen=True, slots=True)
class CompiledGlob:
    segments: tuple[str, ...]  # the glob split at '*' (so len >= 1; empty strings allowed)
    # Whole-value matching.
    exact: re.Pattern[str] | None  # the glob has no '*'
    first: re.Pattern[str]  # segments[0], anchored by match()
    middles: tuple[re.Pattern[str], ...]  # the non-empty inner segments
    last: re.Pattern[str]  # segments[-1] at the end of the value
    # Word-boundary substring matching (content.body).
    word_exact: re.Pattern[str] | None
    word_first: re.Pattern[str]  # segments[0] starting at a word boundary
    word_last: re.Pattern[str]  # segments[-1] ending at a word boundary


@lru_cache(maxsize=4096)
def compile_glob(glob: str) -> CompiledGlob:
    segments = tuple(glob.split("*"))
    parts = [_segment_regex(s) for s in segments]
    single = len(segments) == 1
    return CompiledGlob(
        segments=segments,
        exact=re.compile(parts[0], _FLAGS) if single else None,
        first=re.compile(parts[0], _FLAGS),
        middles=tuple(re.compile(p, _FLAGS) for p in parts[1:-1] if p),
        last=re.compile(parts[-1] + r"\Z", _FLAGS),
        word_exact=re.compile(_BOUNDARY_BEFORE + parts[0] + _BOUNDARY_AFTER, _FLAGS) if single else None,
        word_first=re.compile(_BOUNDARY_BEFORE + parts[0], _FLAGS),
        word_last=re.compile(parts[-1] + _BOUNDARY_AFTER, _FLAGS),
    )


def _place_middles(compiled: CompiledGlob, value: str, pos: int, endpos: int) -> int | None:
    """Place the inner segments leftmost from ``pos``; the position after the last, or None."""
    for middle in compiled.middles:
        found = middle.search(value, pos, endpos)
        if found is None:
            return None
        pos = found.end()
    return pos


def glob_matches(glob: str, value: str, *, word_boundary: bool = False) -> bool:
    """Whether ``glob`` matches all of ``value`` (or, with ``word_boundary``, a word-bounded substring)."""
    if "*" not in glob and "?" not in glob:
        if word_boundary:
            return contains_word(value, glob)
        return _lower(value) == _lower(glob)
    compiled = compile_glob(glob)
    if word_boundary:
        return _matches_between_boundaries(compiled, value)
    if compiled.exact is not None:
        return compiled.exact.fullmatch(value) is not None
    head = compiled.first.match(value)
    if head is None:
        return False
    # The last segment has a fixed length: it must sit at the very end, after the head.
    tail_start = len(value) - len(compiled.segments[-1])
    if tail_start < head.end() or compiled.last.match(value, tail_start) is None:
        return False
    return _place_middles(compiled, value, head.end(), tail_start) is not None


def _matches_between_boundaries(compiled: CompiledGlob, value: str) -> bool:
    if compiled.word_exact is not None:
        return compiled.word_exact.search(value) is not None
    # The leftmost start that fits leaves the most room for the rest (the start of the
    # value is a boundary, so an empty first segment starts at 0).
    head = compiled.word_first.search(value)
    if head is None:
        return False
    pos = _place_middles(compiled, value, head.end(), len(value))
    if pos is None:
        return False
    # The end of the value is a boundary, so an empty last segment always fits.
    return compiled.word_last.search(value, pos) is not None
