"""Run-time guards around learner code, inside the worker.

The parent has already held the learner's file to the source rules (grader/rules.py); these
guards cover what a syntax tree cannot show:

- **Restricted builtins.** The learner's module gets its own `__builtins__`: `getattr`, `setattr`,
  `delattr` and `hasattr` refuse the names the source rules refuse (`getattr(torch, "s" + "ys")`)
  and never hand back a frame, a code object or a module the rung may not import; `__import__`
  enforces the rung's imports at run time; `exec`, `eval`, `open` and the like raise.
- **An intact grader.** After the spec, the reference and the harness are loaded and before any
  learner code exists, the worker takes a snapshot of the namespaces the judges rely on: torch,
  `torch.Tensor`, `torch.nn.functional`, `math`, `builtins`, the harness itself, ... and of the
  global hook tables and mode stacks. `verify()` compares with it: after every call into learner
  code, at the start of every comparison, and after every check. A replaced `torch.allclose`, a
  patched `Tensor.any`, a global forward hook or a mode left entered fails the check and every
  check after it.
- **Every learner function is watched.** Functions and methods defined in the learner's file are
  wrapped so that each call is followed by `verify()` and a look at what it returned: an object
  of a class that defines its own comparisons (`__eq__`, `__sub__`, ...) is not an answer.
"""

from __future__ import annotations

import builtins
import dis
import functools
import operator
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from grader.rules import (
    DENIED_BUILTINS,
    SAFE_DUNDER_DEFINITIONS,
    SourcePolicy,
    attribute_problem,
)

_real_getattr = builtins.getattr
_real_setattr = builtins.setattr
_real_delattr = builtins.delattr
_real_import = builtins.__import__
_real_isinstance = builtins.isinstance
_real_len = builtins.len
_real_type = builtins.type
_real_vars = builtins.vars
_real_dict = builtins.dict
_is_not = operator.is_not
_TORCH_DIR = ""  # set by take_snapshot

_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
FRAME_TYPES = (types.FrameType, types.TracebackType, types.CodeType)
# Standard entries of a class namespace, never a learner's own dunder method.
CLASS_BOOKKEEPING = frozenset({
    "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__firstlineno__",
    "__static_attributes__", "__slots__", "__dataclass_fields__", "__dataclass_params__",
    "__match_args__", "__annotations__", "__orig_bases__", "__parameters__", "__abstractmethods__",
    "_abc_impl", "__hash__", "__classcell__", "__type_params__",
})


class Tampered(AssertionError):
    """Learner code changed something the grader's judges rely on."""


# --- the snapshot ------------------------------------------------------------------------------


class _Snapshot:
    """Identity copies of namespaces and the sizes of global hook tables and mode stacks."""

    def __init__(self, modules: list[types.ModuleType], classes: list[type],
                 mutable: dict[str, frozenset[str]]) -> None:
        self.modules = [(m, _real_dict(_real_vars(m)), mutable.get(m.__name__, frozenset()))
                        for m in modules]
        # names present at the snapshot: one added later (torch.compile's __compiled_fn_*,
        # __builtins_dict___0) may also go again
        self.original = {id(m): frozenset(_real_vars(m)) for m in modules}
        self.classes = [(c, _real_dict(_real_vars(c)), _resolved(c)) for c in classes]
        self.code = [(fn, fn.__code__) for m in modules
                     if m.__name__.startswith(("grader", "test_")) for fn in _functions_of(m)]
        self.tables = _hook_tables()
        self.stacks = _mode_stacks()
        self.state = global_state()

    def problem(self, stacks: tuple[int, ...] | None = None) -> str | None:
        for module, saved, mutable in self.modules:
            live = _real_vars(module)
            if _real_len(live) == _real_len(saved) and live.keys() == saved.keys() \
                    and not any(map(_is_not, live.values(), saved.values())):
                continue
            changed = _first_change(live, saved, module.__name__, mutable,
                                    self.original[id(module)])
            if changed:
                return changed
        for cls, saved, known in self.classes:
            live = _real_vars(cls)  # type: ignore[assignment]
            if _real_len(live) == _real_len(saved) and live.keys() == saved.keys() \
                    and not any(map(_is_not, live.values(), saved.values())):
                continue
            where = f"{cls.__module__}.{cls.__qualname__}"
            shadowing = [k for k in live.keys() - saved.keys()
                         if k in known and not _torch_wrapper_of(live[k], known[k])]
            if shadowing:
                return f"{where}.{shadowing[0]} was added, hiding torch's own"
            changed = _first_change(live, saved, where, frozenset(), known.keys())
            if changed:
                return changed
        for fn, code in self.code:
            if fn.__code__ is not code:
                return f"the code of {fn.__module__}.{fn.__qualname__} was swapped"
        if _hook_tables() != self.tables:
            return ("a global module hook was registered (torch.nn.modules.module."
                    "register_module_*); it would run inside the reference too")
        if _mode_stacks() != (stacks if stacks is not None else self.stacks):
            return "a torch function or dispatch mode was left active, or torch functions disabled"
        return None


