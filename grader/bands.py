"""Speed bands: how much slower than the reference a task may be. No torch here, so the parent can
check a worker's measurement against the bands without importing it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    """pass at or below `pass_at`; fail above `fail_above`; in between, measure again."""

    pass_at: float
    fail_above: float
    name: str

    @property
    def decide_at(self) -> float:
        """After re-measuring, the median of three ratios passes at or below this."""
        return (self.pass_at + self.fail_above) / 2


AS_FAST_AS_REFERENCE = Band(1.5, 2.0, "as fast as the reference")
VECTORIZED = Band(4.0, 8.0, "vectorized")
KNOWN_BANDS = {(band.pass_at, band.fail_above) for band in (AS_FAST_AS_REFERENCE, VECTORIZED)}
