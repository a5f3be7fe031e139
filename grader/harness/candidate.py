"""The handle through which specs reach learner code.

Specs never import the learner's module. They get a `Candidate`, whose attributes are the
module's names; plain functions come back wrapped so that a call which returns a tensor
subclass fails, and under the contract guard (grader/harness/contract.py) when the sandbox's
watcher has not put it there already.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

_internal_depth = 0


@contextmanager
def harness_internal() -> Iterator[None]:
    """Mark tensor work done by the harness itself, so op recorders leave it out."""
    global _internal_depth
    _internal_depth += 1
    try:
        yield
    finally:
        _internal_depth -= 1


def in_harness_internal() -> bool:
    return _internal_depth > 0


def load_module_from_path(path: Path, module_name: str) -> ModuleType:
    """Import a single .py file under a private module name (its directory is not a package)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _guarded(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """fn under the contract guard (grader/harness/contract.py), which the sandbox's watcher
    has already put around it when the runtime guard is on, and refusing tensor subclasses."""
    from grader.harness.contract import make_guard

    inner = fn if getattr(fn, "__kata_watched__", False) else make_guard(fn, name)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = inner(*args, **kwargs)
        if isinstance(result, torch.Tensor) and type(result) is not torch.Tensor:
            raise AssertionError(
                f"{name}: returned a {type(result).__name__}, a tensor subclass; "
                "return a plain torch.Tensor."
            )
        return result

    return call


class Candidate:
    """The learner's module as specs see it: `candidate.causal_mask(...)`."""

    def __init__(self, module: ModuleType, filename: str) -> None:
        self._module = module
        self._filename = filename

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            value = getattr(self._module, name)
        except AttributeError:
            raise AttributeError(
                f"your module {self._filename} has no `{name}`; "
                f"define it with exactly that name"
            ) from None
        if inspect.isfunction(value):
            return _guarded(value, name)
        return value

    @property
    def filename(self) -> str:
        return self._filename

    def mentions(self, *names: str) -> list[tuple[int, str]]:
        """(line, name) wherever the learner's file names one of `names`: as a name, an
        attribute or in an import. Catches a built-in captured at import, which a tripwire on
        the module attribute would miss."""
        path = getattr(self._module, "__file__", None)
        if not path:
            return []
        wanted = set(names)
        found = []
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            name = (node.id if isinstance(node, ast.Name) else
                    node.attr if isinstance(node, ast.Attribute) else None)
            if name in wanted:
                found.append((getattr(node, "lineno", 0), name))
            if isinstance(node, ast.ImportFrom | ast.Import):
                found += [(node.lineno, alias.name.rsplit(".", 1)[-1]) for alias in node.names
                          if alias.name.rsplit(".", 1)[-1] in wanted]
        return sorted(found)

    def __repr__(self) -> str:
        return f"<your {self._filename}>"
