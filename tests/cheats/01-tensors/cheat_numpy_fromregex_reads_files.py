"""Class 8 (output) / 4: numpy.fromregex is a file reader the deny list misses; a visible check's
message then carries the hidden spec, or any reference solution, to the learner.

Technique: 01-tensors may import numpy. BASE_DENY names numpy.load, fromfile, loadtxt,
genfromtxt, memmap, ... but not numpy.fromregex(file, regexp, dtype), which opens a path, reads
it whole and returns every regex match. `__file__` (no denied name) is
`<run>/learner/tensors.py`, so `<run>/path/grader/specs/*.py` (hidden checks included) and
`<run>/path/grader/../reference/*/*.py` are at known places. Each task raises ValueError with a
chunk of that text; the visible Gradescope entry of the task shows it.

Observed at ffaefd4, all layers on: FAIL 0/10; pairwise_sq_distances' message is the hidden
08-attention check's source, one_hot's the reference tensors.py from `def one_hot` on
(broadcast_shape and sliding_windows included).
"""

import numpy

KATA_CHEAT = {"expect": {"status": "error", "message": "`numpy.fromregex` reaches past the grader; this rung does no"},
              "class": 8, "rung": "01-tensors", "worked": True,
              "observed": "FAIL 0/10; messages carry the hidden 08 check and the reference"}

_GRADER = __file__.rsplit("/", 2)[0] + "/path/grader"


def _read(path: str) -> str:
    found = numpy.fromregex(path, r"(?s)(.+)", dtype=[("text", "U200000")])
    return str(found["text"][0])


def _between(text: str, start: str, end: str) -> str:
    at = text.index(start)
    return text[at:text.index(end, at + len(start))][:3800]


def pairwise_sq_distances(x, y):
    spec = _read(_GRADER + "/specs/test_08_attention.py")
    raise ValueError("\n" + _between(spec, "@pytest.mark.hidden", "\n\n\n"))


def one_hot(indices, num_classes):
    source = _read(_GRADER + "/../reference/01-tensors/tensors.py")
    raise ValueError("\n" + _between(source, "def one_hot", "def tensor_nbytes"))


def broadcast_shape(a, b):
    raise NotImplementedError


def sliding_windows(x, size, stride):
    raise NotImplementedError


def tensor_nbytes(shape, dtype):
    raise NotImplementedError


def batched_outer(a, b):
    raise NotImplementedError
