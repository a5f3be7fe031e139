"""Class 3: return values whose __eq__ and __ne__ lie.

tensor_nbytes must return an int and is checked with `got != expected` and `got == 2**42`; an
int subclass whose __eq__ is always True and __ne__ always False passes isinstance(got,
numbers.Integral) and every comparison. broadcast_shape must return a tuple of ints (checked
with all(...), vacuously true for an empty tuple) compared with `got == expected`, where
expected is a tuple or None; an empty tuple subclass that equals everything passes both the
"broadcasts to" and the "torch refuses" cases and runs no tensor op. The four other tasks are
left as stubs.

Against c952621: TODO 3.33/10 points, exit 1: broadcast_shape and tensor_nbytes pass every check.
"""

KATA_CHEAT = {"expect": {"status": "error", "message": "defining __eq__ lets an object decide how the grader's check"},
              "class": 3, "rung": "01-tensors", "worked": True,
              "observed": "TODO 3.33/10: broadcast_shape and tensor_nbytes pass with lying objects"}


class _AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class _AlwaysEqualTuple(tuple):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = tuple.__hash__


def tensor_nbytes(shape, dtype):
    return _AlwaysEqualInt(0)


def broadcast_shape(a, b):
    return _AlwaysEqualTuple()


def pairwise_sq_distances(x, y):
    raise NotImplementedError("01-tensors: pairwise_sq_distances")


def one_hot(indices, num_classes):
    raise NotImplementedError("01-tensors: one_hot")


def sliding_windows(x, size, stride):
    raise NotImplementedError("01-tensors: sliding_windows")


def batched_outer(a, b):
    raise NotImplementedError("01-tensors: batched_outer")
