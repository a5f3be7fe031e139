"""Which module each building block comes from (grader/blocks.py explains the blocks).

A block rung counts as yours when three things hold: the last whole check of your
exercises/ file for that rung passed, the file is byte for byte the one that passed (its sha256
is kept in .kata/progress.json with the verdict), and it still keeps the source rules. Otherwise
its blocks come from the reference (or, in a course copy without readable references, from the
grader's oracle). Checks of any other file (`--impl reference`, a mutant, a submission) always
build on the references, so that a verdict never depends on what else sits in a checkout.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from dataclasses import dataclass
from types import ModuleType

from grader.catalog import Rung, load_catalog, resolve

YOURS, REFERENCE = "yours", "reference"


@dataclass(frozen=True)
class BlockSource:
    """Where one earlier rung's blocks come from in a check."""

    rung: Rung
    origin: str  # YOURS or REFERENCE
    reference: bytes  # the reference's source (always shipped: the grader's oracles use it)
    yours: bytes | None  # the learner's source, when origin is YOURS
    why: str  # why the reference was used ("" when yours was)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reference_source(rung: Rung) -> bytes:
    from grader.runner import oracle_source  # the runner imports this module

    return oracle_source(rung)


def _yours(rung: Rung) -> tuple[bytes | None, str]:
    """The learner's source for `rung` when it passes, else (None, why not)."""
    from grader.progress import load_progress
    from grader.rules import check_source

    entry = load_progress().rungs.get(rung.id)
    if entry is None or entry.last.status != "pass":
        return None, "yours does not pass yet"
    try:
        data = rung.exercise_path.read_bytes()
    except OSError:
        return None, "your file is missing"
    if entry.last.source_sha256 != sha256_of(data):
        return None, "yours has changed since it last passed"
    try:
        if check_source(data.decode("utf-8"), rung.policy):
            return None, "yours breaks the source rules"
    except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
        return None, "yours does not compile"
    return data, ""


def block_sources(rung: Rung, impl: str) -> list[BlockSource]:
    """Every earlier rung that gives blocks, in order, with the source its blocks come from.
    Only a check of the learner's exercises/ file (impl "exercises") uses their own blocks."""
    sources = []
    for earlier in load_catalog():
        if earlier.number >= rung.number or not earlier.blocks or not earlier.available:
            continue
        reference = _reference_source(earlier)
        yours, why = _yours(earlier) if impl == "exercises" else (None, "")
        sources.append(BlockSource(earlier, YOURS if yours is not None else REFERENCE,
                                   reference, yours, why))
    return sources


def blocks_imported(source: bytes) -> list[str]:
    """The rung ids whose blocks a module imports directly, in catalog order."""
    from grader.blocks import block_rungs

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.module == "grader.blocks" for alias in node.names}
    wanted = {block_rungs()[name] for name in names if name in block_rungs()}
    return [rung.id for rung in load_catalog() if rung.id in wanted]


def load_for_learner(rung_id: str) -> ModuleType:
    """A learner running a module on their own: the same choice, made now (no sandbox: it is
    their own process). A course copy's oracle is run from memory, never unpacked to a file."""
    from grader.harness.candidate import load_module_from_path

    rung = resolve(rung_id)
    name = f"kata_block_{rung.id.replace('-', '_')}"
    yours, _ = _yours(rung)
    if yours is not None:
        return load_module_from_path(rung.exercise_path, name)
    if rung.reference_path.is_file():
        return load_module_from_path(rung.reference_path, name)
    module = ModuleType(name)
    sys.modules[name] = module
    exec(compile(_reference_source(rung), f"<{rung.id} oracle>", "exec"), module.__dict__)
    return module
