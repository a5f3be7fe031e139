"""Spec for rung 01-tensors: broadcasting, views and memory.

Run by `./kata check 01-tensors`. Every test reaches the learner's code through `candidate` and
compares it with `reference` (or with torch itself, for broadcast_shape and tensor_nbytes).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from grader.harness import (
    Mistake,
    assert_float64_close,
    assert_grads_match,
    assert_matches,
    assert_no_banned_ops,
    assert_op_count_constant,
    assert_op_count_constant_in_every_dim,
    distinct_digits,
    record_ops,
    sandbox,
)
from grader.strategies import randn, seeds, sizes, small_shapes

pytestmark = pytest.mark.rung("01-tensors")

# The one tolerance of this spec that is not the harness's error-ratio rule. Far from the origin,
# float32 distances are only as good as the rounding of ||x||² and ||y||² allows. The expansion
# ||x||² - 2 x·y + ||y||² (what torch.cdist uses for large inputs) is off by up to about
# 6 * eps * (||x_i||² + ||y_j||²) (measured: D from 1 to 64, offsets up to 1000, 20 seeds each):
# errors near 1 on distances near 8 at D = 4. Subtracting first stays within a few eps of the
# distance itself. The rung accepts both formulas (its README says why), so this check allows the
# textbook worst-case bound of the expansion, 2 * (D + 2) * eps * (||x_i||² + ||y_j||²). That bound
# is loose on purpose: arithmetic in a 16-bit dtype is caught by the ordinary values test, and the
# expansion's one real trap, a negative result, by the never-negative property.
FAR_FROM_ORIGIN = 1000.0


def far_tolerance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Allowed error per (i, j) entry for points far from the origin: see FAR_FROM_ORIGIN."""
    D = x.shape[1]
    eps = torch.finfo(x.dtype).eps / 2  # unit roundoff
    sq_x = x.double().pow(2).sum(-1)  # (N,)
    sq_y = y.double().pow(2).sum(-1)  # (M,)
    return 2 * (D + 2) * eps * (sq_x[:, None] + sq_y[None, :])  # (N, M)


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone; a bare assert would add pytest's introspection to it."""
    if not condition:
        raise AssertionError(message)


def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from((torch.float32, torch.float64))


def must_raise_value_error(call: Callable[[], object], what: str, why: str) -> None:
    """`call()` must raise ValueError; anything else gets a message that says what happened."""
    try:
        result = call()
    except ValueError:
        return
    except NotImplementedError:
        raise  # still todo
    except Exception as exc:
        raise AssertionError(
            f"{what} should raise ValueError ({why}), but it raised {type(exc).__name__}: {exc}. "
            "Check the arguments yourself before any tensor work and raise ValueError."
        ) from None
    got = f"a tensor of shape {tuple(result.shape)}" if isinstance(result, torch.Tensor) else (
        repr(result))
    raise AssertionError(f"{what} should raise ValueError ({why}), but it returned {got}.")


def telling(mistakes: tuple[Mistake, ...], reference_fn: Callable[..., torch.Tensor],
            *args: torch.Tensor) -> tuple[Mistake, ...]:
    """The mistakes that give a wrong answer on these inputs. On some shapes a mistake computes
    the right thing (a (1, 1) result is its own transpose); naming it there would mislead."""
    right = reference_fn(*args)
    kept = []
    for mistake in mistakes:
        try:
            wrong = mistake.compute(*args)
        except Exception:  # a mistake that cannot run here names nothing anyway
            continue
        if not (isinstance(wrong, torch.Tensor) and wrong.shape == right.shape
                and torch.allclose(wrong.double(), right.double(), rtol=1e-6, atol=1e-9)):
            kept.append(mistake)
    return tuple(kept)


def transposed_copy(t: torch.Tensor) -> torch.Tensor:
    """The same values as t (2-D), held as the transpose of a (cols, rows) tensor: a view whose
    rows are not contiguous, as x.T or a slice of a larger matrix gives."""
    return t.T.contiguous().T


def call_on_views(call: Callable[[], torch.Tensor], what: str) -> torch.Tensor:
    """`call()`, where a RuntimeError (a view on a non-contiguous tensor) gets a message."""
    try:
        return call()
    except NotImplementedError:
        raise  # still todo
    except RuntimeError as exc:
        raise AssertionError(
            f"{what} raised RuntimeError: {' '.join(str(exc).split())[:200]}\n  The inputs are "
            "transposed views (not contiguous), which the task allows. .view() needs contiguous "
            "memory; add dims by indexing with None (x[:, None, :]) or use .reshape()."
        ) from None


def float64_tolerance(out: torch.Tensor, magnitude: torch.Tensor, terms: int) -> torch.Tensor:
    """Allowed error of a float64 result: `terms` roundings of `magnitude`, the size of the
    numbers summed (so cancellation is allowed for), at float64's unit roundoff. Far below what
    the same arithmetic in float32 loses (2^29 times as much per rounding)."""
    return 2 * terms * (torch.finfo(torch.float64).eps / 2) * magnitude + 1e-300


def check_float64_accuracy(out: object, truth: torch.Tensor, allowed: torch.Tensor,
                           float32_result: torch.Tensor, what: str) -> None:
    """out within `allowed` of truth everywhere; when out is what float32 arithmetic gives, the
    message says so."""
    def likely(got: torch.Tensor, _index: tuple[int, ...]) -> str | None:
        f32 = float32_result.detach().cpu()
        if bool(((got - f32).abs() <= 1e-6 * f32.abs() + 1e-30).all()):
            return ("the arithmetic ran in float32 (.float(), a float32 tensor or constant) and "
                    "was cast back; float64 inputs need float64 arithmetic throughout.")
        return None

    assert_float64_close(out, truth, allowed, what, likely)


