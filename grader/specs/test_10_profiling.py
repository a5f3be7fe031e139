"""Spec for 10-profiling: top_ops, slowest_op, first_nan_op and sync_points.

Run by `./kata check 10-profiling`. Code is reached only through the `candidate` fixture. No check
reads a clock or compares a time with a number of seconds: the workloads are planted so that the
answer is a name that machine noise cannot change. The dominant op of each workload takes more
than 20 times the self time of any other op in it (a busy machine stretches an op by a few
milliseconds at most), and the traps that separate a right answer from a classic mistake (total
time against self time, a sum over calls against the time per call) are 10 times apart or more.
The only number checked is a unit: the reported self time of the dominant op must be within a
factor of 30 of the spec's own profile of the same op, so microseconds pass and milliseconds or
seconds do not.

Every check fails with a message written for the learner, so pytest's assertion rewriting, which
would append its own introspection, is off for this module: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

from grader.harness import skip_check

pytestmark = pytest.mark.rung("10-profiling")

TOP = "top_ops"
SLOWEST = "slowest_op"
NAN = "first_nan_op"
SYNC = "sync_points"

# Reported self time against the spec's own profile of the same op: noise moves it by a small
# factor, a wrong unit by 1000.
UNIT_BAND = 30.0


def require(condition: bool, message: str) -> None:
    """Fail with `message` alone."""
    if not condition:
        raise AssertionError(message)


def kind(value: Any) -> str:
    """A value's type in words."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if value is None or isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"[:200]
    return f"a {type(value).__name__} {str(value)[:150]}"


# --- workloads ----------------------------------------------------------------------------------


@dataclass
class Workload:
    """A function to profile, its arguments, and the facts the checks need about it."""

    name: str
    describe: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    dominant: str  # the op with the largest self time, summed over calls
    first: str = ""  # the first op it runs
    by_total: str = ""  # what ranking by total time puts first
    by_call: str = ""  # what ranking by time per call puts first
    calls: list[int] = field(default_factory=list)

    def __call__(self, *args: Any) -> Any:
        """Call fn, counting the calls (each tool must call it once)."""
        self.calls.append(1)
        return self.fn(*args)


def small_ops(s: Tensor) -> Tensor:
    """A dozen different cheap ops on a 64-element tensor (each a few microseconds)."""
    y = (s + 1) * 2
    y = torch.sigmoid(y.relu().exp().tanh())
    y = torch.cat([y, s]).softmax(0)
    return y.mean() + y.amax() + s.abs().sum()


def planted_matmul(s: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Small ops, one (1024, 1024) @ (1024, 1024) matmul, more small ops."""
    y = small_ops(s)
    c = a @ b  # aten::matmul -> aten::mm: ~2 GFLOP, tens of milliseconds
    return small_ops(s * y) + c[0, 0]


def planted_sort(s: Tensor, v: Tensor) -> Tensor:
    """Small ops, one sort of 262,144 floats, more small ops."""
    y = small_ops(s)
    values, _ = torch.sort(v)
    return small_ops(s - y) + values[0]


def planted_linear(s: Tensor, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """A big F.linear inside a record_function region: region > aten::linear > aten::addmm."""
    y = small_ops(s)
    with record_function("projection"):
        out = F.linear(x, w, b)  # aten::linear -> aten::t, aten::addmm
    return small_ops(s + y) + out[0, 0]


def planted_many_calls(s: Tensor, m: Tensor, a: Tensor) -> Tensor:
    """One (448, 448) matmul (~2 ms, once), then 600 small cumsums (~60 µs each, ~36 ms): about 18x
    more time in all, and about 30x less per call, so neither ranking wavers on a noisy machine."""
    y = small_ops(s)
    c = a @ a
    total = m
    for _ in range(600):
        total = torch.cumsum(m, dim=1)
    return y + c[0, 0] + total[0, 0]


def planted_region(s: Tensor) -> Tensor:
    """Small ops around a record_function region of pure Python work: the region's own time."""
    y = small_ops(s)
    with record_function("host_bookkeeping"):
        total = 0
        for i in range(300_000):  # tens of milliseconds of Python, no tensor op
            total += i * i
    return small_ops(s + y) + total % 7


def nothing_big(s: Tensor) -> Tensor:
    """Only small ops, no matmul."""
    return small_ops(s)


def randn(*shape: int, seed: int, device: torch.device) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen).to(device)


