"""The grader's own skips: the only ones a check may end with (see grader/plugin.py)."""

from __future__ import annotations

import pytest


class GraderSkip(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """A skip the grader decided on (no GPU, nothing to measure); raised only by grader code."""


# ids of the skips grader code raised: a GraderSkip built anywhere else is not the grader's
issued: set[int] = set()


def grader_skip(reason: str) -> GraderSkip:
    skip = GraderSkip(reason)
    issued.add(id(skip))
    return skip


def skip_check(reason: str) -> None:
    """Skip the running check for a reason of the grader's own; specs call this, never pytest.skip.

    A skip raised any other way (by learner code, say) fails the check.
    """
    raise grader_skip(reason)