def _functions_of(module: types.ModuleType) -> list[types.FunctionType]:
    """The functions a module defines, and those of the classes it defines."""
    found: list[types.FunctionType] = []
    for value in list(_real_vars(module).values()):
        if _real_isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            found.append(value)
        elif _real_isinstance(value, type) and value.__module__ == module.__name__:
            for member in _real_vars(value).values():
                member = _real_getattr(member, "__func__", member)
                if _real_isinstance(member, types.FunctionType):
                    found.append(member)
    return found


def _resolved(cls: type) -> dict[str, Any]:
    """What each name of `cls` resolves to through its bases, without running descriptors."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        found.update(_real_vars(klass))
    return found


def _torch_wrapper_of(new: Any, old: Any) -> bool:
    """torch wrapping one of its own functions when a submodule loads (torch._dynamo wraps
    torch.manual_seed and nn.Module.__init__): the wrapper's code is torch's, and it wraps
    exactly the old value (as __wrapped__ or in its closure). Learner code cannot make a
    function whose code lives in torch's files."""
    code = _real_getattr(new, "__code__", None)
    if code is None or not _TORCH_DIR or not code.co_filename.startswith(_TORCH_DIR):
        return False
    if _real_getattr(new, "__wrapped__", None) is old:
        return True
    cells = _real_getattr(new, "__closure__", None) or ()
    return any(_cell_holds(cell, old) for cell in cells)


def _cell_holds(cell: Any, value: Any) -> bool:
    try:
        return cell.cell_contents is value
    except ValueError:  # an empty cell
        return False


def _first_change(live: Any, saved: dict[str, Any], where: str,
                  mutable: frozenset[str], original: Any) -> str | None:
    for key, value in list(saved.items()):
        if key in mutable:
            continue
        if key not in live:
            if key not in original:  # came and went after the snapshot
                del saved[key]
                continue
            return f"{where}.{key} was deleted"
        if live[key] is not value:
            if _torch_wrapper_of(live[key], value):
                saved[key] = live[key]
                continue
            return f"{where}.{key} was replaced"
    for key in live.keys() - saved.keys():
        # A name that did not exist before changes no judge (transformers adds
        # nn.Module.smart_apply when it builds a model); a name that shadows one did.
        if key in mutable:
            continue
        saved[key] = live[key]
    return None


def _hook_tables() -> tuple[int, ...]:
    """Sizes of torch's global hook tables: every module's forward, every optimizer's step."""
    sizes: list[int] = []
    for module_name in ("torch.nn.modules.module", "torch.optim.optimizer"):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        names = sorted(n for n in _real_vars(module) if n.startswith("_global_")
                       and n.endswith("hooks"))
        sizes += [_real_len(_real_getattr(module, n)) for n in names]
    return tuple(sizes)


def _mode_stacks() -> tuple[int, ...]:
    torch = sys.modules.get("torch")
    if torch is None:
        return ()
    c = torch._C
    return (c._len_torch_function_stack(), c._len_torch_dispatch_stack(),
            int(c._is_torch_function_enabled()))


_snapshot: _Snapshot | None = None
_suspended = 0
_tampered: str | None = None

