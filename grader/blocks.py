"""Building blocks: what a later rung imports from the rungs before it.

    from grader.blocks import LayerNorm, GELU, MultiHeadAttention

12-gpt builds on 07's LayerNorm and GELU and 08's MultiHeadAttention; 13 and 14 on 12's
GPTModel. A rung's module imports them from here, never from another exercise file. Each name
comes from your own module when its rung passes in this checkout (its last `kata check` passed,
and the file is still the one that passed), and from the reference otherwise; the report of a
check says which it used. A rung may import only the blocks of the rungs before it (the catalog's
`blocks` lists say which names each rung gives).

When the grader runs a check it decides, before your code runs, which module each block comes
from (grader/block_choice.py) and provides it here; run on your own (`python gpt.py`), this
module makes the same choice the first time you ask for a name.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

_provided: dict[str, ModuleType] = {}  # rung id -> the module its blocks come from
_origins: dict[str, str] = {}  # rung id -> "yours" or "reference"
_grading = False  # set by the grader: only what it provided is served


@functools.cache
def block_rungs() -> dict[str, str]:
    """Each block's name -> the id of the rung that gives it."""
    from grader.catalog import load_catalog

    return {name: rung.id for rung in load_catalog() for name in rung.blocks}


def provide(rung_id: str, module: ModuleType, origin: str) -> None:
    """The grader's: serve `rung_id`'s blocks from `module` from now on."""
    _provided[rung_id] = module
    _origins[rung_id] = origin


def provide_nothing_else() -> None:
    """The grader's: from now on serve only what it provided, never choose a module here."""
    global _grading
    _grading = True


def origin_of(rung_id: str) -> str | None:
    """"yours" or "reference" for a rung whose blocks have been served; None before."""
    return _origins.get(rung_id)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    rung_id = block_rungs().get(name)
    if rung_id is None:
        raise AttributeError(f"grader.blocks has no {name!r}; the blocks are "
                             f"{', '.join(sorted(block_rungs()))}")
    module = _provided.get(rung_id)
    if module is None:
        if _grading:
            raise AttributeError(f"{name} comes from {rung_id}, which this rung does not build on")
        from grader.block_choice import load_for_learner

        module = load_for_learner(rung_id)
        _provided[rung_id] = module
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted(block_rungs())
