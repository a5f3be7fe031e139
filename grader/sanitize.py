"""Text from the worker made safe to print: the learner's code may have written any of it.

A message can carry terminal escape sequences (a fake "PASS" drawn over the real verdict), lone
surrogates (which no UTF-8 writer accepts), bidirectional overrides (text that reads differently
from what it is) or just too much of everything. `clean` removes all of that before any report
renders it.
"""

from __future__ import annotations

import math
import re
from typing import Any

MESSAGE_LIMIT = 6000
NAME_LIMIT = 200
# C0 controls but tab and newline, DEL, C1 controls, bidirectional and zero-width format marks
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                     "\u2060-\u2069\ufeff\ufff9-\ufffb]")
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")


def clean(value: Any, limit: int = MESSAGE_LIMIT) -> str:
    """A printable, valid-UTF-8 string of at most `limit` characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")  # lone surrogates -> ?
    text = _ANSI.sub("", text)
    text = _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if len(text) > limit:
        text = text[:limit] + "\n  … (message cut)"
    return text


def finite_number(value: Any, default: float | None = None) -> float | None:
    """`value` as a finite float, or `default` when it is not one (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    number = float(value)
    return number if math.isfinite(number) else default