WATCHED_MODULES = (
    "builtins", "math", "time", "statistics", "operator", "functools", "json", "os", "random",
    "copy", "numpy", "torch", "torch.nn", "torch.nn.functional", "torch.nn.modules.module",
    "torch.nn.init", "torch.autograd", "torch.autograd.grad_mode", "torch.autograd.function",
    "torch.testing", "torch.linalg", "torch.optim", "torch.amp", "torch.profiler",
    "torch.utils.data", "torch.utils.checkpoint",
)
WATCHED_CLASSES = (
    "torch.Tensor", "torch.Size", "torch.nn.Module", "torch.nn.Parameter", "torch.nn.Linear",
    "torch.nn.Embedding", "torch.nn.LayerNorm", "torch.nn.Dropout", "torch.nn.GELU",
    "torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.MultiheadAttention",
    "torch.autograd.Function", "torch.optim.Optimizer", "torch.optim.SGD", "torch.optim.Adam",
    "torch.optim.AdamW", "torch.amp.GradScaler", "torch.utils.data.DataLoader",
    "torch.utils.data.Dataset",
)
# Module globals the grader itself rebinds while it runs.
MUTABLE_GLOBALS = {
    "grader.plugin": frozenset({"_pending_collect_errors"}),
    "grader.harness.candidate": frozenset({"_internal_depth"}),
    "grader.harness.sandbox": frozenset({"_snapshot", "_suspended", "_tampered", "_TORCH_DIR"}),
    "random": frozenset({"_inst"}),
}


def _resolve(dotted: str) -> Any:
    module_name, _, attribute = dotted.rpartition(".")
    module = sys.modules.get(module_name)
    return _real_getattr(module, attribute, None) if module is not None else None


def take_snapshot(extra_modules: tuple[str, ...] = ()) -> None:
    """Remember the judges' world; call once, after the spec and reference are loaded."""
    global _snapshot, _TORCH_DIR
    torch = sys.modules.get("torch")
    if torch is not None and torch.__file__:
        _TORCH_DIR = str(Path(torch.__file__).parent) + "/"
    names = list(WATCHED_MODULES) + [n for n in sys.modules if n == "grader"
                                     or n.startswith("grader.")] + list(extra_modules)
    modules = [sys.modules[n] for n in dict.fromkeys(names) if n in sys.modules]
    classes = [c for c in (_resolve(n) for n in WATCHED_CLASSES) if _real_isinstance(c, type)]
    classes += [value for module in modules if module.__name__.startswith("grader")
                for value in list(_real_vars(module).values())
                if _real_isinstance(value, type) and value.__module__ == module.__name__]
    candidate = sys.modules.get("grader.harness.candidate")
    if candidate is not None:
        invariant(lambda: not candidate.in_harness_internal(),
                  "the harness's internal-depth flag was changed, which would hide operations "
                  "from the op recorders")
    _snapshot = _Snapshot(modules, classes, MUTABLE_GLOBALS)
    _taken.append(True)


_taken: list[bool] = []  # appended to once, when the snapshot is taken


def tampering(stacks: tuple[int, ...] | None = None) -> str | None:
    """What learner code changed of the judges' world, or None."""
    global _tampered
    if _tampered is None and _taken and _snapshot is None:
        _tampered = "the grader's snapshot of its own tools was removed"
    if _tampered is None and _snapshot is not None:
        _tampered = _snapshot.problem(stacks)
    return _tampered


def global_state() -> tuple[Any, ...]:
    """torch's global settings a check must leave as it found them."""
    torch = sys.modules["torch"]
    return (torch.is_grad_enabled(), torch.get_default_dtype(), torch.get_num_threads(),
            torch.is_autocast_enabled("cpu"), torch.are_deterministic_algorithms_enabled(),
            torch.is_anomaly_enabled(), torch.get_float32_matmul_precision())


def state_left_changed() -> str | None:
    """After a check: which of torch's global settings learner code left changed, if any."""
    if _snapshot is None:
        return None
    now = global_state()
    names = ("grad mode", "the default dtype", "the thread count", "CPU autocast",
             "deterministic algorithms", "anomaly mode", "float32 matmul precision")
    changed = [f"{name} ({before} -> {after})" for name, before, after
               in zip(names, _snapshot.state, now, strict=True) if before != after]
    return ", ".join(changed) or None


def tamper_message(problem: str) -> str:
    return (f"your code changed the grader's tools: {problem}. The checks compare your results "
            "with torch's own functions, so nothing may replace or patch them; this check and "
            "every one after it fail.")


_invariants: tuple[tuple[Callable[[], bool], str], ...] = ()


def invariant(holds: Callable[[], bool], problem: str) -> None:
    """A condition of the grader's own that must hold whenever no grader code is running."""
    global _invariants
    _invariants = (*_invariants, (holds, problem))