# pairwise_sq_distances ------------------------------------------------------------------------


def _distances_as_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] == 1:  # at D = 1 the distance is |x - y|: so is the L1 distance, another mistake
        raise ValueError("at D = 1 the Euclidean and the L1 distance agree; name neither")
    return (x[:, None, :] - y[None, :, :]).pow(2).sum(-1).sqrt()


def _distances_transposed(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x[:, None, :] - y[None, :, :]).pow(2).sum(-1).T


def _distances_without_the_two(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x.pow(2).sum(-1)[:, None] - x @ y.T + y.pow(2).sum(-1)[None, :]


def _distances_squared_after_summing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x[:, None, :] - y[None, :, :]).sum(-1).pow(2)


DISTANCE_MISTAKES = (
    Mistake("you returned the distance itself; the task asks for its square, so take no square "
            "root", _distances_as_distance),
    Mistake("the result is transposed: row i must belong to x[i] and column j to y[j], giving "
            "(N, M)", _distances_transposed),
    Mistake("the cross term needs its factor 2: ||x||² - 2 x·y + ||y||²",
            _distances_without_the_two),
    Mistake("you summed the coordinate differences before squaring; square each difference, "
            "then sum over D", _distances_squared_after_summing),
)


@pytest.mark.task("pairwise_sq_distances", category="shape")
def test_distances_are_n_by_m_in_the_input_dtype(candidate):
    """(N, D) and (M, D) give (N, M), in the dtype of the inputs, also when N or M is 1."""
    for dtype, (N, M) in ((torch.float32, (3, 5)), (torch.float64, (3, 5)),
                          (torch.float32, (1, 5)), (torch.float32, (3, 1))):
        x, y = randn((N, 4), seed=0, dtype=dtype), randn((M, 4), seed=1, dtype=dtype)
        out = candidate.pairwise_sq_distances(x, y)
        require(isinstance(out, torch.Tensor), (
            f"pairwise_sq_distances returned {type(out).__name__}; return a tensor"))
        require(out.shape == (N, M), (
            f"pairwise_sq_distances(x of shape ({N}, 4), y of shape ({M}, 4)) has shape "
            f"{tuple(out.shape)}; expected {(N, M)} = (N, M): one row per point of x, one column "
            f"per point of y" + (" (a dim of size 1 stays: don't squeeze)" if 1 in (N, M)
                                 else "")))
        require(out.dtype == dtype, (
            f"pairwise_sq_distances on {dtype} inputs returned {out.dtype}; keep the input dtype"))


@pytest.mark.task("pairwise_sq_distances", category="values")
@given(N=sizes(1, 6), M=sizes(1, 6), D=sizes(1, 6), seed=seeds(), dtype=float_dtypes())
def test_distances_match_the_reference(candidate, reference, N, M, D, seed, dtype):
    """out[i, j] = sum over d of (x[i, d] - y[j, d])², on Hypothesis-drawn shapes."""
    x, y = randn((N, D), seed, dtype), randn((M, D), seed + 1, dtype)
    assert_matches(candidate.pairwise_sq_distances(x, y), reference.pairwise_sq_distances, x, y,
                   what=f"pairwise_sq_distances on x {tuple(x.shape)}, y {tuple(y.shape)}, {dtype}",
                   mistakes=telling(DISTANCE_MISTAKES, reference.pairwise_sq_distances, x, y))


@pytest.mark.task("pairwise_sq_distances", category="values")
@given(N=sizes(1, 6), M=sizes(1, 6), D=sizes(1, 6), seed=seeds())
@example(N=1, M=1, D=2, seed=0)
@example(N=4, M=3, D=5, seed=1)
def test_distances_are_float64_accurate_for_float64_points(candidate, N, M, D, seed):
    """Float64 points get float64 accuracy: within a few float64 roundings of ||x||² + ||y||²
    (which allows the expansion), far below what float32 arithmetic loses."""
    x, y = randn((N, D), seed), randn((M, D), seed + 1)
    out = candidate.pairwise_sq_distances(x, y)
    truth = (x[:, None, :] - y[None, :, :]).pow(2).sum(-1)  # (N, M)
    magnitude = x.pow(2).sum(-1)[:, None] + y.pow(2).sum(-1)[None, :] + truth
    float32_result = (x.float()[:, None, :] - y.float()[None, :, :]).pow(2).sum(-1).double()
    check_float64_accuracy(out, truth, float64_tolerance(out, magnitude, D + 2), float32_result,
                           f"pairwise_sq_distances on float64 x {(N, D)}, y {(M, D)}")


@pytest.mark.task("pairwise_sq_distances", category="values")
@given(N=sizes(1, 6), M=sizes(1, 6), D=sizes(2, 6), seed=seeds(), dtype=float_dtypes())
@example(N=3, M=4, D=5, seed=0, dtype=torch.float32)
def test_distances_of_transposed_inputs(candidate, reference, N, M, D, seed, dtype):
    """x and y may be non-contiguous views (x = points.T): the same distances."""
    x = transposed_copy(randn((N, D), seed, dtype))
    y = transposed_copy(randn((M, D), seed + 1, dtype))
    what = (f"pairwise_sq_distances on transposed (non-contiguous) views x {(N, D)}, "
            f"y {(M, D)}, {dtype}")
    out = call_on_views(lambda: candidate.pairwise_sq_distances(x, y), what)
    assert_matches(out, reference.pairwise_sq_distances, x, y, what=what,
                   mistakes=telling(DISTANCE_MISTAKES, reference.pairwise_sq_distances, x, y))


