"""Checking a COCO run-length-encoded (RLE) mask without decoding it into pixels.

A COCO RLE mask is ``{"counts": ..., "size": [height, width]}``: run lengths of alternating
0s and 1s (starting with 0s) over the image in column-major order, so they add up to
``height * width``. ``counts`` is either a list of those lengths, or their compressed text form:
each length is written in 5-bit groups, least significant first, one character per group
(``chr(48 + group)``, bit 5 set when another group follows, bit 4 of the last group the sign),
and from the fourth length on the text holds the difference to the length two places before.

pycocotools reads a malformed string without complaint and fails later (``annToMask`` raises
or draws garbage), so a mask is checked on the way in and refused with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["rle_problem"]

_FIRST_CHAR = 48  # "0"
_LAST_CHAR = _FIRST_CHAR + 63  # "o": six bits per character


def _decoded_counts(text: str) -> list[int] | str:
    # The run lengths of a compressed counts string, or what is wrong with it.
    counts: list[int] = []
    value = shift = 0
    more = False
    for position, char in enumerate(text):
        code = ord(char)
        if not _FIRST_CHAR <= code <= _LAST_CHAR:
            return f"character {char!r} at {position} is not an RLE digit ('0'..'o')"
        group = code - _FIRST_CHAR
        value |= (group & 0x1F) << shift
        shift += 5
        more = bool(group & 0x20)
        if more:
            continue
        if group & 0x10:
            value -= 1 << shift  # sign-extend the last group
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            return f"run {len(counts)} has a negative length ({value})"
        counts.append(value)
        value = shift = 0
    if more:
        return "the text ends inside a run length"
    return counts


def rle_problem(counts: str | Sequence[int], size: Sequence[int], width: int, height: int) -> str | None:
    """What makes the RLE mask ``counts``/``size`` unusable on a ``width`` x ``height`` image,
    or None when it is a mask of exactly that image."""
    if list(size) != [height, width]:
        return f"its size {list(size)} is not the image's [height, width] [{height}, {width}]"
    runs = _decoded_counts(counts) if isinstance(counts, str) else list(counts)
    if isinstance(runs, str):
        return f"its compressed counts do not decode: {runs}"
    if any(run < 0 for run in runs):
        return "a run length is negative"
    total = sum(runs)
    if total != height * width:
        return f"its run lengths add up to {total}, not height * width = {height * width}"
    return None