def verify(stacks: tuple[int, ...] | None = None) -> None:
    """Raise Tampered when learner code changed what the judges rely on."""
    global _tampered
    if _suspended:
        return
    if stacks is None and _tampered is None and _snapshot is not None:
        for holds, what in _invariants:
            if not holds():
                _tampered = what
    problem = tampering(stacks)
    if problem:
        raise Tampered(tamper_message(problem))


@contextmanager
def patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    """The grader's own temporary patch (a spec's tripwire), which the snapshot then expects."""
    original = _real_vars(owner)[name]
    entries = ([saved for module, saved, _ in _snapshot.modules if module is owner]
               + [saved for cls, saved, _ in _snapshot.classes if cls is owner]
               ) if _snapshot is not None else []
    _real_setattr(owner, name, value)
    for saved in entries:
        saved[name] = value
    try:
        yield
    finally:
        _real_setattr(owner, name, original)
        for saved in entries:
            saved[name] = original


@contextmanager
def suspended() -> Iterator[None]:
    """No checks after each learner call (inside a timing loop); one check when it ends."""
    global _suspended
    verify()
    _suspended += 1
    try:
        yield
    finally:
        _suspended -= 1
    verify()


# --- restricted builtins -----------------------------------------------------------------------


def _module_problem(module: types.ModuleType, name: str, policy: SourcePolicy) -> str | None:
    module_name = _real_getattr(module, "__name__", "") or ""
    dotted = f"{module_name}.{name}"
    if policy.allowed_exception(dotted):
        return None
    if policy.import_problem(module_name):
        return f"`{module_name}` is not a module this rung may use"
    return policy.path_problem(dotted)


def _value_problem(value: Any, policy: SourcePolicy) -> str | None:
    if _real_isinstance(value, FRAME_TYPES):
        return "frames, tracebacks and code objects are not for graded code"
    if _real_isinstance(value, types.ModuleType):
        name = _real_getattr(value, "__name__", "") or "?"
        problem = policy.import_problem(name)
        if problem:
            return f"module `{name}`: {problem}"
    return None


class _Guards:
    """The attribute builtins of one learner module, bound to its rung's policy."""

    def __init__(self, policy: SourcePolicy, learner_module: str, learner_file: str) -> None:
        self.policy = policy
        self.learner_module = learner_module
        self.learner_file = learner_file

    def _name_problem(self, obj: Any, name: Any) -> str | None:
        if not _real_isinstance(name, str):
            return None  # getattr raises its own TypeError
        problem = attribute_problem(name, self.policy.attributes)
        if problem:
            return problem
        if _real_isinstance(obj, FRAME_TYPES):
            return "frames, tracebacks and code objects are not for graded code"
        if name in ("format", "format_map") and (_real_isinstance(obj, str) or obj is str):
            return "str.format reached by name can read any attribute; use an f-string"
        if _real_isinstance(obj, types.ModuleType):
            return _module_problem(obj, name, self.policy)
        if name.startswith("_") and not name.startswith("__") and not self._own(obj) \
                and name not in self.policy.attributes:
            return f"`.{name}` is private; use the public API"
        return None

    def _own(self, obj: Any) -> bool:
        cls = obj if _real_isinstance(obj, type) else _real_type(obj)
        return any(_real_getattr(c, "__module__", None) == self.learner_module
                   for c in cls.__mro__)

    def getattr(self, obj: Any, name: Any, *default: Any) -> Any:
        problem = self._name_problem(obj, name)
        if problem:
            raise AttributeError(f"getattr(…, {name!r}): {problem}")
        value = _real_getattr(obj, name, *default)
        problem = _value_problem(value, self.policy)
        if problem:
            raise AttributeError(f"getattr(…, {name!r}): {problem}")
        return value

    def hasattr(self, obj: Any, name: Any) -> bool:
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    def _write_problem(self, obj: Any, name: Any) -> str | None:
        if not _real_isinstance(name, str):
            return None
        if name.startswith("__") and name.endswith("__"):
            return f"`{name}` changes how Python treats the object"
        if _real_isinstance(obj, types.ModuleType):
            return (f"changing `{_real_getattr(obj, '__name__', '?')}.{name}` changes it for "
                    "everyone, the grader included")
        if _real_isinstance(obj, type) and not self._own(obj):
            return (f"changing `{obj.__module__}.{obj.__qualname__}.{name}` changes it for "
                    "everyone, the grader included")
        return attribute_problem(name, self.policy.attributes)

    def setattr(self, obj: Any, name: Any, value: Any) -> None:
        problem = self._write_problem(obj, name)
        if problem:
            raise AttributeError(f"setattr(…, {name!r}, …): {problem}")
        _real_setattr(obj, name, value)

    def delattr(self, obj: Any, name: Any) -> None:
        problem = self._write_problem(obj, name)
        if problem:
            raise AttributeError(f"delattr(…, {name!r}): {problem}")
        _real_delattr(obj, name)

    def import_(self, name: str, globals: Any = None, locals: Any = None,
                fromlist: Any = (), level: int = 0) -> Any:
        if not _learner_import(sys._getframe(1), self.learner_module, self.learner_file):
            # torch's C++ imports modules lazily through the builtins of whatever Python frame
            # is current, which may be the learner's: those imports are torch's, not the
            # learner's
            return _real_import(name, globals, locals, fromlist, level)
        if level:
            raise ImportError("relative imports find nothing here: import modules by name")
        problem = self.policy.import_problem(name)
        if problem:
            raise ImportError(f"import {name}: {problem}")
        for item in fromlist or ():
            if item == "*":
                raise ImportError(f"from {name} import *: import the names you use")
            dotted = f"{name}.{item}"
            if not self.policy.allowed_exception(dotted):
                problem = self.policy.path_problem(dotted) or attribute_problem(
                    item, self.policy.attributes)
                if problem:
                    raise ImportError(f"from {name} import {item}: {problem}")
        return _real_import(name, globals, locals, fromlist, level)