@pytest.mark.task("pairwise_sq_distances", category="values")
@given(N=sizes(1, 8), M=sizes(1, 8), D=sizes(1, 16), seed=seeds())
def test_distances_stay_accurate_far_from_the_origin(candidate, N, M, D, seed):
    """Float32 points near (1000, ..., 1000): errors stay within float32 rounding of the norms."""
    x = randn((N, D), seed, torch.float32, offset=FAR_FROM_ORIGIN)
    y = randn((M, D), seed + 1, torch.float32, offset=FAR_FROM_ORIGIN)
    out = candidate.pairwise_sq_distances(x, y)
    require(isinstance(out, torch.Tensor) and out.shape == (N, M) and out.dtype == torch.float32, (
        "pairwise_sq_distances on float32 inputs must return a float32 (N, M) tensor"))
    truth = (x.double()[:, None, :] - y.double()[None, :, :]).pow(2).sum(-1)  # (N, M)
    error = (out.double() - truth).abs().nan_to_num(nan=math.inf)
    allowed = far_tolerance(x, y)
    if (error > allowed).any():
        i, j = divmod(int((error / allowed).flatten().argmax()), M)
        shown_got, shown_truth = distinct_digits(out[i, j].item(), truth[i, j].item(),
                                                 torch.float32)
        raise AssertionError(
            f"pairwise_sq_distances on float32 points far from the origin (coordinates near "
            f"{FAR_FROM_ORIGIN:g}, N={N}, M={M}, D={D}): {int((error > allowed).sum())} of "
            f"{N * M} entries are off by more than float32 rounding explains.\n"
            f"  worst at ({i}, {j}): got {shown_got}, expected {shown_truth}"
            f" (error {error[i, j].item():.4g}, allowed {allowed[i, j].item():.4g})\n"
            "  Compute in the input dtype (float32), not in a 16-bit dtype (float16, bfloat16)."
        )


@pytest.mark.task("pairwise_sq_distances", category="properties")
@given(N=sizes(2, 8), D=sizes(1, 8), seed=seeds())
@example(N=8, D=8, seed=0)  # rounding takes the unclamped expansion below zero here
def test_distances_are_never_negative(candidate, N, D, seed):
    """A squared distance is >= 0, even for a point against itself far from the origin."""
    x = randn((N, D), seed, torch.float32, offset=FAR_FROM_ORIGIN)
    out = candidate.pairwise_sq_distances(x, x)
    negative = out < 0
    if negative.any():
        i, j = (int(v) for v in negative.nonzero()[0])
        raise AssertionError(
            f"pairwise_sq_distances(x, x) with float32 points near {FAR_FROM_ORIGIN:g} gave "
            f"{int(negative.sum())} negative entries, e.g. {out[i, j].item():.4g} at ({i}, {j}). "
            "||x||² - 2 x·y + ||y||² can dip below zero through rounding when x and y are close; "
            "clamp the result at 0 (clamp_min(0)), or subtract the points before squaring."
        )


@pytest.mark.task("pairwise_sq_distances", category="grad")
@given(N=sizes(1, 5), M=sizes(1, 5), D=sizes(1, 5), seed=seeds())
def test_distance_gradients_match_the_reference(candidate, reference, N, M, D, seed):
    """Gradients reach both x and y and equal the reference's, for a random upstream gradient.

    Float64 inputs: in float32, an expansion clamped at 0 has a zero gradient wherever two points
    nearly coincide (|x - y| below about 1e-4 |x|), which is the clamp at work, not a mistake.
    """
    x, y = randn((N, D), seed), randn((M, D), seed + 1)  # float64
    assert_grads_match(candidate.pairwise_sq_distances, reference.pairwise_sq_distances, x, y,
                       what="pairwise_sq_distances", seed=seed)


@pytest.mark.task("pairwise_sq_distances", category="structure")
def test_distances_use_no_python_loop(candidate):
    """The number of tensor ops is the same for any N, M and D."""
    def vary(dim: str) -> Callable[[int], Callable[[], object]]:
        def make_call(n: int) -> Callable[[], object]:
            shape = {"N": (n, 3, 4), "M": (3, n, 4), "D": (3, 4, n)}[dim]
            x, y = randn((shape[0], shape[2]), 0), randn((shape[1], shape[2]), 1)
            return lambda: candidate.pairwise_sq_distances(x, y)
        return make_call

    assert_op_count_constant(vary("N"), sizes=(3, 7, 28), dim="number of rows of x (N)")
    assert_op_count_constant(vary("M"), sizes=(3, 7, 28), dim="number of rows of y (M)")
    assert_op_count_constant(vary("D"), sizes=(3, 7, 28), dim="number of features (D)")


@pytest.mark.task("pairwise_sq_distances", category="structure")
def test_distances_do_not_call_cdist(candidate):
    """torch.cdist computes exactly this; the exercise is to build it from broadcasting."""
    x, y = randn((4, 3), 0), randn((30, 3), 1)
    advice = ("torch.cdist computes these distances for you; build them from broadcasting "
              "instead: x[:, None, :] - y[None, :, :].")
    assert_no_banned_ops(candidate.pairwise_sq_distances, x, y,
                         banned={"cdist": advice, "euclidean_dist": advice})


