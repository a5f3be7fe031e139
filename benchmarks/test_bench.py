"""pytest-benchmark suite: grading latency per rung, and the references against torch built-ins.

Run with `make bench`. Numbers go to docs/benchmarks.md with the machine they came from; nothing
here is an assertion about time.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from grader.catalog import load_catalog, resolve
from grader.harness.candidate import load_module_from_path
from grader.runner import check_rung

AVAILABLE = [rung for rung in load_catalog() if rung.available]


@pytest.fixture(scope="module")
def attention():
    return load_module_from_path(resolve("08-attention").reference_path, "bench_attention")


@pytest.fixture(scope="module")
def tensors():
    return load_module_from_path(resolve("01-tensors").reference_path, "bench_tensors")


@pytest.mark.parametrize("rung", AVAILABLE, ids=lambda r: r.id)
def test_check_latency_of_the_reference(benchmark, rung):
    """Wall time of one `kata check RUNG --impl reference`, worker start-up included."""
    result = benchmark.pedantic(lambda: check_rung(rung, "reference")[0], rounds=3, iterations=1)
    assert result.status == "pass"


@pytest.mark.parametrize("impl", ["reference", "builtin"])
def test_attention_forward(benchmark, attention, impl):
    torch.set_num_threads(1)
    q, k, v = (torch.randn(4, 8, 128, 64) for _ in range(3))
    mask = attention.causal_mask(128)
    fn = (attention.scaled_dot_product_attention if impl == "reference"
          else F.scaled_dot_product_attention)
    benchmark(fn, q, k, v, mask)


@pytest.mark.parametrize("impl", ["reference", "builtin"])
def test_pairwise_distances(benchmark, tensors, impl):
    torch.set_num_threads(1)
    x, y = torch.randn(512, 64), torch.randn(256, 64)
    if impl == "reference":
        benchmark(tensors.pairwise_sq_distances, x, y)
    else:
        benchmark(lambda a, b: torch.cdist(a, b) ** 2, x, y)