def _refuse(name: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"`{name}` is not available to graded code: {DENIED_BUILTINS[name]}")

    refused.__name__ = name
    return refused


def _learner_import(frame: Any, learner_module: str, learner_file: str) -> bool:
    """Is this import the learner's? Any code running in the learner's namespace (its module, or
    a string something evaluated there) asks for it, except torch's C++ importing a module
    lazily while one of the learner's lines calls into torch (not at an import statement)."""
    if frame.f_globals.get("__name__") != learner_module:
        return False
    code = frame.f_code
    if code.co_filename != learner_file:
        return True  # code evaluated in the learner's namespace
    offset = frame.f_lasti
    return 0 <= offset < len(code.co_code) and code.co_code[offset] == _IMPORT_NAME


def restricted_builtins(policy: SourcePolicy, learner_module: str,
                        learner_file: str) -> dict[str, Any]:
    """The `__builtins__` a learner's module runs with."""
    guards = _Guards(policy, learner_module, learner_file)
    safe = _real_dict(_real_vars(builtins))
    for name in DENIED_BUILTINS:
        if name in safe or name in ("exit", "quit"):
            safe[name] = _refuse(name)
    safe.update(getattr=guards.getattr, hasattr=guards.hasattr, setattr=guards.setattr,
                delattr=guards.delattr, __import__=guards.import_)
    return safe


# --- watching learner functions ----------------------------------------------------------------


def _defined_in(fn: Any, path: str) -> bool:
    code = _real_getattr(fn, "__code__", None)
    return code is not None and code.co_filename == path


def unsafe_dunders(cls: type, learner_file: str, allowed: frozenset[str],
                   learner_module: str = "") -> list[str]:
    """Dunder methods a learner's code gave this class (or its bases) that the rules refuse.

    In a class of the learner's module every such dunder counts, whatever it is bound to
    (`from math import isfinite as __eq__` included), except what dataclasses generate."""
    found = []
    for klass in cls.__mro__:
        own = learner_module and klass.__module__ == learner_module
        for name, value in _real_vars(klass).items():
            if not (name.startswith("__") and name.endswith("__")) or name in allowed \
                    or name in CLASS_BOOKKEEPING:
                continue
            target = _real_getattr(value, "__func__", value)
            if _real_isinstance(value, property):
                target = value.fget
            code = _real_getattr(target, "__code__", None)
            generated = code is not None and code.co_filename == "<string>"
            if _defined_in(target, learner_file) or (own and not generated
                                                     and target is not None):
                found.append(f"{klass.__qualname__}.{name}")
    return found