# one_hot --------------------------------------------------------------------------------------


def _random_indices(shape: tuple[int, ...], num_classes: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_classes, shape, generator=generator, dtype=torch.int64)


def _one_hot_class_axis_first(indices: torch.Tensor, num_classes: int) -> torch.Tensor:
    eye = (indices[..., None] == torch.arange(num_classes)).to(torch.float32)
    return eye.movedim(-1, 0)


ONE_HOT_MISTAKES = (
    Mistake("the class axis must come last: (..., num_classes), not (num_classes, ...)",
            _one_hot_class_axis_first),
)


@pytest.mark.task("one_hot", category="shape")
def test_one_hot_is_float32_with_the_class_axis_last(candidate):
    """int64 indices of shape (...) give float32 (..., num_classes)."""
    for shape in ((), (5,), (2, 3)):
        indices = _random_indices(shape, 4, seed=0)
        out = candidate.one_hot(indices, 4)
        require(isinstance(out, torch.Tensor), f"one_hot returned {type(out).__name__}")
        require(out.shape == (*shape, 4), (
            f"one_hot(indices of shape {shape}, num_classes=4) has shape {tuple(out.shape)}; "
            f"expected {(*shape, 4)}: the indices' shape plus a class axis at the end"))
        require(out.dtype == torch.float32, (
            f"one_hot returned {out.dtype}; it must be float32 (ready to multiply with weights "
            "or feed to a loss), whatever the indices' dtype. Convert with .to(torch.float32)."))


@pytest.mark.task("one_hot", category="shape")
def test_one_hot_is_float32_whatever_the_default_dtype(candidate):
    """float32 also when torch.set_default_dtype(torch.float64) is in force (notebooks do that)."""
    indices = _random_indices((2, 3), 4, seed=0)
    previous = torch.get_default_dtype()
    # set_default_dtype also rebinds torch.Storage; the patch tells the tamper guard it is ours
    with sandbox.patched(torch, "Storage", torch.DoubleStorage):
        torch.set_default_dtype(torch.float64)
        try:
            out = candidate.one_hot(indices, 4)
        finally:
            torch.set_default_dtype(previous)
    require(isinstance(out, torch.Tensor), f"one_hot returned {type(out).__name__}")
    require(out.dtype == torch.float32, (
        f"one_hot under torch.set_default_dtype(torch.float64) returned {out.dtype}; it must be "
        "float32 whatever the default dtype. torch.where on Python numbers, torch.zeros or "
        "torch.ones without a dtype follow the default; convert with .to(torch.float32) or pass "
        "dtype=torch.float32."))


@pytest.mark.task("one_hot", category="shape")
@pytest.mark.parametrize("shape", [(0,), (2, 0)], ids=["(0,)", "(2, 0)"])
def test_one_hot_of_no_indices_is_empty(candidate, shape):
    """An empty indices tensor is valid (nothing to check): float32 of shape (*shape, C)."""
    indices = torch.zeros(shape, dtype=torch.int64)
    try:
        out = candidate.one_hot(indices, 3)
    except NotImplementedError:
        raise
    except (RuntimeError, IndexError, ValueError) as exc:
        raise AssertionError(
            f"one_hot(an empty indices tensor of shape {shape}, num_classes=3) raised "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}\n  No indices means "
            "nothing out of range: return an empty (..., 3) tensor. min() and max() of an empty "
            "tensor raise, so check indices.numel() > 0 before taking them.") from None
    require(isinstance(out, torch.Tensor) and out.shape == (*shape, 3)
            and out.dtype == torch.float32, (
                f"one_hot(an empty indices tensor of shape {shape}, num_classes=3) returned "
                f"{getattr(out, 'dtype', type(out).__name__)} of shape "
                f"{tuple(getattr(out, 'shape', ()))}; expected float32 of shape {(*shape, 3)}"))


@pytest.mark.task("one_hot", category="values")
@given(shape=small_shapes(min_dims=0, max_dims=3, max_side=4), num_classes=sizes(1, 6),
       seed=seeds())
@example(shape=(2, 3), num_classes=4, seed=0)
def test_one_hot_matches_the_reference(candidate, reference, shape, num_classes, seed):
    """out[..., c] is 1.0 where indices == c and 0.0 elsewhere, for any leading shape."""
    indices = _random_indices(shape, num_classes, seed)
    assert_matches(candidate.one_hot(indices, num_classes), reference.one_hot, indices,
                   num_classes, what=f"one_hot(indices of shape {shape}, {num_classes})",
                   mistakes=ONE_HOT_MISTAKES)


@pytest.mark.task("one_hot", category="properties")
@given(shape=small_shapes(min_dims=1, max_dims=3, max_side=4), num_classes=sizes(1, 6),
       seed=seeds())
def test_one_hot_rows_sum_to_one_at_the_index(candidate, shape, num_classes, seed):
    """Every row holds exactly one 1.0, at the position its index names."""
    indices = _random_indices(shape, num_classes, seed)
    out = candidate.one_hot(indices, num_classes)
    sums = out.sum(dim=-1)
    off = sums != 1
    if off.any():
        raise AssertionError(
            f"one_hot rows must sum to 1; found a row summing to {sums[off][0].item():g} "
            f"(indices of shape {shape}, num_classes={num_classes})")
    hot = out.argmax(dim=-1)
    misplaced = hot != indices
    if misplaced.any():
        raise AssertionError(
            f"one_hot puts its 1.0 in the wrong place: index {indices[misplaced][0].item()} "
            f"became a 1.0 at position {hot[misplaced][0].item()}")


