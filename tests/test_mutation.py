"""The mutation generator (`make mutation`): each tensor operator makes the mutant it should, the
code no learner's mistake lives in is left alone, generating is repeatable, and the reviewed
equivalents files still name mutants the generator makes. Nothing here grades a mutant."""

from __future__ import annotations

import json
import textwrap
from functools import cache

import pytest

from grader.catalog import load_catalog
from grader.mutation import grade
from grader.mutation.equivalents import EQUIVALENTS_DIR, load
from grader.mutation.generate import Mutant, generate
from grader.runner import source_problem

AVAILABLE = [rung for rung in load_catalog() if rung.available]


@cache
def reference_keys(rung_id: str) -> frozenset[tuple[str, str, str, str]]:
    rung = next(r for r in AVAILABLE if r.id == rung_id)
    return frozenset(m.key for m in generate(rung.reference_path.read_text(encoding="utf-8")))


def mutants_of(code: str, operator: str | None = None) -> list[Mutant]:
    return generate(textwrap.dedent(code), [operator] if operator else None)


def changes(code: str, operator: str) -> set[tuple[str, str]]:
    return {(m.before, m.after) for m in mutants_of(code, operator)}


@pytest.mark.parametrize(("code", "operator", "expected"), [
    ("def f(x):\n    return x.sum(dim=-1)\n", "tensor/dim",
     {("return x.sum(dim=-1)", "return x.sum(dim=-2)"),
      ("return x.sum(dim=-1)", "return x.sum(dim=0)")}),
    ("def f(x):\n    return torch.softmax(x, -1)\n", "tensor/dim",
     {("return torch.softmax(x, -1)", "return torch.softmax(x, -2)"),
      ("return torch.softmax(x, -1)", "return torch.softmax(x, 0)")}),
    ("def f(x):\n    return x.mean(0)\n", "tensor/dim",
     {("return x.mean(0)", "return x.mean(1)"), ("return x.mean(0)", "return x.mean(-1)")}),
    ("def f(x):\n    return x.transpose(-2, -1)\n", "tensor/dim",
     {("return x.transpose(-2, -1)", "return x.transpose(-1, -1)"),
      ("return x.transpose(-2, -1)", "return x.transpose(-3, -1)"),
      ("return x.transpose(-2, -1)", "return x.transpose(0, -1)"),
      ("return x.transpose(-2, -1)", "return x.transpose(-2, -2)"),
      ("return x.transpose(-2, -1)", "return x.transpose(-2, 0)")}),
    ("def f(x):\n    return x.shape[-1]\n", "tensor/dim",
     {("return x.shape[-1]", "return x.shape[-2]"), ("return x.shape[-1]", "return x.shape[0]")}),
    ("def f(x):\n    return x.amax(dim=1, keepdim=True)\n", "tensor/keepdim",
     {("return x.amax(dim=1, keepdim=True)", "return x.amax(dim=1, keepdim=False)")}),
    ("def f(x):\n    return x.mean(dim=1)\n", "tensor/mean-sum",
     {("return x.mean(dim=1)", "return x.sum(dim=1)")}),
    ("def f(x, y):\n    return F.mse_loss(x, y, reduction='sum')\n", "tensor/mean-sum",
     {("return F.mse_loss(x, y, reduction='sum')", "return F.mse_loss(x, y, reduction='mean')")}),
    ("def f(x):\n    return x.clamp(min=0).detach()\n", "tensor/drop-call",
     {("return x.clamp(min=0).detach()", "return x.detach()"),
      ("return x.clamp(min=0).detach()", "return x.clamp(min=0)")}),
    ("def f(x):\n    return torch.clamp(x, 0, 1)\n", "tensor/drop-call",
     {("return torch.clamp(x, 0, 1)", "return (x)")}),
    ("def f(x):\n    return x.contiguous().view(-1)\n", "tensor/drop-call",
     {("return x.contiguous().view(-1)", "return x.view(-1)")}),
    ("def f(model, opt):\n    model.eval()\n    opt.zero_grad()\n", "tensor/drop-call",
     {("model.eval()", "model"), ("opt.zero_grad()", "opt")}),
    ("def f(a, b):\n    return a @ b.T\n", "tensor/drop-call",
     {("return a @ b.T", "return a @ b")}),
    ("def f(m, x):\n    with torch.no_grad():\n        return m(x)\n", "tensor/drop-context",
     {("with torch.no_grad():", "with torch.set_grad_enabled(torch.is_grad_enabled()):")}),
    ("def f(a, b):\n    return torch.cat([a, b], dim=0)\n", "tensor/swap-args", set()),
    ("def f(x, a, b):\n    return x.transpose(a, b)\n", "tensor/swap-args", set()),
    ("def f(x, y):\n    return F.cross_entropy(x, y)\n", "tensor/swap-args",
     {("return F.cross_entropy(x, y)", "return F.cross_entropy(y, x)")}),
    ("def f(x, n):\n    return x[:n]\n", "tensor/offset",
     {("return x[:n]", "return x[:(n + 1)]"), ("return x[:n]", "return x[:(n - 1)]")}),
    ("def f(a, b):\n    return a @ b\n", "tensor/matmul-mul", {("return a @ b", "return a * b")}),
    ("def f(x):\n    return x * 0.5\n", "tensor/constant",
     {("return x * 0.5", "return x * 1.5"), ("return x * 0.5", "return x * -0.5")}),
    ("def f(loss, opt):\n    loss.backward()\n    opt.step()\n", "tensor/remove-statement",
     {("loss.backward()", "pass"), ("opt.step()", "pass")}),
    ("def f(x):\n    x = x.contiguous()\n    y = x + 1\n    return y\n",
     "tensor/remove-statement", {("x = x.contiguous()", "pass")}),
    ("def f(i, n):\n    return i < n\n", "core/ReplaceComparisonOperator_Lt_LtE",
     {("return i < n", "return i <= n")}),
])
def test_each_operator_makes_the_mutant_it_should(code, operator, expected):
    assert changes(code, operator) == expected