class Watcher:
    """Wraps every function of a learner module so that each call is checked when it returns."""

    def __init__(self, learner_file: str, allowed_dunders: frozenset[str],
                 learner_module: str = "") -> None:
        self.file = learner_file
        self.allowed = allowed_dunders | SAFE_DUNDER_DEFINITIONS
        self.module = learner_module

    def check_result(self, value: Any, depth: int = 0) -> None:
        if depth > 3:
            return
        cls = _real_type(value)
        if cls.__module__ not in ("builtins", "torch") and not cls.__module__.startswith(
                "torch."):
            bad = unsafe_dunders(cls, self.file, self.allowed, self.module)
            if bad:
                raise Tampered(f"your code returned a {cls.__qualname__}, whose class defines "
                               f"{', '.join(bad)}: an object that decides for itself how it "
                               "compares, converts or computes is not an answer. Return plain "
                               "tensors and numbers.")
        if cls in (tuple, list):
            for item in value[:64]:
                self.check_result(item, depth + 1)
        elif cls is dict:
            for item in list(value.values())[:64]:
                self.check_result(item, depth + 1)

    def wrap(self, fn: Callable[..., Any], kind: str = "function") -> Callable[..., Any]:
        """fn watched: verify() and check_result after each call, and the contract guard
        (grader/harness/contract.py) around it. kind: function, method or constructor."""
        if _real_getattr(fn, "__kata_watched__", False):
            return fn
        watcher = self
        from grader.harness.contract import _depth, make_guard

        guarded = make_guard(fn, _real_getattr(fn, "__qualname__", "?"), kind)

        @functools.wraps(fn)
        def watched(*args: Any, **kwargs: Any) -> Any:
            if _suspended:  # inside a timing loop: checked once when it ends
                return fn(*args, **kwargs)
            if _depth[0]:
                # called by learner code (or by a spec callback inside a learner call): the
                # outermost learner call verifies when it returns, before any grader code sees
                # a result; a check here would guard nothing more (the same code could tamper
                # and restore inline) and costs ~1 ms a call
                result = guarded(*args, **kwargs)
                watcher.check_result(result)
                return result
            stacks = _mode_stacks()
            try:
                result = guarded(*args, **kwargs)
            finally:
                verify(stacks)
            watcher.check_result(result)
            return result

        watched.__kata_watched__ = True  # type: ignore[attr-defined]
        return watched

    def watch_class(self, cls: type, seen: set[int]) -> None:
        if id(cls) in seen:
            return
        seen.add(id(cls))
        for name, value in list(_real_vars(cls).items()):
            if name in CLASS_BOOKKEEPING:
                continue
            replacement: Any = None
            if _real_isinstance(value, staticmethod) and _defined_in(value.__func__, self.file):
                replacement = staticmethod(self.wrap(value.__func__))
            elif _real_isinstance(value, classmethod) and _defined_in(value.__func__, self.file):
                replacement = classmethod(self.wrap(value.__func__))
            elif _real_isinstance(value, property) and _defined_in(value.fget, self.file):
                replacement = property(self.wrap(value.fget, "method"),
                                       self.wrap(value.fset, "method") if value.fset else None,
                                       self.wrap(value.fdel, "method") if value.fdel else None,
                                       value.__doc__)
            elif _real_isinstance(value, types.FunctionType) and _defined_in(value, self.file):
                replacement = self.wrap(value, "constructor" if name in ("__init__", "__new__")
                                        else "method")
            elif _real_isinstance(value, type) and value.__module__ == cls.__module__:
                self.watch_class(value, seen)
            if replacement is not None:
                type.__setattr__(cls, name, replacement)

    def watch_module(self, module: types.ModuleType) -> None:
        seen: set[int] = set()
        for name, value in list(_real_vars(module).items()):
            if _real_isinstance(value, types.FunctionType) and _defined_in(value, self.file):
                _real_vars(module)[name] = self.wrap(value)
            elif _real_isinstance(value, type) and value.__module__ == module.__name__:
                bad = unsafe_dunders(value, self.file, self.allowed, self.module)
                if bad:
                    raise ImportError(f"your module gives {', '.join(bad)}: dunder methods "
                                      "that decide how an object compares or computes are "
                                      "not allowed")
                self.watch_class(value, seen)


def load_learner_module(path: Path, module_name: str, policy: SourcePolicy) -> types.ModuleType:
    """Import the learner's file with restricted builtins, then watch every function in it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__builtins__"] = restricted_builtins(policy, module_name, str(path))
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    Watcher(str(path), frozenset(policy.dunders), module_name).watch_module(module)
    return module