@pytest.fixture(scope="module")
def workloads() -> dict[str, Workload]:
    cpu = torch.device("cpu")
    s = randn(64, seed=1, device=cpu)
    loads = {
        "matmul": Workload(
            "matmul", "small ops around one (1024, 1024) @ (1024, 1024) matmul",
            planted_matmul, (s, randn(1024, 1024, seed=2, device=cpu),
                             randn(1024, 1024, seed=3, device=cpu)),
            dominant="aten::mm", first="aten::add", by_total="aten::matmul"),
        "sort": Workload(
            "sort", "small ops around one torch.sort of 262,144 floats",
            planted_sort, (s, randn(1 << 18, seed=4, device=cpu)),
            dominant="aten::sort", first="aten::add"),
        "linear": Workload(
            "linear", "small ops and one F.linear((512, 1024), (1024, 1024) weight, bias) inside "
            "record_function('projection')",
            planted_linear, (s, randn(512, 1024, seed=5, device=cpu),
                             randn(1024, 1024, seed=6, device=cpu),
                             randn(1024, seed=7, device=cpu)),
            dominant="aten::addmm", first="aten::add", by_total="projection"),
        "many": Workload(
            "many", "one (448, 448) @ (448, 448) matmul, then 600 torch.cumsum calls on a "
            "(64, 1024) tensor",
            planted_many_calls, (s, randn(64, 1024, seed=8, device=cpu),
                                 randn(448, 448, seed=9, device=cpu)),
            dominant="aten::cumsum", first="aten::add", by_call="aten::mm"),
        "small": Workload("small", "a dozen small ops and no matmul", nothing_big, (s,),
                          dominant=""),
        "region": Workload(
            "region", "small ops around record_function('host_bookkeeping'), a region of pure "
            "Python work (a 300,000-step loop)", planted_region, (s,),
            dominant="host_bookkeeping", first="aten::add"),
    }
    for load in loads.values():  # warm up: first calls pay one-off costs (allocations, init)
        load.fn(*load.args)
    with profile(activities=[ProfilerActivity.CPU]):  # the profiler's own first start is slow
        pass
    return loads