def test_a_dim_is_changed_by_tensor_dim_not_also_by_the_constant_operator():
    code = "def f(x):\n    return x.sum(dim=-1) * 2\n"
    assert changes(code, "tensor/constant") == {
        ("return x.sum(dim=-1) * 2", "return x.sum(dim=-1) * 3"),
        ("return x.sum(dim=-1) * 2", "return x.sum(dim=-1) * 1")}


def test_nothing_is_mutated_in_docstrings_annotations_imports_raise_or_kata_lines():
    code = '''\
    """Module docstring: x.sum(dim=-1) < 2 and keepdim=True."""
    import torch.nn.functional as F
    from torch import Tensor
    KATA_EXPECT = {"rung": 1}


    def f(x: Tensor, n: int) -> Tensor:
        """Return x.mean(dim=-1) + 1, never x @ x."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n - 1} (limit {2 * n})")
        return x.sum(dim=-1) + n
    '''
    mutants = mutants_of(code)
    assert mutants, "the function body has mutation points"
    assert {m.line for m in mutants} == {9, 11}, [m.describe("f.py") for m in mutants]
    assert not any(m.before.startswith("raise") for m in mutants)


def test_the_bare_star_of_a_parameter_list_is_no_multiplication():
    code = "def f(a, *, b=2, **kwargs):\n    return a * b\n"
    assert changes(code, "core/ReplaceBinaryOperator_Mul_Div") == {
        ("return a * b", "return a / b")}


def test_a_mutant_names_the_function_and_class_it_is_in():
    code = textwrap.dedent("""\
    SCALE = 2

    class Block:
        @staticmethod
        def forward(x):
            return x * SCALE
    """)
    where = {(m.operator, m.line): m.function for m in mutants_of(code)}
    assert where[("tensor/constant", 1)] == ""
    assert where[("core/ReplaceBinaryOperator_Mul_Div", 6)] == "Block.forward"


def test_generating_twice_gives_the_same_mutants_each_distinct_and_compilable():
    code = textwrap.dedent("""\
    def f(x, y, n):
        z = (x - y).pow(2).sum(dim=-1, keepdim=True)
        if n <= 1:
            return z.clamp(min=0)
        return z[:n] @ y.T
    """)
    first, second = generate(code), generate(code)
    assert [(m.key, m.source) for m in first] == [(m.key, m.source) for m in second]
    assert len({m.source for m in first}) == len(first)
    for mutant in first:
        assert mutant.source != code
        compile(mutant.source, "mutant.py", "exec")


@pytest.mark.parametrize("rung", AVAILABLE, ids=lambda r: r.id)
def test_a_dropped_grad_context_is_allowed_by_the_source_rules(rung):
    """Its stand-in (set_grad_enabled(is_grad_enabled())) must not be refused, or the mutant
    would count as killed without a check failing. (A mutant that writes what the rules forbid,
    weights_only=False, is killed by the rules, as a learner's module would be.)"""
    source = rung.reference_path.read_text(encoding="utf-8")
    refused = [(m.describe(rung.id), problem) for m in generate(source, ["tensor/drop-context"])
               if (problem := source_problem(rung, rung.reference_path, m.source.encode()))]
    assert not refused


