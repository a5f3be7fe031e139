"""The reviewed equivalent mutants of each rung's reference: tests/mutation/equivalents/<rung>.toml.

Each entry names a mutant by its operator, the function it is in ("Class.method"; "" at module
level) and its source line before and after (comments left out, whitespace stripped), never by
an occurrence or line number, and says why no input the stub allows tells it from the reference:

    [[equivalent]]
    operator = "tensor/dim"
    function = "sliding_windows"
    before = "step = x.stride(0)"
    after = "step = x.stride(-1)"
    reason = "x is 1-D ((N,) = x.shape raises otherwise), so dim 0 is dim -1"

An entry names every mutant with that operator, function and lines (a line written twice in one
function would be named twice).

A mutant that only a GPU tells apart (a line that runs only on CUDA, a difference only a CUDA
profile shows) is not equivalent, but no CPU run can kill it: its entry says `gpu_only = true`,
with the reason in the same field. On the CPU it is reported as "gpu-only", apart from the
equivalents and left out of the score; `--device cuda` grades it like any other mutant.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.catalog import REPO_ROOT

EQUIVALENTS_DIR = REPO_ROOT / "tests" / "mutation" / "equivalents"


@dataclass(frozen=True)
class Equivalent:
    operator: str
    function: str
    before: str
    after: str
    reason: str
    gpu_only: bool = False  # differs only on a GPU: not graded, not scored on the CPU

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.operator, self.function, self.before, self.after)


def equivalents_path(rung_id: str) -> Path:
    return EQUIVALENTS_DIR / f"{rung_id}.toml"


def load(rung_id: str, path: Path | None = None) -> list[Equivalent]:
    """The rung's entries (none when it has no file); ValueError for an entry that lacks a
    field or a reason, has a field this format does not know, or a gpu_only that is no bool."""
    path = path or equivalents_path(rung_id)
    if not path.is_file():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for number, entry in enumerate(data.get("equivalent", []), 1):
        missing = [k for k in ("operator", "function", "before", "after", "reason")
                   if not isinstance(entry.get(k), str)]
        if missing or not entry["reason"].strip():
            needs = ", ".join(missing or ["a reason"])
            raise ValueError(f"{path.name}: entry {number} needs {needs}")
        gpu_only = entry.get("gpu_only", False)
        if not isinstance(gpu_only, bool):
            raise ValueError(f"{path.name}: entry {number}: gpu_only is true or false, "
                             f"not {gpu_only!r}")
        unknown = sorted(set(entry) - {"operator", "function", "before", "after", "reason",
                                       "gpu_only"})
        if unknown:
            raise ValueError(f"{path.name}: entry {number} has unknown fields {unknown}")
        out.append(Equivalent(entry["operator"], entry["function"].strip(),
                              entry["before"].strip(), entry["after"].strip(),
                              entry["reason"].strip(), gpu_only))
    return out