def own_profile(load: Workload) -> dict[str, tuple[float, float, int]]:
    """The spec's own profile of a workload: name -> (self µs, total µs, calls)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        load.fn(*load.args)
    return {evt.key: (evt.self_cpu_time_total, evt.cpu_time_total, evt.count)
            for evt in prof.key_averages() if evt.device_type == DeviceType.CPU}


def call_top_ops(candidate: Any, load: Workload, k: int | None) -> list[tuple[str, float]]:
    """top_ops on a workload, checked for shape: a list of (str, number) pairs, at most k;
    k=None calls it without k (its default)."""
    load.calls.clear()
    if k is None:
        result = candidate.top_ops(load, *load.args)
        what = f"top_ops(fn, ...) (k left at its default) on {load.describe}"
    else:
        result = candidate.top_ops(load, *load.args, k=k)
        what = f"top_ops(fn, ..., k={k}) on {load.describe}"
    require(isinstance(result, list), (
        f"{what} returned {kind(result)}; return a list of (op name, self time in µs) tuples"))
    for entry in result:
        require(isinstance(entry, tuple) and len(entry) == 2, (
            f"{what} returned a list holding {kind(entry)}; each entry is a (name, self time "
            "in µs) tuple, e.g. ('aten::mm', 20512.3)"))
        name, micros = entry
        require(isinstance(name, str), (
            f"{what}: an entry's name is {kind(name)}; use the profiler's key, a str like "
            "'aten::mm' (evt.key)"))
        require(isinstance(micros, (int, float)) and not isinstance(micros, bool), (
            f"{what}: the time of {name!r} is {kind(micros)}; report a float number of "
            "microseconds (evt.self_cpu_time_total), not a tensor or a formatted string"))
    return result


def ranking_mistake(names: list[str], load: Workload, times: list[float] | None = None) -> str:
    """Why the wrong op came first, when a classic mistake explains it (`times`: the times the
    learner reported with `names`, where there are any)."""
    if not names:
        return "nothing was reported: was fn called inside the `with profile(...)` block?"
    if load.by_total and names[0] == load.by_total:
        return (f"{names[0]!r} is the op with the largest TOTAL time, which includes the time "
                f"of the ops it calls ({load.dominant!r} among them): rank by self time "
                "(evt.self_cpu_time_total), not evt.cpu_time_total")
    # (an op fn never runs among them: totals carried over from an earlier call, not this)
    # ranked by time per call: largest first by the learner's own numbers (a list sorted
    # smallest first that happens to start with the slowest-per-call op is another mistake)
    ranked = times is None or times == sorted(times, reverse=True)
    if (load.by_call and names[0] == load.by_call and ranked
            and set(names) <= set(own_profile(load))):
        return (f"{names[0]!r} is the slowest per call, but {load.dominant!r} runs 600 times "
                "and costs more in all: rank by the self time summed over calls "
                "(key_averages()'s self_cpu_time_total), not by the time per call or by single "
                "events")
    if load.name == "region" and load.dominant not in names:
        return (f"{load.dominant!r}, a record_function region, is missing: a region is an entry "
                "of key_averages() like any op, and its self time is the work done in it "
                "outside the ops it calls; keep every CPU entry, not only the aten:: ones")
    # (the dominant op listed after it: the order is wrong, these are not the first ops)
    if load.first and names[0] == load.first and load.dominant not in names:
        return f"{names[0]!r} is simply the first op fn runs"
    return "rank the key_averages() entries by self time, largest first"


# --- top_ops ------------------------------------------------------------------------------------


@pytest.mark.task(TOP, category="shape")
@pytest.mark.parametrize("k", [1, 3, 6])
def test_top_ops_returns_k_pairs(candidate, workloads, k):
    """k (name, self µs) tuples when fn ran more than k distinct ops."""
    load = workloads["matmul"]
    result = call_top_ops(candidate, load, k)
    distinct = len(own_profile(load))
    require(len(result) == k, (
        f"top_ops(fn, ..., k={k}) on {load.describe} returned {len(result)} entries; fn runs "
        f"{distinct} distinct ops, so there should be exactly k={k}"
        + (" (an off-by-one in the slice?)" if abs(len(result) - k) == 1 else "")))


@pytest.mark.task(TOP, category="shape")
def test_top_ops_returns_five_pairs_by_default(candidate, workloads):
    """Without k, top_ops returns the 5 slowest ops (the default the stub's signature gives)."""
    load = workloads["matmul"]
    distinct = len(own_profile(load))
    assert distinct >= 6, "spec: the matmul workload must run at least 6 distinct ops"
    result = call_top_ops(candidate, load, None)
    require(len(result) == 5, (
        f"top_ops(fn, ...) without k on {load.describe} returned {len(result)} entries; fn runs "
        f"{distinct} distinct ops and k defaults to 5 (def top_ops(fn, *args, k=5)): keep the "
        "stub's default"))


@pytest.mark.task(TOP, category="shape")
def test_top_ops_returns_fewer_when_fn_runs_fewer_ops(candidate, workloads):
    """k larger than the number of distinct ops: one entry per op, no padding, no repeats."""
    load = workloads["small"]
    expected = sorted(own_profile(load))
    result = call_top_ops(candidate, load, 100)
    names = [name for name, _ in result]
    require(len(result) == len(expected), (
        f"top_ops(fn, ..., k=100) on {load.describe} returned {len(result)} entries, but fn "
        f"runs {len(expected)} distinct ops ({', '.join(expected)}): one entry per op name. "
        + ("Names repeat: aggregate with prof.key_averages() (one entry per name), not "
           "prof.events() (one per call) or key_averages(group_by_input_shape=True)"
           if len(set(names)) < len(names) else "")))


@pytest.mark.task(TOP, category="values")
@pytest.mark.parametrize("which", ["matmul", "sort"])
def test_the_dominant_op_comes_first(candidate, workloads, which):
    """Among many small ops, the one op that takes >20x the time of each comes first."""
    load = workloads[which]
    result = call_top_ops(candidate, load, 5)
    names = [name for name, _ in result]
    require(bool(names) and names[0] == load.dominant, (
        f"top_ops(fn, ..., k=5) on {load.describe} put {names[0] if names else None!r} first; "
        f"{load.dominant!r} takes over 20 times the self time of any other op there. "
        f"You returned {names}. {ranking_mistake(names, load)}"))


@pytest.mark.task(TOP, category="values")
@pytest.mark.parametrize("which", ["matmul", "linear", "many"])
def test_top_ops_are_distinct_and_sorted_by_self_time(candidate, workloads, which):
    """All ops (k large): distinct names, in descending order of the times reported."""
    load = workloads[which]
    result = call_top_ops(candidate, load, 100)
    names = [name for name, _ in result]
    what = f"top_ops(fn, ..., k=100) on {load.describe}"
    repeated = sorted({name for name in names if names.count(name) > 1})
    require(not repeated, (
        f"{what} lists {repeated} more than once; report one entry per op name with its time "
        "summed over calls: prof.key_averages(), not prof.events() or "
        "group_by_input_shape=True"))
    times = [micros for _, micros in result]
    for i in range(len(times) - 1):
        require(times[i] >= times[i + 1], (
            f"{what}: entry {i} {result[i]} comes before entry {i + 1} {result[i + 1]}, a larger "
            "time. The list must be sorted by the time it reports, largest first; reporting "
            "total time (evt.cpu_time_total) while ranking by self time, or the other way "
            "round, breaks the order"))


@pytest.mark.task(TOP, category="values")
def test_top_ops_ranks_by_self_time_not_total_time(candidate, workloads):
    """F.linear inside a record_function: the region and aten::linear contain aten::addmm's time;
    by self time aten::addmm comes first and both wrappers far below it."""
    load = workloads["linear"]
    result = call_top_ops(candidate, load, 100)
    names = [name for name, _ in result]
    require(bool(names) and names[0] == load.dominant, (
        f"top_ops(fn, ..., k=100) on {load.describe} put {names[0] if names else None!r} first; "
        f"the op that does the work is {load.dominant!r}. {ranking_mistake(names, load)}"))
    reported = dict(result)
    for wrapper in ("projection", "aten::linear"):
        if wrapper in reported:
            require(reported[wrapper] < 0.5 * reported[load.dominant], (
                f"top_ops on {load.describe} reports {reported[wrapper]:.1f} µs for {wrapper!r} "
                f"and {reported[load.dominant]:.1f} µs for {load.dominant!r}; {wrapper!r} only "
                f"wraps {load.dominant!r}, so its SELF time is tiny. You report its total time "
                "(evt.cpu_time_total); report evt.self_cpu_time_total"))


@pytest.mark.task(TOP, category="values")
def test_top_ops_sums_an_op_over_its_calls(candidate, workloads):
    """600 calls at ~60 µs (~36 ms in all) outrank one call at ~2 ms."""
    load = workloads["many"]
    result = call_top_ops(candidate, load, 3)
    names = [name for name, _ in result]
    require(bool(names) and names[0] == load.dominant, (
        f"top_ops(fn, ..., k=3) on {load.describe} put {names[0] if names else None!r} first, "
        f"but {load.dominant!r} takes the most time in all. You returned {names}. "
        f"{ranking_mistake(names, load, [float(micros) for _, micros in result])}"))


@pytest.mark.task(TOP, category="values")
def test_top_ops_names_are_the_profilers_keys(candidate, workloads):
    """Names as key_averages() spells them ('aten::mm', not 'mm' or 'aten.mm')."""
    load = workloads["matmul"]
    known = own_profile(load)
    result = call_top_ops(candidate, load, 6)
    unknown = [name for name, _ in result if name not in known]
    require(not unknown, (
        f"top_ops on {load.describe} returned names the profiler does not report: {unknown}. "
        f"Use evt.key from prof.key_averages() as it is, e.g. {sorted(known)[:4]}"))


@pytest.mark.task(TOP, category="values")
def test_top_ops_reports_microseconds(candidate, workloads):
    """The dominant op's time is within a factor of 30 of the spec's own profile (µs)."""
    load = workloads["matmul"]
    result = dict(call_top_ops(candidate, load, 3))
    own = own_profile(load)[load.dominant][0]
    mine = result.get(load.dominant)
    require(mine is not None, (
        f"top_ops(fn, ..., k=3) on {load.describe} left out {load.dominant!r}, the slowest op"))
    ratio = mine / own if own > 0 else float("inf")
    unit = ("milliseconds" if 1e-4 < ratio < 1e-2 else "seconds" if ratio <= 1e-4
            else "nanoseconds" if ratio > 100 else "another unit")
    require(1 / UNIT_BAND <= ratio <= UNIT_BAND, (
        f"top_ops on {load.describe} reports {mine:.6g} for {load.dominant!r}; the grader's "
        f"own profile measured {own:.6g} µs. This looks like {unit}: report microseconds, as "
        "evt.self_cpu_time_total does, without converting"))


@pytest.mark.task(TOP, category="properties")
def test_each_call_profiles_only_its_own_fn(candidate, workloads):
    """A second call reports only what its own fn ran: nothing carries over from the first."""
    big, small = workloads["matmul"], workloads["small"]
    call_top_ops(candidate, big, 5)
    names = [name for name, _ in call_top_ops(candidate, small, 100)]
    leftovers = [name for name in ("aten::mm", "aten::matmul") if name in names]
    require(not leftovers, (
        f"top_ops on {small.describe} reported {leftovers}, which only the previous call's fn "
        "ran. Each call profiles its own fn: a fresh `with profile(...) as prof:` around one "
        "fn(*args), with no totals kept between calls"))


@pytest.mark.task(TOP, category="properties")
def test_top_ops_calls_fn_once(candidate, workloads):
    """fn runs exactly once: profiling a training step must not take two steps."""
    load = workloads["small"]
    call_top_ops(candidate, load, 3)
    require(len(load.calls) == 1, (
        f"top_ops called fn {len(load.calls)} times; call it exactly once, inside the "
        "profiler (the caller warms up beforehand; a second call of a training step would "
        "update the weights twice)"))


@pytest.mark.task(TOP, category="values")
def test_top_ops_ranks_a_record_function_region_like_any_op(candidate, workloads):
    """A record_function region is an entry too: when its own (self) time dominates, it comes
    first."""
    load = workloads["region"]
    result = call_top_ops(candidate, load, 3)
    names = [name for name, _ in result]
    require(bool(names) and names[0] == load.dominant, (
        f"top_ops(fn, ..., k=3) on {load.describe} put {names[0] if names else None!r} first; "
        f"the region {load.dominant!r} has by far the largest self time. You returned {names}. "
        f"{ranking_mistake(names, load)}"))


@pytest.mark.task(TOP, category="shape")
def test_top_ops_with_k_zero_is_empty(candidate, workloads):
    """k=0 asks for no entries: an empty list."""
    load = workloads["small"]
    result = call_top_ops(candidate, load, 0)
    require(result == [], (
        f"top_ops(fn, ..., k=0) on {load.describe} returned {len(result)} entries; k is the "
        "number of entries to return, so k=0 gives []: slice rows[:k], with no special case "
        "that turns 0 into 'no limit'"))


@pytest.mark.task(TOP, category="properties")
def test_top_ops_leaves_the_thread_count_alone(candidate, workloads):
    """top_ops does not change torch's thread count (a caller's setting) to steady its times."""
    load = workloads["small"]
    before = torch.get_num_threads()
    planted = 3 if before != 3 else 2
    torch.set_num_threads(planted)
    try:
        call_top_ops(candidate, load, 3)
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    require(after == planted, (
        f"top_ops changed torch's thread count from {planted} to {after}. The thread count is "
        "the caller's setting: leave torch.set_num_threads alone (or restore it before "
        "returning)"))


# --- slowest_op ---------------------------------------------------------------------------------


def call_slowest(candidate: Any, load: Workload) -> Any:
    load.calls.clear()
    result = candidate.slowest_op(load, *load.args)
    require(result is None or isinstance(result, str), (
        f"slowest_op on {load.describe} returned {kind(result)}; return the op's name, a str "
        "like 'aten::mm' (or None when fn ran no op)"))
    return result


@pytest.mark.task(SLOWEST, category="shape")
def test_slowest_op_returns_a_name(candidate, workloads):
    """A str, the profiler's key."""
    load = workloads["matmul"]
    result = call_slowest(candidate, load)
    require(result in own_profile(load), (
        f"slowest_op on {load.describe} returned {result!r}, a name the profiler does not "
        "report; return evt.key from prof.key_averages() as it is, e.g. 'aten::mm'"))


@pytest.mark.task(SLOWEST, category="values")
@pytest.mark.parametrize("which", ["matmul", "sort", "linear", "many"])
def test_slowest_op_finds_the_planted_op(candidate, workloads, which):
    """The op with the largest self time summed over calls, however it is hidden."""
    load = workloads[which]
    result = call_slowest(candidate, load)
    require(result == load.dominant, (
        f"slowest_op on {load.describe} returned {result!r}; the slowest op there is "
        f"{load.dominant!r}. {ranking_mistake([result] if result else [], load)}"))


@pytest.mark.task(SLOWEST, category="properties")
def test_slowest_op_calls_fn_once(candidate, workloads):
    """fn runs exactly once."""
    load = workloads["small"]
    call_slowest(candidate, load)
    require(len(load.calls) == 1, (
        f"slowest_op called fn {len(load.calls)} times; call it exactly once, inside the "
        "profiler"))


@pytest.mark.task(SLOWEST, category="properties")
def test_slowest_op_of_an_empty_fn_is_none(candidate):
    """A fn that runs no op at all has no slowest op."""
    load = Workload("empty", "a fn that runs no tensor op", lambda: None, (), dominant="")
    result = call_slowest(candidate, load)
    require(result is None, (
        f"slowest_op on {load.describe} returned {result!r}; with nothing profiled, return "
        "None"))


@pytest.mark.task(SLOWEST, category="values")
def test_slowest_op_can_be_a_record_function_region(candidate, workloads):
    """A region whose own time dominates is the slowest op: a name the profiler reports."""
    load = workloads["region"]
    result = call_slowest(candidate, load)
    require(result == load.dominant, (
        f"slowest_op on {load.describe} returned {result!r}; the entry with the largest self "
        f"time there is {load.dominant!r}. {ranking_mistake([result] if result else [], load)}"))


# --- first_nan_op -------------------------------------------------------------------------------


def where_sqrt(x: Tensor) -> Tensor:
    a = x * 2
    h = torch.relu(a.tanh())
    s = torch.where(h > 0, h.sqrt(), torch.zeros_like(h))  # sqrt'(0) = 0 / 0 in backward
    return (s.exp() * 3).sum()


def where_log(x: Tensor) -> Tensor:
    a = x * 2
    b = torch.relu(a)
    s = torch.where(b > 0, torch.log(b), torch.zeros_like(b))  # log'(0) * 0 = 0 / 0
    return (s.sin() + 1).sum()


def where_div(x: Tensor) -> Tensor:
    a = x.exp() - 1
    d = x * x
    s = torch.where(d != 0, a / d, torch.zeros_like(d))  # d(a / d) at d == 0: 0 / 0
    return s.cos().sum()


def norm_by_hand(x: Tensor) -> Tensor:
    e = x.exp() - 1  # exactly 0 where x == 0
    h = e * e
    s = h.sqrt()  # backward: inf at h == 0, not NaN; then e * e's backward: inf * 0 = NaN
    return (s.tanh() + 1).sum()


def clean_chain(x: Tensor) -> Tensor:
    a = x * 2
    return (a.exp().tanh() + a.sin()).sum()


def inf_forward(x: Tensor) -> Tensor:
    a = x * 2
    b = torch.log(torch.relu(a))  # log(0) = -inf in the forward pass where a <= 0
    return (b * 3).sum()


def nan_forward(x: Tensor) -> Tensor:
    a = x * 2
    b = torch.log(a - 1)  # NaN in the forward pass where a < 1
    return (b * a).sum()


@dataclass(frozen=True)
class NanCase:
    fn: Callable[[Tensor], Tensor]
    describe: str
    expected: str | None
    last: str = ""  # the NaN node furthest from the loss: where a scan of every node ends
    loss: str = ""  # the loss's own node


NAN_X = (-1.0, 0.0, 0.5, 2.0)
NAN_CASES = {
    "sqrt": NanCase(where_sqrt, "x*2 -> tanh -> relu -> torch.where(h > 0, h.sqrt(), 0) -> exp "
                    "-> *3 -> sum", "SqrtBackward0", last="MulBackward0", loss="SumBackward0"),
    "log": NanCase(where_log, "x*2 -> relu -> torch.where(b > 0, log(b), 0) -> sin -> +1 -> sum",
                   "LogBackward0", last="MulBackward0", loss="SumBackward0"),
    "div": NanCase(where_div, "a = exp(x) - 1, d = x*x -> torch.where(d != 0, a / d, 0) -> cos "
                   "-> sum", "DivBackward0", last="ExpBackward0", loss="SumBackward0"),
    "inf": NanCase(norm_by_hand, "e = exp(x) - 1 -> h = e*e -> sqrt(h) -> tanh -> +1 -> sum",
                   "MulBackward0", last="ExpBackward0", loss="SumBackward0"),
    "clean": NanCase(clean_chain, "a = x*2 -> exp(a).tanh() + sin(a) -> sum", None),
}


def call_first_nan(candidate: Any, case: NanCase, x: Tensor) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anomaly mode warns on every use
        result = candidate.first_nan_op(case.fn, x)
    require(result is None or isinstance(result, str), (
        f"first_nan_op(fn, x) for {case.describe} returned {kind(result)}; return the autograd "
        "node's name as anomaly mode reports it, a str like 'SqrtBackward0', or None"))
    return result


def nan_x(device: torch.device) -> Tensor:
    return torch.tensor(NAN_X, dtype=torch.float64, device=device)


@pytest.mark.task(NAN, category="shape")
def test_first_nan_op_returns_a_node_name_or_none(candidate, device):
    """A str like 'SqrtBackward0' when backward makes NaN, None when it does not."""
    call_first_nan(candidate, NAN_CASES["sqrt"], nan_x(device))
    call_first_nan(candidate, NAN_CASES["clean"], nan_x(device))


@pytest.mark.task(NAN, category="values")
@pytest.mark.parametrize("which", ["sqrt", "log", "div", "inf"])
def test_first_nan_op_names_the_op_where_nan_starts(candidate, device, which):
    """A chain, clean before and after one op whose backward makes the first NaN."""
    case = NAN_CASES[which]
    result = call_first_nan(candidate, case, nan_x(device))
    if result == case.expected:
        return
    why = {
        None: "you found none: run forward and backward inside "
              "torch.autograd.detect_anomaly(), which raises a RuntimeError naming the node",
        case.last: f"{case.last!r} is the LAST node whose output holds NaN: once NaN appears it "
                   "spreads to every node after it in backward. The answer is the first one, "
                   "the node anomaly mode stops at",
        case.loss: f"{case.loss!r} is the loss's own node, where backward starts, not where NaN "
                   "starts; anomaly mode names the node that produced it",
    }.get(result, "return the name in anomaly mode's error, \"Function 'XBackward0' returned "
                  "nan values\"")
    if which == "inf" and result == "SqrtBackward0":
        why = ("SqrtBackward0 returns inf here (sqrt'(0) = 1 / 0), not NaN; the NaN first "
               "appears one node later, in e*e's backward (inf * 0). Report what anomaly mode "
               "reports: it checks for NaN only")
    raise AssertionError(
        f"first_nan_op(fn, x) with x = {NAN_X} and fn = {case.describe} returned {result!r}; "
        f"the first backward node to return NaN is {case.expected!r}. {why}.")


@pytest.mark.task(NAN, category="values")
def test_first_nan_op_is_none_without_nan(candidate, device):
    """Clean forward and backward: None."""
    case = NAN_CASES["clean"]
    result = call_first_nan(candidate, case, nan_x(device))
    require(result is None, (
        f"first_nan_op(fn, x) with x = {NAN_X} and fn = {case.describe} returned {result!r}, "
        "but no gradient there is NaN; return None when backward finishes cleanly"))


@pytest.mark.task(NAN, category="properties")
def test_first_nan_op_refuses_a_nan_forward(candidate, device):
    """A loss that is already NaN is a forward bug: ValueError, not a backward node's name."""
    case = NanCase(nan_forward, "a = x*2 -> log(a - 1) (NaN where a < 1) -> * a -> sum", None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = candidate.first_nan_op(case.fn, nan_x(device))
    except ValueError:
        return
    raise AssertionError(
        f"first_nan_op(fn, x) with x = {NAN_X} and fn = {case.describe} returned {result!r}, "
        "but the loss is already NaN after the forward pass. Anomaly mode checks backward only "
        "and would name a later op that merely uses the NaN (here MulBackward0); check "
        "torch.isfinite(loss) before backward and raise ValueError when it is not")


@pytest.mark.task(NAN, category="properties")
def test_first_nan_op_refuses_an_infinite_forward(candidate, device):
    """A loss that is already -inf is a forward bug too: ValueError, NaN or inf alike."""
    case = NanCase(inf_forward, "a = x*2 -> log(relu(a)) (-inf where a <= 0) -> *3 -> sum",
                   None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = candidate.first_nan_op(case.fn, nan_x(device))
    except ValueError:
        return
    raise AssertionError(
        f"first_nan_op(fn, x) with x = {NAN_X} and fn = {case.describe} returned {result!r}, "
        "but the loss is already -inf after the forward pass. Refuse inf as well as NaN: "
        "check torch.isfinite(loss) (not only torch.isnan) and raise ValueError")


@pytest.mark.task(NAN, category="properties")
def test_first_nan_op_leaves_a_parameter_alone(candidate, device):
    """x may be a leaf that requires grad (a parameter): it gets no .grad from the call, even
    when backward runs to the end (no NaN to stop it)."""
    x = nan_x(device).requires_grad_(True)
    case = NAN_CASES["clean"]
    call_first_nan(candidate, case, x)
    require(x.requires_grad and x.grad is None, (
        f"first_nan_op(fn, x) with x = {NAN_X}, a leaf that requires grad, and fn = "
        f"{case.describe} "
        + ("left x with a .grad: backward reached the caller's x through your copy. "
           "x.clone() stays in x's graph; take leaf = x.detach().requires_grad_(), which "
           "starts a graph of its own" if x.grad is not None else
           "turned off x.requires_grad; leave the caller's tensor as it is")))


@pytest.mark.task(NAN, category="properties")
def test_first_nan_op_leaves_x_alone(candidate, device):
    """x does not start requiring grad and gets no .grad: work on a detached copy."""
    x = nan_x(device)
    call_first_nan(candidate, NAN_CASES["sqrt"], x)
    require(not x.requires_grad and x.grad is None, (
        "first_nan_op(fn, x) changed the caller's x: it now "
        + ("requires grad" if x.requires_grad else "has a .grad")
        + ". Take a copy that requires grad: leaf = x.detach().requires_grad_()"))


# --- sync_points --------------------------------------------------------------------------------


def training_step_with_syncs(x: Tensor, w: Tensor) -> float:
    """A step with five syncs, two of them hidden, among ops that never sync."""
    h = torch.tanh(x @ w)  # (32, 16)
    loss = h.pow(2).mean()
    as_double = h.to(torch.float64)  # a dtype cast: a copy on the device, no sync
    same = h.cpu()  # on a CPU tensor: nothing at all
    value = loss.item()  # sync 1: _local_scalar_dense
    positive = h[h > 0]  # sync 2: boolean-mask indexing runs nonzero inside aten::index
    if loss > 0.01:  # sync 3: bool() of a tensor
        value += 1.0
    picked = torch.nonzero(as_double < 0)  # sync 4
    count = int(positive.numel()) + int(picked.shape[0])  # shapes are known: no sync
    ok = torch.allclose(same, h)  # sync 5: allclose compares on the device, then .item()
    return value + count + float(ok)


SYNC_EXPECTED = ["aten::_local_scalar_dense", "aten::nonzero", "aten::_local_scalar_dense",
                 "aten::nonzero", "aten::_local_scalar_dense"]
SYNC_STEP = ("x (32, 8) @ w (8, 16) -> tanh -> loss.item(); h.to(float64); h.cpu(); h[h > 0]; "
             "`if loss > 0.01`; torch.nonzero(...); torch.allclose(...)")


def step_without_syncs(x: Tensor, w: Tensor) -> Tensor:
    h = torch.tanh(x @ w)
    return (h.to(torch.float64) * 2).sum() + h.cpu().mean()


def call_sync_points(candidate: Any, fn: Callable[..., Any], args: tuple[Any, ...],
                     describe: str) -> list[str]:
    result = candidate.sync_points(fn, *args)
    require(isinstance(result, list) and all(isinstance(name, str) for name in result), (
        f"sync_points on {describe} returned {kind(result)}; return a list of op names, one per "
        "sync, in the order they ran"))
    return result


def sync_mistake(result: list[str], expected: list[str] = SYNC_EXPECTED) -> str:
    """Why a sync list is wrong, when a classic mistake explains it."""
    if not expected and not set(result) - {"aten::_local_scalar_dense", "aten::nonzero"}:
        return ""  # real syncs where none ran: carried over from an earlier call (checked apart)
    if not expected or len(result) > 2 * len(expected) or any(name not in
                                               ("aten::_local_scalar_dense", "aten::nonzero",
                                                "aten::item", "aten::is_nonzero", "aten::copy_",
                                                "aten::_to_copy", "aten::index", "aten::to")
                                               for name in result):
        return ("you report ops that never make the host wait: keep only "
                "'aten::_local_scalar_dense' and 'aten::nonzero' (SYNC_OPS), and on CUDA "
                "copies to the CPU")
    if "aten::item" in result or "aten::is_nonzero" in result:
        return ("count each sync once: .item() is aten::item calling aten::_local_scalar_dense, "
                "and bool(t) adds aten::is_nonzero around both; only aten::_local_scalar_dense "
                "counts")
    if "aten::_local_scalar_dense" not in result:
        return (".item(), bool(t) and int(t) all copy a value to the host: they appear as "
                "aten::_local_scalar_dense")
    if sorted(result) == sorted(expected):
        return ("the right syncs in the wrong order: walk prof.events() sorted by "
                "evt.time_range.start (key_averages() groups them by name)")
    if result.count("aten::nonzero") < expected.count("aten::nonzero"):
        return ("h[h > 0] syncs too: boolean-mask indexing calls aten::nonzero inside "
                "aten::index. Look at every event, nested ones included (a TorchDispatchMode "
                "sees only the outermost op)")
    if result.count("aten::_local_scalar_dense") < expected.count("aten::_local_scalar_dense"):
        return ("syncs inside other ops count too: torch.allclose ends in .item(). Keep nested "
                "events, and count every call, not one per name")
    return "report each sync in SYNC_OPS once, in the order it ran"


@pytest.mark.task(SYNC, category="values")
def test_sync_points_finds_every_sync_in_order(candidate, device):
    """.item(), h[h > 0], `if loss > ...`, torch.nonzero and torch.allclose, in order; no dtype
    cast and no .cpu() of a CPU tensor."""
    if device.type != "cpu":
        skip_check("the CUDA step is checked by test_sync_points_on_cuda")
    x, w = randn(32, 8, seed=11, device=device), randn(8, 16, seed=12, device=device)
    training_step_with_syncs(x, w)  # warm up
    result = call_sync_points(candidate, training_step_with_syncs, (x, w), SYNC_STEP)
    require(result == SYNC_EXPECTED, (
        f"sync_points on a step ({SYNC_STEP}) returned {result}; expected {SYNC_EXPECTED}. "
        f"{sync_mistake(result)}"))


@pytest.mark.task(SYNC, category="values")
def test_a_step_without_syncs_has_none(candidate, device):
    """matmul, tanh, a dtype cast, .cpu() of a CPU tensor, a sum: nothing waits."""
    if device.type != "cpu":
        skip_check("on CUDA .cpu() is a real sync; see test_sync_points_on_cuda")
    x, w = randn(32, 8, seed=11, device=device), randn(8, 16, seed=12, device=device)
    describe = "x @ w -> tanh -> .to(float64) * 2 -> sum, plus h.cpu().mean() on CPU tensors"
    result = call_sync_points(candidate, step_without_syncs, (x, w), describe)
    require(result == [], (
        f"sync_points on {describe} returned {result}; none of these make the host wait (a "
        "dtype cast stays on the device, .cpu() of a CPU tensor does nothing). "
        f"{sync_mistake(result, []) if result else ''}"))


@pytest.mark.task(SYNC, category="values")
def test_sync_points_calls_are_independent(candidate, device):
    """Two calls on the same step report the same syncs: nothing carries over between calls."""
    if device.type != "cpu":
        skip_check("the CUDA step is checked by test_sync_points_on_cuda")
    x, w = randn(32, 8, seed=11, device=device), randn(8, 16, seed=12, device=device)
    training_step_with_syncs(x, w)  # warm up
    first = list(call_sync_points(candidate, training_step_with_syncs, (x, w), SYNC_STEP))
    second = list(call_sync_points(candidate, training_step_with_syncs, (x, w), SYNC_STEP))
    require(second == first, (
        f"sync_points on a step ({SYNC_STEP}) returned {len(first)} syncs, then {len(second)} "
        "on the same step"
        + (": the second call also reports the previous call's syncs. Keep no list between "
           "calls: start a fresh one inside sync_points" if second[:len(first)] == first
           and len(second) > len(first) else
           "; each call profiles its own fn(*args) and reports only that")))


@pytest.mark.task(SYNC, category="properties")
def test_sync_points_calls_fn_once(candidate, workloads):
    """fn runs exactly once."""
    load = workloads["small"]
    load.calls.clear()
    candidate.sync_points(load, *load.args)
    require(len(load.calls) == 1, (
        f"sync_points called fn {len(load.calls)} times; call it exactly once, inside the "
        "profiler"))


# --- CUDA ---------------------------------------------------------------------------------------


def busy_region(seconds_of_work: int) -> None:
    """CPU-only Python work in a record_function region: much CPU time, no GPU time."""
    with record_function("host_bookkeeping"):
        total = 0
        for i in range(seconds_of_work):
            total += i * i


def gpu_matmul_step(s: Tensor, a: Tensor, b: Tensor) -> Tensor:
    y = small_ops(s)
    busy_region(200_000)  # a few ms of host time, zero device time
    c = a @ b
    return small_ops(s * y) + c[0, 0]


@pytest.mark.task(TOP, category="gpu")
def test_top_ops_ranks_by_gpu_time_on_cuda(candidate, device):
    """On CUDA the ranking is by GPU time: a big matmul beats a region of pure host work."""
    s = randn(64, seed=1, device=device)
    a, b = randn(4096, 4096, seed=2, device=device), randn(4096, 4096, seed=3, device=device)
    for _ in range(2):
        gpu_matmul_step(s, a, b)
    torch.cuda.synchronize(device)
    describe = ("a CUDA step: small ops, a record_function('host_bookkeeping') of pure Python "
                "work, a (4096, 4096) @ (4096, 4096) matmul")
    result = candidate.top_ops(gpu_matmul_step, s, a, b, k=3)
    names = [name for name, _ in result]
    require(bool(names) and names[0] == "aten::mm", (
        f"top_ops on {describe} returned {names}; on CUDA rank by GPU time "
        "(profile ProfilerActivity.CUDA too, evt.self_device_time_total): 'aten::mm' runs the "
        "GPU longest; host_bookkeeping only keeps the CPU busy. Keep CPU-side entries "
        "(evt.device_type == DeviceType.CPU): the kernels' own entries are not ops"))
    slowest = candidate.slowest_op(gpu_matmul_step, s, a, b)
    require(slowest == "aten::mm", (
        f"slowest_op on {describe} returned {slowest!r}; on CUDA it is 'aten::mm' by GPU time"))


def cuda_step_with_syncs(x: Tensor, w: Tensor) -> float:
    h = torch.tanh(x @ w)
    loss = h.pow(2).mean()
    value = loss.item()  # _local_scalar_dense
    half = h.to(torch.float16)  # stays on the GPU: no sync
    on_host = half.cpu()  # a GPU -> CPU copy: aten::copy_
    picked = torch.nonzero(h > 0)  # nonzero
    return value + float(on_host.shape[0]) + float(picked.shape[0])


@pytest.mark.task(SYNC, category="gpu")
def test_sync_points_on_cuda(candidate, device):
    """On CUDA: .item(), a copy to the CPU and nonzero, in order; a float16 cast is no sync."""
    x, w = randn(32, 8, seed=11, device=device), randn(8, 16, seed=12, device=device)
    cuda_step_with_syncs(x, w)
    torch.cuda.synchronize(device)
    expected = ["aten::_local_scalar_dense", "aten::copy_", "aten::nonzero"]
    describe = ("a CUDA step: x @ w -> tanh -> loss.item(); h.to(float16); half.cpu(); "
                "torch.nonzero(h > 0)")
    result = call_sync_points(candidate, cuda_step_with_syncs, (x, w), describe)
    require(result == expected, (
        f"sync_points on {describe} returned {result}; expected {expected}. A copy to the CPU "
        "is an aten::copy_ whose GPU activity (evt.kernels) is a 'Memcpy DtoH'; a dtype cast "
        "on the GPU is a copy_ too, but device to device"))


@pytest.mark.task(NAN, category="gpu")
def test_first_nan_op_on_cuda(candidate, device):
    """The same torch.where trap on the GPU."""
    case = NAN_CASES["sqrt"]
    result = call_first_nan(candidate, case, nan_x(device))
    require(result == case.expected, (
        f"first_nan_op(fn, x) with x = {NAN_X} on {device} and fn = {case.describe} returned "
        f"{result!r}; expected {case.expected!r}"))
