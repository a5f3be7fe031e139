"""The rung catalog: `grader/catalog.toml` read into typed records, and rung-id resolution."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from grader.rules import BASE_ALLOW, BASE_DENY, BASE_IMPORTS, SourcePolicy

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
CATALOG_PATH = PACKAGE_DIR / "catalog.toml"
SPECS_DIR = PACKAGE_DIR / "specs"
# A course copy exported with --without-reference keeps the references here, compressed, as the
# grader's oracle (see grader/export.py); a full checkout has none.
ORACLE_DIR = PACKAGE_DIR / "oracle"
# Written by `kata export`: how many hidden spec tests each rung's grading copy has.
HIDDEN_COUNTS_PATH = PACKAGE_DIR / "hidden.json"


@dataclass(frozen=True)
class Rung:
    id: str
    title: str
    module: str
    points: float
    timeout: int
    status: str
    tasks: tuple[str, ...]
    # per task, its hints in the order `kata hint` reveals them (planned rungs may lack some)
    hints: Mapping[str, tuple[str, ...]] = field(hash=False)
    extra: str | None = None  # the pyproject extra the rung needs, e.g. "hf"
    requires: tuple[str, ...] = ()  # modules that extra provides; missing ones skip the rung
    source: SourcePolicy | None = None  # what the learner's module may import and reach
    # per learner callable, per parameter: what a call may change (the contract guard)
    changes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False)
    # names later rungs may import from this one (`from grader.blocks import ...`)
    blocks: tuple[str, ...] = ()

    @property
    def policy(self) -> SourcePolicy:
        return self.source or SourcePolicy(self.id)

    @property
    def number(self) -> int:
        return int(self.id.split("-", 1)[0])

    @property
    def slug(self) -> str:
        return self.id.split("-", 1)[1]

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def exercise_path(self) -> Path:
        return REPO_ROOT / "exercises" / self.id / self.module

    @property
    def reference_path(self) -> Path:
        return REPO_ROOT / "reference" / self.id / self.module

    @property
    def oracle_path(self) -> Path:
        return ORACLE_DIR / f"{self.id}.py.z"

    @property
    def spec_path(self) -> Path:
        return SPECS_DIR / f"test_{self.id.replace('-', '_')}.py"


def hint_for(rung: Rung, task: str, level: int = 1) -> str | None:
    """The `level`-th hint (from 1) of one of the rung's tasks; None past its last hint."""
    hints = rung.hints.get(task, ())
    return hints[level - 1] if 1 <= level <= len(hints) else None


class UnknownRung(LookupError):
    """A rung id that names no rung; the message says what was meant, when that is clear."""


@cache
def load_catalog(path: Path = CATALOG_PATH) -> tuple[Rung, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    earlier_blocks: list[str] = []  # the blocks of the rungs before each entry
    policies = []
    for entry in data["rung"]:
        policies.append(_source_policy(entry["id"], entry.get("source", {}), earlier_blocks))
        earlier_blocks = [*earlier_blocks, *entry.get("blocks", ())]
    return tuple(
        Rung(
            id=entry["id"],
            title=entry["title"],
            module=entry["module"],
            points=float(entry["points"]),
            timeout=int(entry["timeout"]),
            status=entry["status"],
            tasks=tuple(entry["tasks"]),
            hints=MappingProxyType({task: tuple(texts)
                                    for task, texts in entry.get("hints", {}).items()}),
            extra=entry.get("extra"),
            requires=tuple(entry.get("requires", ())),
            source=policy,
            changes=MappingProxyType({name: MappingProxyType({param: tuple(aspects)
                                                              for param, aspects in table.items()})
                                      for name, table in entry.get("changes", {}).items()}),
            blocks=tuple(entry.get("blocks", ())),
        )
        for entry, policy in zip(data["rung"], policies, strict=True)
    )


def _source_policy(rung_id: str, table: dict[str, Any],
                   blocks: list[str] | tuple[str, ...] = ()) -> SourcePolicy:
    """A rung's source rules: the base ones, loosened as its `[rung.source]` table says, and the
    building blocks of the rungs before it (`from grader.blocks import LayerNorm`), each by name:
    nothing else of the grader."""
    return SourcePolicy(
        rung=rung_id,
        imports=BASE_IMPORTS + tuple(table.get("imports", ())),
        deny=BASE_DENY + ("grader",),
        allow=BASE_ALLOW + tuple(table.get("allow", ()))
        + tuple(f"grader.blocks.{name}" for name in blocks),
        module_attributes=tuple((module, tuple(names)) for module, names
                                in table.get("module_attributes", {}).items()),
        dunders=tuple(table.get("dunders", ())),
        attributes=tuple(table.get("attributes", ())),
    )


def resolve(name: str) -> Rung:
    """Find a rung by id (`08-attention`), number (`08`, `8`) or slug (`attention`)."""
    rungs = load_catalog()
    wanted = name.strip().lower()
    for rung in rungs:
        if wanted in (rung.id, rung.slug):
            return rung
        if wanted.isdigit() and int(wanted) == rung.number:
            return rung
    candidates = [r.id for r in rungs] + [r.slug for r in rungs]
    close = difflib.get_close_matches(wanted, candidates, n=1, cutoff=0.6)
    message = f"no rung {name!r}"
    if close:
        match = next(r for r in rungs if close[0] in (r.id, r.slug))
        message += f"; did you mean {match.id}?"
    else:
        message += "; `kata list` shows them all"
    raise UnknownRung(message)


def markdown_table(rungs: tuple[Rung, ...] | None = None) -> str:
    """The README's rung table, generated so it can never drift from the catalog."""
    rows = ["| rung | what you build | points | status |", "|---|---|---|---|"]
    for rung in rungs or load_catalog():
        status = "available" if rung.available else "planned"
        rows.append(f"| `{rung.id}` | {rung.title} | {rung.points:g} | {status} |")
    return "\n".join(rows)


def rung_after(rung_id: str) -> Rung | None:
    """The next available rung after `rung_id` in the catalog's order; None after the last."""
    rungs = load_catalog()
    start = [r.id for r in rungs].index(rung_id) + 1
    return next((r for r in rungs[start:] if r.available), None)
