"""What specs use to check learner code: comparisons, gradients, structure and speed.

Specs reach learner code through the plugin's `candidate` fixture and check it with these helpers;
every failure they raise is an AssertionError whose message a learner can act on without reading
the spec (see docs/writing-a-rung.md).
"""

from grader.harness import sandbox
from grader.harness.candidate import Candidate, harness_internal
from grader.harness.compare import (
    Mistake,
    assert_float64_close,
    assert_grads_match,
    assert_matches,
    assert_module_grads_match,
    distinct_digits,
)
from grader.harness.skips import GraderSkip, skip_check
from grader.harness.speed import (
    AS_FAST_AS_REFERENCE,
    VECTORIZED,
    Band,
    SpeedGrayZone,
    assert_speed_within,
    measure_speed_ratio,
)
from grader.harness.structure import (
    OpLog,
    assert_no_banned_modules,
    assert_no_banned_ops,
    assert_op_count_constant,
    assert_op_count_constant_in_every_dim,
    record_ops,
)

__all__ = [
    "AS_FAST_AS_REFERENCE",
    "VECTORIZED",
    "Band",
    "Candidate",
    "GraderSkip",
    "Mistake",
    "OpLog",
    "SpeedGrayZone",
    "assert_float64_close",
    "assert_grads_match",
    "assert_matches",
    "assert_module_grads_match",
    "distinct_digits",
    "assert_no_banned_modules",
    "assert_no_banned_ops",
    "assert_op_count_constant",
    "assert_op_count_constant_in_every_dim",
    "assert_speed_within",
    "harness_internal",
    "measure_speed_ratio",
    "record_ops",
    "sandbox",
    "skip_check",
]
