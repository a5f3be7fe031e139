"""Class 6: SpeedGrayZone raised outside a speed test: the parent crashes with KeyError.

classify() returns "gray" for any SpeedGrayZone, whatever test raised it; only speed tests get
a ratio copied into their record. The runner re-measures every "gray" test and starts with
float(record["ratio"]): for a gray record without one, KeyError: 'ratio' escapes check_rung and
the CLI. The module's layers raise SpeedGrayZone (imported from the public grader.harness) in
their constructors.

Against c952621: parent traceback "KeyError: 'ratio'" in _remeasure, exit 1, no report.
"""

from grader.harness import AS_FAST_AS_REFERENCE, SpeedGrayZone

KATA_CHEAT = {"bare": {"status": "fail", "message": "the speed check's measurement did not arrive in a form the g"},
              "expect": {"status": "error", "message": "from grader.harness import ...: 07-modules does not use `gra"},
              "class": 6, "rung": "07-modules", "worked": True,
              "observed": "parent KeyError: 'ratio' in runner._remeasure, exit 1, no report"}


class _Gray:
    def __init__(self, *args, **kwargs):
        raise SpeedGrayZone(1.7, AS_FAST_AS_REFERENCE, "in the gray zone")


Linear = Embedding = LayerNorm = Dropout = GELU = _Gray


def param_count(module_name, **kwargs):
    raise SpeedGrayZone(1.7, AS_FAST_AS_REFERENCE, "in the gray zone")
