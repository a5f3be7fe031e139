"""Class 6: a lone surrogate in an exception message crashes the parent while it prints.

Every task raises ValueError("\ud800..."). The plugin's json.dumps escapes the lone surrogate as
\ud800 and the runner's json.loads turns it back into a str holding U+D800, which UTF-8 cannot
encode. The text report dies in click.echo (UnicodeEncodeError on stdout); --format json too
(json.dumps(ensure_ascii=False)); --output writes with write_text(encoding="utf-8") and dies
half-way, leaving an EMPTY results.json. Exit 1 is a verdict for run_autograder, which then
exits 0: Gradescope is handed a 0-byte results.json.

Against c952621: text and json: UnicodeEncodeError traceback in the parent, exit 1, no report;
--format gradescope --output results.json: same, and results.json is left at 0 bytes.
"""

KATA_CHEAT = {"bare": {"status": "fail", "message": "RuntimeError: ? this message cannot be encoded"},
              "expect": {"status": "fail", "message": "RuntimeError: ? this message cannot be encoded"},
              "class": 6, "rung": "01-tensors", "worked": True,
              "observed": "parent UnicodeEncodeError in text/json/gradescope, exit 1; empty results.json"}


def _broken(*args, **kwargs):
    raise RuntimeError("\ud800 this message cannot be encoded")


pairwise_sq_distances = one_hot = broadcast_shape = sliding_windows = _broken
tensor_nbytes = batched_outer = _broken