@pytest.mark.parametrize("rung", AVAILABLE, ids=lambda r: r.id)
def test_every_recorded_equivalent_has_a_reason_and_names_a_current_mutant(rung):
    entries = load(rung.id)  # raises for an entry without a reason
    keys = reference_keys(rung.id)
    stale = [e for e in entries if e.key not in keys]
    assert not stale, (f"{EQUIVALENTS_DIR.name}/{rung.id}.toml names mutants the generator no "
                       f"longer makes from the reference (remove or update them): {stale}")
    assert len({e.key for e in entries}) == len(entries), "an entry is listed twice"


def test_equivalents_files_are_named_after_available_rungs():
    names = {r.id for r in AVAILABLE}
    assert EQUIVALENTS_DIR.is_dir()
    for path in EQUIVALENTS_DIR.glob("*"):
        assert path.suffix == ".toml" and path.stem in names, path.name


def test_an_equivalent_without_a_reason_is_refused(tmp_path):
    path = tmp_path / "01-tensors.toml"
    path.write_text('[[equivalent]]\noperator = "tensor/dim"\nfunction = "f"\nbefore = "a"\n'
                    'after = "b"\nreason = "  "\n', encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1 needs a reason"):
        load("01-tensors", path)
    path.write_text('[[equivalent]]\noperator = "tensor/dim"\nfunction = "f"\nbefore = "a"\n'
                    'reason = "r"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1 needs after"):
        load("01-tensors", path)


def test_a_gpu_only_entry_is_read_and_a_wrong_one_refused(tmp_path):
    path = tmp_path / "01-tensors.toml"
    entry = ('[[equivalent]]\noperator = "tensor/dim"\nfunction = "f"\nbefore = "a"\n'
             'after = "b"\nreason = "r"\n')
    path.write_text(entry + "gpu_only = true\n", encoding="utf-8")
    assert [e.gpu_only for e in load("01-tensors", path)] == [True]
    path.write_text(entry, encoding="utf-8")
    assert [e.gpu_only for e in load("01-tensors", path)] == [False]
    path.write_text(entry + 'gpu_only = "yes"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1: gpu_only is true or false"):
        load("01-tensors", path)
    path.write_text(entry + "gpu = true\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"entry 1 has unknown fields \['gpu'\]"):
        load("01-tensors", path)


def test_gpu_only_mutants_are_apart_from_the_cpu_score_and_graded_on_cuda(tmp_path,
                                                                          monkeypatch):
    """On the CPU a gpu_only mutant is "gpu-only": not in the score, listed apart in the
    Markdown; results graded on CUDA keep its graded status."""
    rung = next(r for r in AVAILABLE if r.id == "10-profiling")
    entries = [e for e in load(rung.id) if e.gpu_only]
    assert entries, "10-profiling records its CUDA-only mutants as gpu_only"
    gpu_keys = {e.key for e in entries}
    mutants = generate(rung.reference_path.read_text(encoding="utf-8"))
    cpu_one = next(m for m in mutants if m.key not in gpu_keys
                   and m.key not in {e.key for e in load(rung.id)})
    gpu_one = next(m for m in mutants if m.key in gpu_keys)
    monkeypatch.setattr(grade, "WORK_DIR", tmp_path)
    for device, gpu_status in (("cpu", "gpu-only"), ("cuda", "killed")):
        recorded = [{**m.as_dict(), "status": "survived" if m is gpu_one else "killed",
                     "how": "", "seconds": 1.0} for m in mutants]
        if device == "cuda":
            recorded = [{**r, "status": "killed"} for r in recorded]
        (tmp_path / f"{rung.id}.json").write_text(json.dumps(
            {"file": "reference/10-profiling/profiling.py", "seconds": 1.0, "baseline": "pass",
             "device": device, "mutants": recorded}), encoding="utf-8")
        score = grade.rescore(rung)
        assert score is not None
        status = {o.mutant.key: o.status for o in score.outcomes}
        assert status[gpu_one.key] == gpu_status and status[cpu_one.key] == "killed"
        left_out = score.count("equivalent") + score.count("gpu-only")
        assert score.score == score.count("killed") / (len(score.outcomes) - left_out)
        assert score.count("gpu-only") == (len(entries) if device == "cpu" else 0)
        report = grade.markdown([score.as_dict()])
        assert ("Only a GPU tells apart" in report) == (device == "cpu")