@pytest.mark.task("one_hot", category="properties")
def test_one_hot_rejects_out_of_range_indices(candidate):
    """Negative indices and indices >= num_classes raise ValueError, wherever they sit, also when
    they are the only index (shape (1,) or a 0-d tensor)."""
    for values, why in (([0, 3, 1], "3 is not below num_classes=3"),
                        ([2, 1, 7], "7 is not below num_classes=3"),
                        ([1, -1, 0], "-1 is negative"),
                        # a single index is checked too: one element, and none at all around it
                        ([5], "5 is not below num_classes=3"),
                        ([-1], "-1 is negative"),
                        (3, "3 is not below num_classes=3"),
                        (-1, "-1 is negative")):
        indices = torch.tensor(values)
        must_raise_value_error(lambda indices=indices: candidate.one_hot(indices, 3),
                               f"one_hot(torch.tensor({values}), num_classes=3)", why)


@pytest.mark.task("one_hot", category="structure")
def test_one_hot_uses_no_python_loop(candidate):
    """The number of tensor ops is the same for 5 indices as for 11, and for a (rows, columns)
    tensor of indices, whichever dimension grows."""
    def make_call(n: int) -> Callable[[], object]:
        indices = _random_indices((n,), 4, seed=n)
        return lambda: candidate.one_hot(indices, 4)

    assert_op_count_constant(make_call, sizes=(5, 11, 44), dim="number of indices")

    def make_call_2d(rows: int, columns: int) -> Callable[[], object]:
        indices = _random_indices((rows, columns), 4, seed=rows + columns)
        return lambda: candidate.one_hot(indices, 4)

    assert_op_count_constant_in_every_dim(make_call_2d, {
        "rows": ("number of rows of a 2-D indices tensor", (2, 6, 24)),
        "columns": ("number of columns of a 2-D indices tensor", (2, 6, 24))})

    def make_call_classes(num_classes: int) -> Callable[[], object]:
        indices = _random_indices((6,), num_classes, seed=num_classes)
        return lambda: candidate.one_hot(indices, num_classes)

    assert_op_count_constant(make_call_classes, sizes=(4, 9, 36), dim="number of classes",
                             advice="Compare all classes at once: indices[..., None] == "
                                    "torch.arange(num_classes) broadcasts to (..., C).")


@pytest.mark.task("one_hot", category="structure")
def test_one_hot_does_not_call_the_builtin(candidate):
    """torch.nn.functional.one_hot is what you are building."""
    assert_no_banned_ops(candidate.one_hot, _random_indices((6,), 4, seed=0), 4, banned={
        "one_hot": "Compare indices[..., None] with torch.arange(num_classes) instead.",
    })


# broadcast_shape ------------------------------------------------------------------------------


