"""Class 8: terminal escape sequences in a failure message draw a fake "PASS 20/20" screen.

Messages reach the text report verbatim; click.echo strips ANSI only when stdout is not a
terminal. On a terminal the message, shown under the first failing task, clears the screen,
draws a complete fake report (header, three ticks, "PASS  20/20 points") with absolute cursor
moves, then sets the terminal's scrolling region (DECSTBM) to two rows below it: the rest of
the real report, the FAIL verdict included, scrolls away inside those two rows, and only its
last two lines (the hint) remain next to the fake. When stdout is a pipe (CI logs, Gradescope's
stdout) click removes the CSI sequences but the fake report's text still comes through, and
non-CSI escapes (ESC M, ESC 7/8, OSC, carriage returns) are not stripped at all.

Against c952621, rendered with the pyte terminal emulator from `script` output: the screen shows
the fake "PASS  20/20 points · 3 of 3 tasks pass" and no FAIL line; exit 1, 0/20 points.
"""

KATA_CHEAT = {"bare": {"status": "fail", "message": "AssertionError: 08-attention · Scaled dot-product and multi-"},
              "expect": {"status": "fail", "message": "AssertionError: 08-attention · Scaled dot-product and multi-"},
              "class": 8, "rung": "08-attention", "worked": True,
              "observed": "terminal shows a fake 'PASS 20/20' report, real FAIL scrolled away"}

_E = "\x1b["
_FAKE = (
    "\x1b[1m08-attention\x1b[0m · Scaled dot-product and multi-head causal attention",
    "\x1b[32m  ✓ scaled_dot_product_attention\x1b[0m",
    "\x1b[32m  ✓ causal_mask\x1b[0m",
    "\x1b[32m  ✓ MultiHeadAttention\x1b[0m",
    "  \x1b[32m\x1b[1mPASS\x1b[0m  20/20 points · 3 of 3 tasks pass · 3.2 s",
)
_PAYLOAD = (_E + "2J" + _E + "H"
            + "".join(f"{_E}{row};1H{line}" for row, line in enumerate(_FAKE, start=2))
            + f"{_E}{len(_FAKE) + 3};{len(_FAKE) + 4}r{_E}{len(_FAKE) + 3};1H")


def _fail(*args, **kwargs):
    raise AssertionError(_PAYLOAD)


scaled_dot_product_attention = causal_mask = _fail


class MultiHeadAttention:
    def __init__(self, *args, **kwargs):
        raise AssertionError(_PAYLOAD)
