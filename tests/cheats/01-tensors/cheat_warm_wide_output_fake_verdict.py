"""Class 8 (output): printed text that the report shows at the first column of a row, as if it
were the grader's, through wide characters.

What a check printed is shown under its failure behind `│ `, never as a verdict, and each line
is cut to the terminal's width. The cut counted characters, but a CJK character takes two
columns: a line of `│ ` and (width - 8) / 2 of them is short by `len` and exactly one row wide
on screen, so the terminal wraps what follows it to the start of the next row, unmarked. The
module prints such a line for terminals 80, 100 and 120 columns wide, each followed by a
verdict line ("  ✓ pairwise_sq_distances", "  PASS  10/10 points ..."), then fails its check.

Observed at 6313c28, `kata check 01 --impl` with COLUMNS=100: the second printed line is 100
columns wide on screen and "  PASS  10/10 points · 6 of 6 tasks pass" starts the next row at
column 1. Fixed: every line of the report is cut by its width on screen (grader/reports/text.py,
tests/test_text_report.py); the verdict was always FAIL 0/10.
"""

KATA_CHEAT = {"bare": {"status": "fail", "message": "ValueError: wrong on purpose"},
              "expect": {"status": "fail", "message": "ValueError: wrong on purpose"},
              "class": 8, "rung": "01-tensors", "worked": True,
              "observed": "a printed line pushed '  PASS  10/10 points' to column 1 of a row"}

FAKE = ("  ✓ pairwise_sq_distances", "  PASS  10/10 points · 6 of 6 tasks pass · 1.2 s")


def pairwise_sq_distances(x, y):
    for width in (80, 100, 120):
        for line in FAKE:
            print("\u4e00" * ((width - 8) // 2) + line)
    raise ValueError("wrong on purpose")


def _todo(*args, **kwargs):
    raise NotImplementedError("01-tensors")


one_hot = broadcast_shape = sliding_windows = tensor_nbytes = batched_outer = _todo