def broadcast_by_torch(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The oracle: torch's answer as a tuple, or None when torch refuses."""
    try:
        return tuple(torch.broadcast_shapes(a, b))
    except RuntimeError:
        return None


def _aligned_from_the_left(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    rank = max(len(a), len(b))
    a, b = a + (1,) * (rank - len(a)), b + (1,) * (rank - len(b))
    if any(p != q and 1 not in (p, q) for p, q in zip(a, b, strict=True)):
        return None
    return tuple(q if p == 1 else p for p, q in zip(a, b, strict=True))


def _larger_size_wins(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    if any(p != q and 1 not in (p, q) for p, q in zip(a, b, strict=True)):
        return None
    return tuple(max(p, q) for p, q in zip(a, b, strict=True))


BROADCAST_MISTAKES = (
    ("it looks like you lined the shapes up from the left. Broadcasting compares trailing "
     "dimensions first: pad the shorter shape with 1s on the left", _aligned_from_the_left),
    ("it looks like you took the larger of the two sizes. The result takes the size that is not "
     "1, and 1 against 0 gives 0 (an empty dimension stays empty)", _larger_size_wins),
)


@st.composite
def shape_pairs(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes of rank 0 to 4, cut from one broadcast result; about half made incompatible."""
    result = draw(small_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    rank_a, rank_b = draw(st.integers(0, len(result))), draw(st.integers(0, len(result)))
    a = [draw(st.sampled_from((size, 1))) for size in result[len(result) - rank_a:]]
    b = [draw(st.sampled_from((size, 1))) for size in result[len(result) - rank_b:]]
    if min(rank_a, rank_b) > 0 and draw(st.booleans()):
        position = -draw(st.integers(1, min(rank_a, rank_b)))  # counted from the right
        a[position], b[position] = draw(st.sampled_from(((2, 3), (3, 2), (0, 2), (4, 0))))
    return tuple(a), tuple(b)


def describe(outcome: tuple[int, ...] | None) -> str:
    return "ValueError" if outcome is None else repr(outcome)


@pytest.mark.task("broadcast_shape", category="values")
@given(pair=shape_pairs())
@example(pair=((2, 3), (3,)))
@example(pair=((8, 1, 3), (5, 1)))
@example(pair=((4, 3), (2, 1, 3)))
@example(pair=((0,), (1,)))
@example(pair=((), (2, 3)))
@example(pair=((3,), (4,)))
@example(pair=((2, 1), (3, 1, 2)))
@example(pair=((0,), (3,)))
def test_broadcast_shape_agrees_with_torch(candidate, pair):
    """The same answer as torch.broadcast_shapes, and ValueError exactly where torch refuses."""
    a, b = pair
    expected = broadcast_by_torch(a, b)
    try:
        got = candidate.broadcast_shape(a, b)
    except ValueError:
        got = None
    if got is not None:
        require(isinstance(got, tuple) and all(
            isinstance(s, int) and not isinstance(s, bool) for s in got), (
            f"broadcast_shape({a}, {b}) returned {got!r}; return a tuple of Python ints"))
    if got == expected:
        return
    reason = ("torch refuses to broadcast these" if expected is None
              else f"torch broadcasts these to {expected}")
    message = f"broadcast_shape({a}, {b}) gave {describe(got)}, but {reason}."
    for description, mistake in BROADCAST_MISTAKES:
        if mistake(a, b) == got:
            message += f"\n  Likely mistake: {description}."
            break
    raise AssertionError(message)


@pytest.mark.task("broadcast_shape", category="structure")
def test_broadcast_shape_is_plain_python(candidate):
    """No torch.broadcast_shapes, no broadcast_tensors, no tensors made just to ask torch."""
    mentioned = candidate.mentions("broadcast_shapes", "_broadcast_shapes", "broadcast_tensors",
                                   "broadcast_to", "broadcast_shape")
    asked = [(line, name) for line, name in mentioned if name != "broadcast_shape"]
    require(not asked, (
        f"{candidate.filename} line {asked[0][0] if asked else 0} uses "
        f"torch.{asked[0][1] if asked else ''}. This task is the rule itself: work it out from the "
        "two tuples in plain Python."))
    called: list[str] = []
    originals = {"torch.broadcast_shapes": torch.broadcast_shapes,
                 "torch._refs._broadcast_shapes": torch._refs._broadcast_shapes}

    def tripwire(name: str) -> Callable[..., object]:
        def call(*shapes: object) -> object:
            called.append(name)
            return originals[name](*shapes)
        return call

    with sandbox.patched(torch, "broadcast_shapes", tripwire("torch.broadcast_shapes")), \
            sandbox.patched(torch.functional, "broadcast_shapes",
                            tripwire("torch.broadcast_shapes")), \
            sandbox.patched(torch._refs, "_broadcast_shapes",
                            tripwire("torch._refs._broadcast_shapes")):
        for a, b in (((8, 1, 3), (5, 1)), ((2, 3), (4,))):
            try:
                log = record_ops(candidate.broadcast_shape, a, b)
            except ValueError:
                continue
            ops = list(log.names())
            require(not called, (
                f"broadcast_shape({a}, {b}) called torch.broadcast_shapes. This task is the "
                "rule itself: work it out from the two tuples in plain Python."))
            require(not ops, (
                f"broadcast_shape({a}, {b}) ran tensor operations "
                f"({', '.join(sorted(set(ops)))}). This is a plain-Python exercise on tuples: "
                "don't create tensors to ask torch."))
    require(not called, (
        "broadcast_shape called torch.broadcast_shapes. This task is the rule itself: work it "
        "out from the two tuples in plain Python."))


# sliding_windows ------------------------------------------------------------------------------


def num_windows(n: int, size: int, stride: int) -> int:
    return (n - size) // stride + 1


def _windows_of_contiguous_x(x: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    return x.as_strided((num_windows(len(x), size, stride), size), (stride, 1))


def _windows_one_short(x: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    return x.unfold(0, size, stride)[:-1]


def sliding_mistakes(x: torch.Tensor) -> tuple[Mistake, ...]:
    """Classic mistakes, bound to the real x: the harness hands mistakes a contiguous copy."""
    return (
        Mistake("you assumed x is contiguous. x can be a view (x = base[::2]); step through "
                "memory with x.stride(0), not 1",
                lambda _x, size, stride: _windows_of_contiguous_x(x, size, stride)),
        Mistake("one window short: there are (N - size) // stride + 1 full windows",
                _windows_one_short),
    )


def _layout_view(base: torch.Tensor, n: int, layout: str) -> torch.Tensor:
    if layout == "offset":
        return base[3 : 3 + n]
    if layout == "every other element":
        return base[::2][:n]
    return base[:n]


@st.composite
def window_cases(draw: st.DrawFn) -> tuple[int, int, int, str, int]:
    n = draw(sizes(1, 12))
    return (n, draw(sizes(1, n)), draw(sizes(1, 5)),
            draw(st.sampled_from(("contiguous", "offset", "every other element"))), draw(seeds()))


@pytest.mark.task("sliding_windows", category="shape")
def test_sliding_windows_keep_only_full_windows(candidate):
    """(N - size) // stride + 1 rows of `size` elements; a partial window at the end is dropped."""
    for n, size, stride in ((10, 3, 2), (7, 3, 2), (5, 5, 1), (6, 1, 1), (9, 2, 4), (4, 2, 5)):
        x = torch.arange(n, dtype=torch.float32)
        out = candidate.sliding_windows(x, size, stride)
        expected = (num_windows(n, size, stride), size)
        require(isinstance(out, torch.Tensor), f"sliding_windows returned {type(out).__name__}")
        require(tuple(out.shape) == expected, (
            f"sliding_windows(x of length {n}, size={size}, stride={stride}) has shape "
            f"{tuple(out.shape)}; expected {expected}: {expected[0]} full windows = "
            f"({n} - {size}) // {stride} + 1, each of {size} elements"))
        require(out.dtype == x.dtype, f"sliding_windows changed the dtype to {out.dtype}")


@pytest.mark.task("sliding_windows", category="values")
@given(case=window_cases())
@example(case=(10, 3, 2, "every other element", 0))
@example(case=(9, 2, 3, "offset", 1))
def test_sliding_windows_match_the_reference(candidate, reference, case):
    """Row w is x[w*stride : w*stride + size], also when x is itself a strided or offset view."""
    n, size, stride, layout, seed = case
    x = _layout_view(randn((2 * n + 3,), seed), n, layout)
    what = f"sliding_windows(x of length {n} ({layout}), size={size}, stride={stride})"
    assert_matches(candidate.sliding_windows(x, size, stride), reference.sliding_windows,
                   x, size, stride, what=what, mistakes=sliding_mistakes(x))


@pytest.mark.task("sliding_windows", category="properties")
@given(case=window_cases())
@example(case=(10, 4, 1, "contiguous", 0))
@example(case=(10, 4, 1, "every other element", 0))
def test_sliding_windows_share_storage_with_x(candidate, case):
    """The windows are a view: same storage as x, so writing to x shows up in them."""
    n, size, stride, layout, seed = case
    x = _layout_view(randn((2 * n + 3,), seed), n, layout)
    out = candidate.sliding_windows(x, size, stride)
    call = f"sliding_windows(x of length {n} ({layout}), size={size}, stride={stride})"
    require(out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr(), (
        f"{call} returned a copy: its storage is not x's. Build the windows as a view "
        "(x.as_strided or x.unfold) and don't call clone, contiguous, stack or cat on them."))
    before = out.detach().clone()
    with torch.no_grad():
        x.mul_(-1)
    require(torch.equal(out, -before), (
        f"{call}: after x.mul_(-1) some window entries kept their old values. Every entry of "
        "the windows must be an element of x itself, so that a change to x shows up in them."))


@pytest.mark.task("sliding_windows", category="properties")
def test_sliding_windows_reject_bad_sizes_and_strides(candidate):
    """ValueError unless 1 <= size <= N and stride >= 1."""
    x = torch.arange(5.0)
    for size, stride, why in ((0, 1, "size must be at least 1"),
                              (-2, 1, "size must be at least 1"),
                              (6, 1, "size must not exceed len(x) = 5"),
                              (2, 0, "stride must be at least 1"),
                              (2, -1, "stride must be at least 1")):
        must_raise_value_error(
            lambda size=size, stride=stride: candidate.sliding_windows(x, size, stride),
            f"sliding_windows(x of length 5, size={size}, stride={stride})", why)


# tensor_nbytes --------------------------------------------------------------------------------

DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn,
          torch.float8_e5m2, torch.complex128, torch.complex64, torch.int64, torch.int32,
          torch.int16, torch.int8, torch.uint8, torch.uint16, torch.uint32, torch.uint64,
          torch.bool)


def element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


NBYTES_MISTAKES = (
    ("you assumed 4 bytes per element for every dtype; the size depends on the dtype "
     "(dtype.itemsize, or element_size() of a tensor of that dtype)", lambda n, dtype: 4 * n),
    ("you returned the number of elements; multiply by the bytes per element",
     lambda n, dtype: n),
    ("you counted bits, not bytes", lambda n, dtype: 8 * n * element_size(dtype)),
)


@pytest.mark.task("tensor_nbytes", category="values")
@given(shape=small_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40),
       dtype=st.sampled_from(DTYPES))
@example(shape=(50257, 768), dtype=torch.float32)
@example(shape=(1024, 768), dtype=torch.bfloat16)
@example(shape=(), dtype=torch.int8)
@example(shape=(4, 0, 3), dtype=torch.float64)
@example(shape=(3, 5), dtype=torch.bool)
@example(shape=(2, 3), dtype=torch.complex64)
@example(shape=(7,), dtype=torch.uint16)
def test_tensor_nbytes_is_numel_times_element_size(candidate, shape, dtype):
    """bytes = (product of the shape) * (bytes per element of dtype), as a Python int."""
    numel = torch.Size(shape).numel()
    expected = numel * element_size(dtype)
    got = candidate.tensor_nbytes(shape, dtype)
    require(isinstance(got, numbers.Integral) and not isinstance(got, bool), (
        f"tensor_nbytes({shape}, {dtype}) returned {got!r} ({type(got).__name__}); return an "
        "int (note that numpy.prod(()) is the float 1.0, while math.prod(()) is the int 1)"))
    if got != expected:
        size = element_size(dtype)
        message = (f"tensor_nbytes({shape}, {dtype}) returned {got}, expected {expected}: "
                   f"{numel} element{'s' * (numel != 1)} of {size} byte{'s' * (size != 1)}")
        for description, mistake in NBYTES_MISTAKES:
            if mistake(numel, dtype) == got:
                message += f"\n  Likely mistake: {description}."
                break
        raise AssertionError(message)


@pytest.mark.task("tensor_nbytes", category="properties")
def test_tensor_nbytes_works_for_tensors_too_big_to_allocate(candidate):
    """A 4 TiB shape is answered from arithmetic, without allocating it."""
    shape, dtype = (2**20, 2**20), torch.float32
    try:
        got = candidate.tensor_nbytes(shape, dtype)
    except NotImplementedError:
        raise
    except RuntimeError as exc:
        raise AssertionError(
            f"tensor_nbytes({shape}, {dtype}) raised RuntimeError: {exc}. Work the answer out "
            "from the shape and the dtype's element size; don't allocate the tensor.") from None
    require(got == 2**42, f"tensor_nbytes({shape}, {dtype}) returned {got}, expected {2**42}")


# batched_outer --------------------------------------------------------------------------------


def _outer_transposed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return b[:, :, None] * a[:, None, :]


def _outer_summed_over_batch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a.T @ b


OUTER_MISTAKES = (
    Mistake("your result is transposed: out[k, i, j] = a[k, i] * b[k, j], so a's index comes "
            "first and the shape is (B, N, M)", _outer_transposed),
    Mistake("you summed over the batch (a.T @ b); each batch entry needs its own outer product",
            _outer_summed_over_batch),
)


@pytest.mark.task("batched_outer", category="shape")
def test_batched_outer_is_b_by_n_by_m(candidate):
    """(B, N) and (B, M) give (B, N, M) in the inputs' dtype, also when B, N or M is 1."""
    for dtype, (B, N, M) in ((torch.float32, (2, 3, 5)), (torch.float64, (2, 3, 5)),
                             (torch.float32, (1, 3, 5)), (torch.float32, (2, 1, 5))):
        a, b = randn((B, N), 0, dtype), randn((B, M), 1, dtype)
        out = candidate.batched_outer(a, b)
        require(isinstance(out, torch.Tensor), f"batched_outer returned {type(out).__name__}")
        message = (f"batched_outer(a of shape {(B, N)}, b of shape {(B, M)}) has shape "
                   f"{tuple(out.shape)}; expected {(B, N, M)} = (B, N, M)")
        if tuple(out.shape) == (B, M, N) and N != M:
            message += (": your result is transposed. out[k, i, j] = a[k, i] * b[k, j], so a's "
                        "index comes first")
        elif 1 in (B, N):
            message += " (a dim of size 1 stays: don't squeeze)"
        require(out.shape == (B, N, M), message)
        require(out.dtype == dtype, f"batched_outer on {dtype} inputs returned {out.dtype}")


@pytest.mark.task("batched_outer", category="values")
@given(B=sizes(1, 5), N=sizes(1, 5), M=sizes(1, 5), seed=seeds(), dtype=float_dtypes())
def test_batched_outer_matches_the_reference(candidate, reference, B, N, M, seed, dtype):
    """out[k, i, j] = a[k, i] * b[k, j] for every batch entry k."""
    a, b = randn((B, N), seed, dtype), randn((B, M), seed + 1, dtype)
    assert_matches(candidate.batched_outer(a, b), reference.batched_outer, a, b,
                   what=f"batched_outer on a {tuple(a.shape)}, b {tuple(b.shape)}, {dtype}",
                   mistakes=telling(OUTER_MISTAKES, reference.batched_outer, a, b))


@pytest.mark.task("batched_outer", category="values")
@given(B=sizes(1, 4), N=sizes(1, 5), M=sizes(1, 5), seed=seeds())
@example(B=2, N=3, M=4, seed=0)
def test_batched_outer_is_float64_accurate_for_float64_inputs(candidate, B, N, M, seed):
    """Float64 inputs: each entry is one float64 product, correct to a rounding or two."""
    a, b = randn((B, N), seed), randn((B, M), seed + 1)
    out = candidate.batched_outer(a, b)
    truth = a[:, :, None] * b[:, None, :]
    float32_result = (a.float()[:, :, None] * b.float()[:, None, :]).double()
    check_float64_accuracy(out, truth, float64_tolerance(out, truth.abs(), 1), float32_result,
                           f"batched_outer on float64 a {(B, N)}, b {(B, M)}")


@pytest.mark.task("batched_outer", category="values")
@given(B=sizes(2, 4), N=sizes(1, 5), M=sizes(1, 5), seed=seeds(), dtype=float_dtypes())
@example(B=3, N=2, M=4, seed=0, dtype=torch.float32)
def test_batched_outer_of_transposed_inputs(candidate, reference, B, N, M, seed, dtype):
    """a and b may be non-contiguous views (a = rows.T): the same outer products."""
    a = transposed_copy(randn((B, N), seed, dtype))
    b = transposed_copy(randn((B, M), seed + 1, dtype))
    what = f"batched_outer on transposed (non-contiguous) views a {(B, N)}, b {(B, M)}, {dtype}"
    out = call_on_views(lambda: candidate.batched_outer(a, b), what)
    assert_matches(out, reference.batched_outer, a, b, what=what,
                   mistakes=telling(OUTER_MISTAKES, reference.batched_outer, a, b))


@pytest.mark.task("batched_outer", category="structure")
def test_batched_outer_uses_no_python_loop(candidate):
    """The number of tensor ops is the same for any batch size."""
    def make_call(batch: int) -> Callable[[], object]:
        a, b = randn((batch, 3), 0), randn((batch, 4), 1)
        return lambda: candidate.batched_outer(a, b)

    assert_op_count_constant(make_call, sizes=(2, 6, 24), dim="batch size (B)")

    def vary(dim: str) -> Callable[[int], Callable[[], object]]:
        def make_call(n: int) -> Callable[[], object]:
            N, M = (n, 3) if dim == "N" else (3, n)
            a, b = randn((2, N), 0), randn((2, M), 1)
            return lambda: candidate.batched_outer(a, b)
        return make_call

    assert_op_count_constant(vary("N"), sizes=(2, 6, 24), dim="length of a's rows (N)")
    assert_op_count_constant(vary("M"), sizes=(2, 6, 24), dim="length of b's rows (M)")
