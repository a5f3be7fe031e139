"""The harness itself: each check must reject the wrong answers it exists to reject."""

from __future__ import annotations

import re

import pytest
import torch

from grader.harness import (
    AS_FAST_AS_REFERENCE,
    VECTORIZED,
    Candidate,
    Mistake,
    assert_grads_match,
    assert_matches,
    assert_no_banned_ops,
    assert_op_count_constant,
    measure_speed_ratio,
    record_ops,
)
from grader.harness.compare import distinct_digits
from grader.strategies import randn


def softmax_rows(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def layer_norm_two_pass(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5)


def layer_norm_one_pass(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = (x * x).mean(-1, keepdim=True) - mean * mean  # cancels catastrophically at an offset
    return (x - mean) / torch.sqrt(var + 1e-5)


@pytest.mark.parametrize("cheat", [torch.zeros_like, lambda x: x, torch.empty_like],
                         ids=["zeros", "passthrough", "empty"])
def test_trivial_outputs_never_pass(cheat):
    """research §8.2.5: zeros, the input itself and stale memory must all fail."""
    x = randn((8, 16), seed=1, dtype=torch.float32) * 0.01  # tiny outputs: where atol alone fails
    with pytest.raises(AssertionError, match="are off"):
        assert_matches(cheat(x), lambda t: softmax_rows(t) * 0.001, x)


def test_error_ratio_rule_accepts_fp32_two_pass_and_rejects_one_pass_at_an_offset():
    x = randn((64, 256), seed=2, dtype=torch.float32, offset=1000.0)
    assert_matches(layer_norm_two_pass(x), torch.nn.functional.layer_norm, x, (256,))
    with pytest.raises(AssertionError, match="are off"):
        assert_matches(layer_norm_one_pass(x), torch.nn.functional.layer_norm, x, (256,))


def test_shape_dtype_and_type_come_before_values():
    x = randn((3, 4), seed=3)
    with pytest.raises(AssertionError, match=r"shape \(4, 3\), expected \(3, 4\)"):
        assert_matches(x.T, torch.exp, x, what="exp")
    with pytest.raises(AssertionError, match="dtype torch.float32, expected torch.float64"):
        assert_matches(x.float(), torch.exp, x, what="exp")
    with pytest.raises(AssertionError, match="expected a torch.Tensor, got list"):
        assert_matches(x.tolist(), torch.exp, x, what="exp")


def test_the_message_names_the_worst_element_and_the_mistake():
    x = randn((2, 5), seed=4)
    wrong = torch.softmax(x, dim=0)
    with pytest.raises(AssertionError) as failure:
        assert_matches(wrong, softmax_rows, x, what="weights", mistakes=[
            Mistake("softmax over the first axis", lambda t: torch.softmax(t, dim=0))])
    message = str(failure.value)
    assert message.startswith("weights: ")
    assert "worst at index (" in message and "max abs error" in message
    assert message.endswith("Likely mistake: softmax over the first axis.")


def test_values_that_differ_print_with_the_digits_that_tell_them_apart():
    assert distinct_digits(1.0000001, 1.0000003, torch.float32) == ("1.0000001", "1.0000003")
    assert distinct_digits(0.60508412, 0.07447531, torch.float32) == ("0.605084", "0.0744753")
    assert distinct_digits(1 + 1e-12, 1 + 3e-12, torch.float64) == ("1.000000000001",
                                                                    "1.000000000003")


def test_float32_values_stop_at_the_digits_float32_holds():
    got, expected = distinct_digits(1.0 + 1e-10, 1.0, torch.float32)
    assert got == expected == "1"


def test_the_worst_element_shows_where_it_differs_from_the_expected_value():
    """1.000001 against 1 to six digits would read `got 1, expected 1`."""
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    off = x.clone()
    off[0] = 1.000001
    with pytest.raises(AssertionError) as failure:
        assert_matches(off, torch.clone, x, what="copy")
    assert "worst at index (0,): got 1.000001, expected 1 (error 1e-06" in str(failure.value)


def test_nan_positions_are_reported():
    x = randn((2, 3), seed=5)
    got = torch.exp(x)
    got[1, 2] = float("nan")
    with pytest.raises(AssertionError, match=r"NaN at 1 positions .* first at index \(1, 2\)"):
        assert_matches(got, torch.exp, x)


class _ZeroBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.exp()

    @staticmethod
    def backward(ctx, grad):
        return torch.zeros_like(grad)


def exponential(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(x)


def test_a_zero_backward_fails_even_where_sum_would_not_notice():
    x = randn((4, 6), seed=6)
    with pytest.raises(AssertionError, match="gradient of exp w.r.t. `x`: 24 of 24 elements"):
        assert_grads_match(_ZeroBackward.apply, exponential, x, what="exp")


def test_a_detached_output_is_named():
    x = randn((4, 6), seed=7)
    with pytest.raises(AssertionError, match="cut off from the autograd graph"):
        assert_grads_match(lambda t: torch.exp(t).detach(), torch.exp, x, what="exp")


def _rows_in_a_loop(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.softmax(row, dim=-1) for row in x])


def test_op_count_catches_a_loop_and_passes_vectorized_code():
    assert_op_count_constant(lambda n: (lambda: softmax_rows(torch.randn(n, 5))))
    with pytest.raises(AssertionError, match="grows with the rows"):
        assert_op_count_constant(lambda n: (lambda: _rows_in_a_loop(torch.randn(n, 5))),
                                 dim="rows")


def test_banned_ops_are_found_however_they_are_reached():
    q = torch.randn(1, 3, 4)
    sneaky = getattr(torch.nn.functional, "scaled_dot_" + "product_attention")
    with pytest.raises(AssertionError, match="scaled_dot_product"):
        assert_no_banned_ops(sneaky, q, q, q, banned={"scaled_dot_product": "write it"})
    log = record_ops(softmax_rows, q)
    assert "aten._softmax" in log.aten


def test_the_candidate_handle_catches_inputs_changed_in_place():
    module = type("M", (), {})()
    module.double_it = lambda x: x.mul_(2)

    def double_it(x):
        return x.mul_(2)

    handle = Candidate(type("Module", (), {"double_it": staticmethod(double_it)}), "mine.py")
    with pytest.raises(AssertionError, match="changed its input `x` in place"):
        handle.double_it(torch.ones(3))
    with pytest.raises(AttributeError, match="mine.py has no `halve_it`"):
        handle.halve_it  # noqa: B018


def test_the_reference_against_itself_is_in_the_pass_band():
    x = randn((64, 256), seed=8, dtype=torch.float32)
    ratio = measure_speed_ratio(softmax_rows, softmax_rows, lambda i: (x + i,))
    assert ratio <= AS_FAST_AS_REFERENCE.pass_at


def test_a_per_row_loop_is_outside_the_vectorized_band():
    x = randn((512, 16), seed=9, dtype=torch.float32)
    ratio = measure_speed_ratio(_rows_in_a_loop, softmax_rows, lambda i: (x + i,))
    assert ratio > VECTORIZED.fail_above


@pytest.mark.slow
def test_speed_verdicts_do_not_flake_over_20_runs():
    x = randn((64, 256), seed=10, dtype=torch.float32)
    y = randn((512, 16), seed=11, dtype=torch.float32)
    for _ in range(20):
        assert measure_speed_ratio(softmax_rows, softmax_rows, lambda i: (x + i,)) \
            <= AS_FAST_AS_REFERENCE.pass_at
        assert measure_speed_ratio(_rows_in_a_loop, softmax_rows, lambda i: (y + i,)) \
            > VECTORIZED.fail_above


# --- the contract guard ------------------------------------------------------------------------

_LEARNER_SOURCE = '''
import torch

class Negate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.neg_()

    @staticmethod
    def backward(ctx, grad):
        return -grad

class Doubler(torch.nn.Module):
    def forward(self, x):
        return x.mul_(2)

class Shift:
    def __call__(self, x):
        return x.add_(1)

def second_in_place(xs):
    xs[1].zero_()
    return xs[0]

def freeze_fc(model):
    model.fc.weight.requires_grad_(False)

def to_eval(model):
    model.eval()

def set_cache(model):
    model.config.use_cache = False

def outer(x):
    return inner(x) + 1

def inner(x):
    return x * 2

def draws(n):
    import random
    return torch.rand(3), [random.random() for _ in range(n)]

class Counter:
    def __init__(self, x):
        self.x = x

    def bump(self):
        self.x = self.x + 1
        return self.x
'''


def _learner_module(tmp_path):
    import types

    from grader.harness import sandbox

    path = tmp_path / "learner.py"
    path.write_text(_LEARNER_SOURCE, encoding="utf-8")
    module = types.ModuleType("kata_contract_test")
    exec(compile(_LEARNER_SOURCE, str(path), "exec"), module.__dict__)  # noqa: S102
    sandbox.Watcher(str(path), frozenset(), "kata_contract_test").watch_module(module)
    return module


class _Config:
    use_cache = True

    def to_dict(self):
        return {"use_cache": self.use_cache}


def test_the_contract_guard_sees_inputs_changed_by_classes_callables_and_inside_lists(tmp_path):
    m = _learner_module(tmp_path)
    with pytest.raises(AssertionError, match=r"Negate.forward: your code changed its input `x`"):
        m.Negate.apply(torch.ones(3))
    with pytest.raises(AssertionError, match=r"Doubler.forward: .*`x` in place"):
        m.Doubler()(torch.ones(3))
    with pytest.raises(AssertionError, match=r"Shift.__call__: .*`x` in place"):
        m.Shift()(torch.ones(3))
    with pytest.raises(AssertionError, match=r"changed its input `xs\[1\]` in place .*at \[0\]"):
        m.second_in_place([torch.ones(2), torch.ones(2)])


def test_the_contract_guard_sees_flags_changed_on_a_passed_model(tmp_path):
    m = _learner_module(tmp_path)
    model = torch.nn.Sequential()
    model.fc = torch.nn.Linear(2, 2)
    with pytest.raises(AssertionError, match=r"`model.fc.weight.requires_grad` True -> False"):
        m.freeze_fc(model)
    with pytest.raises(AssertionError, match=r"`model.training` True -> False"):
        m.to_eval(model)
    model.config = _Config()
    with pytest.raises(AssertionError, match=r"`model.config.use_cache` True -> False"):
        m.set_cache(model)


def test_the_contract_guard_allows_what_a_task_declares_and_a_method_its_self(tmp_path):
    from grader.harness import contract

    m = _learner_module(tmp_path)
    model = torch.nn.Linear(2, 2)
    try:
        contract.declare({"freeze_fc": {"model": ["requires_grad"]}, "to_eval": {"model": "*"}})
        m.to_eval(model)
        assert not model.training
    finally:
        contract.declare({})
    counter = m.Counter(torch.zeros(1))
    assert counter.bump().item() == 1.0
    x = torch.ones(2)
    assert m.outer(x).tolist() == [3.0, 3.0]  # nested learner calls, checked once


@pytest.mark.parametrize("change,expected", [
    (lambda: torch.manual_seed(1234), "reseeded torch's global RNG"),
    (lambda: __import__("random").seed(1234), "reseeded Python's global `random`"),
    (lambda: __import__("numpy").random.seed(1234), "reseeded NumPy's global RNG"),
    (lambda: torch.set_float32_matmul_precision("medium"), "float32 matmul precision"),
    (lambda: torch.set_anomaly_enabled(True), "anomaly mode"),
    (lambda: torch.use_deterministic_algorithms(True), "deterministic algorithms"),
    (lambda: torch.set_default_dtype(torch.float64), "the default dtype"),
    (lambda: torch.set_grad_enabled(False), "grad mode"),
    (lambda: torch.set_autocast_enabled("cpu", True), "CPU autocast"),
    (lambda: torch.set_num_threads(torch.get_num_threads() + 1), "the thread count"),
])
def test_the_contract_guard_sees_global_state_left_changed_and_puts_it_back(change, expected):
    from grader.harness import contract

    before = {name: value for name, (value, _, _) in contract._settings().items()}

    def learner_fn():
        change()

    with pytest.raises(AssertionError, match=f"learner_fn: your code .*{re.escape(expected)}"):
        contract.make_guard(learner_fn, "learner_fn")()
    assert {name: value for name, (value, _, _) in contract._settings().items()} == before


def test_drawing_random_numbers_is_not_reseeding_and_the_stream_is_unchanged(tmp_path):
    import random

    m = _learner_module(tmp_path)
    torch.manual_seed(5)
    random.seed(5)
    expected = (torch.rand(3), [random.random() for _ in range(2000)])
    torch.manual_seed(5)
    random.seed(5)
    got = m.draws(2000)  # crosses three of the Mersenne Twister's 624-word blocks
    assert torch.equal(got[0], expected[0]) and got[1] == expected[1]
    assert torch.initial_seed() == 5
    assert torch.rand(1).item() == (torch.manual_seed(5), torch.rand(3), torch.rand(1))[2].item()
