"""Class 8 probe: workflow-command injection through failure messages in --format github.

Each task fails with a message built to start a new `::` line in the step log: after "\n",
"\r", U+2028, U+0085, a literal "%0A" (which GitHub would unescape in command data) and one
that opens with "::". The grader escapes %, CR and LF in annotation data (escape_data), and the
text report after the annotations sits between ::stop-commands::<random token> and ::<token>::,
so the runner acts on none of it; U+2028/U+0085 are not line ends for the runner's line reader.
Kept as a probe for later rewrites of the github report. (The grader's own stdout can be
written directly, though: see cheat_write_parent_stdout.py.)

Against c952621: no injected line outside the stop-commands block: every "::" line before
::stop-commands:: is one of the grader's own ::error annotations with the payloads escaped
(%0A, %0D, %250A). 0/10, exit 1.
"""

KATA_CHEAT = {"bare": {"status": "fail", "message": "RuntimeError: x"},
              "expect": {"status": "fail", "message": "RuntimeError: x"},
              "class": 8, "rung": "01-tensors", "worked": False,
              "observed": "payloads escaped in annotations; report inside stop-commands"}


def _raiser(payload):
    def fail(*args, **kwargs):
        raise RuntimeError(payload)

    return fail


pairwise_sq_distances = _raiser("x\n::error title=INJECTED-LF::score 10/10")
one_hot = _raiser("x\r::error title=INJECTED-CR::score 10/10")
broadcast_shape = _raiser("x\u2028::error title=INJECTED-LS::score 10/10")
sliding_windows = _raiser("x%0A::error title=INJECTED-PCT::score 10/10")
tensor_nbytes = _raiser("x\x85::error title=INJECTED-NEL::score 10/10")
batched_outer = _raiser("::error title=INJECTED-LEAD::score 10/10")
