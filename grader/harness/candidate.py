"""The handle through which specs reach learner code.

Specs never import the learner's module. They get a `Candidate`, whose attributes are the
module's names; plain functions come back wrapped so that a call which modifies its tensor
arguments in place, or returns a tensor subclass, fails with a message saying so.
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


def _tensor_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], names: list[str]):
    for position, value in enumerate(args):
        if isinstance(value, torch.Tensor):
            label = names[position] if position < len(names) else f"argument {position}"
            yield label, value
    for key, value in kwargs.items():
        if isinstance(value, torch.Tensor):
            yield key, value


def _guarded(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        with harness_internal(), torch.no_grad():
            saved = [
                (label, value, value.detach().clone())
                for label, value in _tensor_arguments(args, kwargs, names)
            ]
        result = fn(*args, **kwargs)
        with harness_internal(), torch.no_grad():
            for label, value, before in saved:
                unchanged = value.shape == before.shape and bool(
                    torch.equal(value.detach(), before)
                    or (value.is_floating_point() and torch.allclose(
                        value.detach(), before, rtol=0, atol=0, equal_nan=True))
                )
                if not unchanged:
                    raise AssertionError(
                        f"{name}: your function changed its input `{label}` in place. "
                        "Leave inputs as they are: use out-of-place ops (x + y, not x.add_(y); "
                        "masked_fill, not masked_fill_) or work on a copy."
                    )
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
