"""The contract guard: what a call into learner code may change, checked around every call.

The sandbox's watcher wraps every function, method, constructor, static method, property and
`__call__` the learner's file defines; each wrapper runs `guarded_call`. Around the outermost
call (a learner function calling another learner function is checked once, at the outer one):

- **Before**, it snapshots what the caller owns: every tensor reachable from the arguments
  (inside lists, tuples and dicts, a module's parameters and buffers, an optimizer's parameters)
  with its values, shape, dtype, device, `requires_grad` and `.grad`; the items of a list or
  dict argument; every submodule's `training` flag; an optimizer's hyper-parameters; the flags
  of a Hugging Face model's config and its generation config; and the global state: the RNGs
  of torch (CPU, and CUDA once initialised), Python's `random` and NumPy, grad mode, the
  default dtype, float32 matmul precision, anomaly mode, deterministic algorithms, autocast and
  the thread count.
- **After** a call that returned, anything changed that the task does not declare it may change
  raises AssertionError naming the function, what changed, where, and how to avoid it. Changed
  global settings are put back first, so one mistake fails one check, not the ones after it.

What a task may change is declared in the catalog, `[rung.changes]`: per learner callable
(`train_step`, `Affine.forward`), per parameter name, the aspects it may change (ASPECTS, or
"*"). A method may change its own object (`self`) unless its declaration says otherwise; a
constructor builds `self`, which is not checked; everything else is the caller's.

Tensors are copied (`detach().clone()`) and compared exactly (NaN equal to NaN), never hashed.
Past CLONE_BUDGET bytes in one call, further tensors are checked by their version counter only
(an in-place op bumps it; a write through `.data` does not). Inside a timing loop
(sandbox.suspended()) and while torch.compile traces, nothing is checked.
"""

from __future__ import annotations

import functools
import os
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from grader.harness.candidate import harness_internal
from grader.harness.compare import distinct_digits

ASPECTS = ("values", "grad", "requires_grad", "training", "config", "hyper")
MAX_DEPTH = 4  # containers inside containers
MAX_ITEMS = 256  # items of one list, tuple or dict looked into
CLONE_BUDGET = 256 * 2**20  # bytes of tensor copies per call
# Flags of a Hugging Face model's config that change what later calls compute or return.
CONFIG_FLAGS = ("_attn_implementation", "use_cache", "output_attentions",
                "output_hidden_states", "return_dict")
_MT_BLOCKS = 2048  # how far (in 624-word blocks, about 1.3M draws) the MT check looks ahead

# Mutable state in containers, so the sandbox's snapshot of this module's names stays exact.
_depth = [0]
_declared: dict[str, dict[str, tuple[str, ...]]] = {}


def declare(changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Install a rung's `[rung.changes]`: qualname -> parameter -> aspects it may change."""
    _declared.clear()
    for qualname, table in changes.items():
        _declared[qualname] = {name: ("*",) if aspects == "*" else tuple(aspects)
                               for name, aspects in table.items()}


# --- what the caller owns ---------------------------------------------------------------------


class _Tensor:
    __slots__ = ("tensor", "label", "roots", "copy", "version", "meta", "requires_grad",
                 "grad_is_none", "grad")

    def __init__(self, tensor: torch.Tensor, label: str, root: str, budget: list[int],
                 may: tuple[str, ...]) -> None:
        self.tensor = tensor
        self.label = label
        self.roots = {root}
        self.version = tensor._version
        self.meta = (tuple(tensor.shape), tensor.dtype, tensor.device)
        self.requires_grad = tensor.requires_grad
        # no copy of what this root may change anyway (reached from it, a change is allowed)
        self.copy = None if "values" in may else _copy(tensor, budget)
        grad = tensor.grad if tensor.is_leaf else None
        self.grad_is_none = grad is None
        self.grad = None if grad is None or "grad" in may else _copy(grad, budget)


def _copy(tensor: torch.Tensor, budget: list[int]) -> torch.Tensor | None:
    if tensor.layout != torch.strided or tensor.device.type == "meta":
        return None
    size = tensor.numel() * tensor.element_size()
    if size > budget[0]:
        return None
    budget[0] -= size
    return tensor.detach().clone()


class _Flag:
    __slots__ = ("root", "label", "aspect", "read", "before")

    def __init__(self, root: str, label: str, aspect: str, read: Callable[[], Any]) -> None:
        self.root, self.label, self.aspect, self.read = root, label, aspect, read
        self.before = read()


class _Snapshot:
    def __init__(self, may: Mapping[str, tuple[str, ...]]) -> None:
        self.may = may
        self.tensors: dict[int, _Tensor] = {}
        self.flags: list[_Flag] = []
        self.budget = [CLONE_BUDGET]
        self.seen: set[int] = set()

    def walk(self, value: Any, label: str, root: str, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(value, torch.Tensor):
            known = self.tensors.get(id(value))
            if known is not None:
                known.roots.add(root)
            else:
                self.tensors[id(value)] = _Tensor(value, label, root, self.budget,
                                                  self.may.get(root, ()))
            return
        if id(value) in self.seen:
            return
        self.seen.add(id(value))
        if isinstance(value, list | dict):
            self.flags.append(_Flag(root, label, "values", _items_of(value)))
        if isinstance(value, list | tuple):
            for index, item in enumerate(value[:MAX_ITEMS]):
                self.walk(item, f"{label}[{index}]", root, depth + 1)
        elif isinstance(value, dict):
            for key, item in list(value.items())[:MAX_ITEMS]:
                self.walk(item, f"{label}[{key!r}]", root, depth + 1)
        elif isinstance(value, torch.nn.Module):
            self._module(value, label, root)
        elif isinstance(value, torch.optim.Optimizer):
            self._optimizer(value, label, root, depth)

    def _module(self, module: torch.nn.Module, label: str, root: str) -> None:
        for name, sub in module.named_modules():
            where = f"{label}.{name}" if name else label
            self.flags.append(_Flag(root, f"{where}.training", "training",
                                    functools.partial(getattr, sub, "training")))
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            self.walk(tensor, f"{label}.{name}", root, 0)
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            for flag in CONFIG_FLAGS:
                if hasattr(config, flag):
                    self.flags.append(_Flag(root, f"{label}.config.{flag}", "config",
                                            functools.partial(getattr, config, flag, None)))
        generation = getattr(module, "generation_config", None)
        if generation is not None and hasattr(generation, "to_dict"):
            self.flags.append(_Flag(root, f"{label}.generation_config", "config",
                                    lambda: _plain_dict(generation.to_dict())))

    def _optimizer(self, optimizer: torch.optim.Optimizer, label: str, root: str,
                   depth: int) -> None:
        # read through the optimizer each time: load_state_dict replaces the group dicts
        self.flags.append(_Flag(root, f"{label}.param_groups", "hyper",
                                lambda: len(optimizer.param_groups)))
        for index, group in enumerate(optimizer.param_groups):
            for key in group:
                where = f"{label}.param_groups[{index}][{key!r}]"
                if key == "params":
                    for j, param in enumerate(group["params"]):
                        self.walk(param, f"{where}[{j}]", root, depth + 1)
                else:
                    self.flags.append(_Flag(root, where, "hyper", functools.partial(
                        _hyper, optimizer, index, key)))


def _items_of(container: list[Any] | dict[Any, Any]) -> Callable[[], Any]:
    if isinstance(container, list):
        return lambda: [id(item) for item in container]
    return lambda: [(key, id(item)) for key, item in container.items()]


def _hyper(optimizer: torch.optim.Optimizer, index: int, key: str) -> Any:
    groups = optimizer.param_groups
    return _plain(groups[index].get(key, "<gone>")) if index < len(groups) else "<gone>"


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().tolist()
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


def _plain_dict(value: dict[str, Any]) -> dict[str, Any]:
    return {key: repr(item) for key, item in value.items()}


def _allowed(may: Mapping[str, tuple[str, ...]], roots: set[str], aspect: str) -> bool:
    return any("*" in may.get(root, ()) or aspect in may.get(root, ()) for root in roots)


def _equal(now: torch.Tensor, before: torch.Tensor) -> bool:
    if torch.equal(now, before):
        return True
    if now.is_floating_point() or now.is_complex():
        return bool(((now == before) | (now.isnan() & before.isnan())).all())
    return False


def _first_difference(now: torch.Tensor, before: torch.Tensor) -> str:
    differs = (now != before) & ~(now.isnan() & before.isnan()) if (
        now.is_floating_point() or now.is_complex()) else now != before
    where = differs.nonzero()
    if where.numel() == 0:
        return ""
    index = tuple(int(i) for i in where[0])
    shown = ", ".join(map(str, index))
    was, became = distinct_digits(before[index].item(), now[index].item(), now.dtype)
    return (f" ({int(differs.sum())} of {now.numel()} elements; first at [{shown}]: "
            f"{was} -> {became})")


def _tensor_problems(entry: _Tensor, may: Mapping[str, tuple[str, ...]]
                     ) -> list[tuple[str, str]]:
    tensor, label = entry.tensor, entry.label
    problems: list[tuple[str, str]] = []
    if not _allowed(may, entry.roots, "values"):
        meta = (tuple(tensor.shape), tensor.dtype, tensor.device)
        if meta != entry.meta:
            what = [f"{n} {b} -> {a}" for n, b, a in zip(("shape", "dtype", "device"),
                                                          entry.meta, meta, strict=True)
                    if a != b]
            problems.append(("values", f"changed its input `{label}` in place: "
                                       + ", ".join(what)))
        elif entry.copy is not None:
            if not _equal(tensor.detach(), entry.copy):
                problems.append(("values", f"changed its input `{label}` in place"
                                 + _first_difference(tensor.detach(), entry.copy)))
        elif tensor._version != entry.version:
            problems.append(("values", f"changed its input `{label}` in place (an in-place op "
                                       "ran on it)"))
    if not _allowed(may, entry.roots, "requires_grad") \
            and tensor.requires_grad != entry.requires_grad:
        problems.append(("requires_grad", f"changed `{label}.requires_grad` "
                                          f"{entry.requires_grad} -> {tensor.requires_grad}"))
    if not _allowed(may, entry.roots, "grad") and tensor.is_leaf:
        grad = tensor.grad
        if (grad is None) != entry.grad_is_none:
            problems.append(("grad", f"changed `{label}.grad` " + (
                "None -> a tensor" if entry.grad_is_none else "a tensor -> None")))
        elif grad is not None and entry.grad is not None and (
                grad.shape != entry.grad.shape or not _equal(grad.detach(), entry.grad)):
            problems.append(("grad", f"changed `{label}.grad` (its values)"))
    return problems


_FIXES = {
    "values": "Leave the caller's tensors as they are: use out-of-place ops (x + y, not "
              "x.add_(y); masked_fill, not masked_fill_) or work on a copy.",
    "grad": "Leave the caller's .grad alone: torch.autograd.grad returns gradients without "
            "writing any .grad.",
    "requires_grad": "Leave requires_grad as the caller set it: work on a detached copy "
                     "(x.detach().requires_grad_()) when you need a leaf of your own.",
    "items": "Leave the caller's list or dict as it is: build a new one for your own use.",
    "training": "Hand the model back in the mode it came in: where a task needs another mode "
                "inside, restore it (was = model.training; ...; model.train(was)); where the "
                "task says to run the model in the mode it comes in, call neither .train() "
                "nor .eval().",
    "config": "Pass the option to the call (model(..., output_attentions=True), "
              "model.generate(..., max_new_tokens=n)) instead of setting it on the model.",
    "hyper": "Leave the optimizer's settings as the caller set them.",
}


# --- global state ------------------------------------------------------------------------------


def _settings() -> dict[str, tuple[Any, Callable[[Any], Any], str]]:
    """name -> (value, how to put it back, how to avoid changing it)."""
    found: dict[str, tuple[Any, Callable[[Any], Any], str]] = {
        "grad mode": (torch.is_grad_enabled(), torch.set_grad_enabled,
                      "use `with torch.no_grad():` (or torch.enable_grad()) around the code that "
                      "needs it; it restores the mode on exit"),
        "the default dtype": (torch.get_default_dtype(), torch.set_default_dtype,
                              "pass dtype= to the tensors you create"),
        "float32 matmul precision": (torch.get_float32_matmul_precision(),
                                     torch.set_float32_matmul_precision,
                                     "the precision is the caller's choice: leave "
                                     "torch.set_float32_matmul_precision alone"),
        "anomaly mode": ((torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
                         lambda v: torch.set_anomaly_enabled(*v),
                         "use `with torch.autograd.detect_anomaly():` while debugging, and "
                         "take it out"),
        "deterministic algorithms": (
            (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled()),
            lambda v: torch.use_deterministic_algorithms(v[0], warn_only=v[1]),
            "torch.use_deterministic_algorithms is the caller's choice"),
        "the thread count": (torch.get_num_threads(), torch.set_num_threads,
                             "torch.set_num_threads is the caller's choice"),
    }
    for device in ("cpu", "cuda"):
        found[f"{device.upper()} autocast"] = (
            (torch.is_autocast_enabled(device), torch.get_autocast_dtype(device)),
            functools.partial(_set_autocast, device),
            "use `with torch.autocast(...):`, which restores it on exit")
    return found


# Telling a reseed from consumption. Drawing random numbers is legitimate (dropout, nn.Linear's
# init); reseeding is the mistake: a manual_seed inside a function makes every later draw of the
# caller repeat.
# - torch's CPU generator: its state carries the seed it was last seeded with, a field the
#   Mersenne Twister's stream does not read. Before the call the guard writes a fresh random
#   marker there (set_state keeps the stream exactly); drawing leaves it, any seeding (manual_seed,
#   seed(), set_rng_state of a state saved before the call) replaces it. Afterwards the real seed
#   goes back, so the caller sees the same stream as without the guard. (torch.manual_seed(
#   torch.initial_seed()) inside the call would read the marker and go unseen.)
# - CUDA generators (Philox): the stream is the seed plus an offset that only grows as numbers are
#   drawn, so no marker can be written; a seed that changed or an offset that went back is a
#   reseed. (Reseeding with the same seed before anything was drawn is invisible, and harmless.)
# - Python's `random` and NumPy's global RandomState are Mersenne Twisters too, with no spare
#   field: drawing moves the position in the 624-word block and regenerates the block when it
#   runs out. The state after the call must be reachable from the one before by drawing: the
#   same block at a later position, or a block reached by regenerating up to _MT_BLOCKS times.
#   Any seed or setstate lands off that path (with probability 1 - 2**-19968). More than about
#   1.3M draws from the global RNG in one call would be reported too; no task comes near it.


def _set_autocast(device: str, value: tuple[bool, torch.dtype]) -> None:
    torch.set_autocast_enabled(device, value[0])
    torch.set_autocast_dtype(device, value[1])


def _torch_seed_marker() -> tuple[torch.Tensor, bytes]:
    generator = torch.default_generator
    state = generator.get_state()
    seed = bytes(state[:8].tolist())
    marker = os.urandom(8)
    state[:8] = torch.tensor(list(marker), dtype=torch.uint8)
    generator.set_state(state)
    return state, seed


def _torch_seed_restore(seed: bytes) -> None:
    state = torch.default_generator.get_state()
    state[:8] = torch.tensor(list(seed), dtype=torch.uint8)
    torch.default_generator.set_state(state)


def _cuda_states() -> list[tuple[int, int]]:
    cuda = sys.modules.get("torch.cuda")
    if cuda is None or not cuda.is_initialized():
        return []
    return [(int(g.initial_seed()), int.from_bytes(bytes(g.get_state()[8:16].tolist()),
                                                   "little", signed=True))
            for g in cuda.default_generators]


@functools.lru_cache(maxsize=64)
def _mt_reachable(before: tuple[tuple[int, ...], int], after: tuple[tuple[int, ...], int]
                  ) -> bool:
    """Is MT19937 state `after` (624 words, position) reached from `before` by drawing?

    Remembered: a call that reseeds is put back and reported, and Hypothesis then calls it again
    from the same state while it shrinks; walking 2048 blocks each time took over 10 s."""
    if after == before or (after[0] == before[0] and after[1] >= before[1]):
        return True
    walker = random.Random()
    walker.setstate((3, (*before[0], before[1]), None))
    for _ in range(_MT_BLOCKS):
        position = walker.getstate()[1][-1]
        walker.getrandbits(32 * (625 - position))  # the rest of the block, then one more word
        key = walker.getstate()[1]
        if key[:-1] == after[0] and after[1] >= key[-1]:
            return True
    return False


def _python_mt() -> tuple[tuple[int, ...], int]:
    state = random.getstate()[1]
    return state[:-1], state[-1]


def _mt_words(numpy_state: tuple[Any, ...]) -> tuple[tuple[int, ...], int]:
    return tuple(int(word) for word in numpy_state[1]), int(numpy_state[2])


class _Globals:
    def __init__(self) -> None:
        self.settings = _settings()
        self.python = random.getstate()
        self.python_mt = (self.python[1][:-1], self.python[1][-1])
        numpy = sys.modules.get("numpy")
        self.numpy = numpy.random.get_state() if numpy is not None else None
        self.cuda = _cuda_states()
        self.torch_state, self.torch_seed = _torch_seed_marker()

    def release(self) -> list[str]:
        """Put the real torch seed back; return what the call changed (and put that back)."""
        marker = bytes(self.torch_state[:8].tolist())
        reseeded = bytes(torch.default_generator.get_state()[:8].tolist()) != marker
        problems = []
        if reseeded:
            problems.append(
                "reseeded torch's global RNG (torch.manual_seed inside a function makes every "
                "later draw repeat): use a torch.Generator of your own, "
                "torch.Generator().manual_seed(s), and pass it as generator=")
            torch.default_generator.set_state(self.torch_state)
        _torch_seed_restore(self.torch_seed)
        for index, ((seed, offset), (seed_after, offset_after)) in enumerate(
                zip(self.cuda, _cuda_states(), strict=False)):
            if seed_after != seed or offset_after < offset:
                problems.append(f"reseeded the RNG of cuda:{index} (torch.cuda.manual_seed "
                                "inside a function makes every later draw repeat): use a "
                                "torch.Generator(device='cuda') of your own")
        if not _mt_reachable(self.python_mt, _python_mt()):
            problems.append("reseeded Python's global `random` (random.seed inside a function "
                            "makes every later draw repeat): use random.Random(seed) of your own")
            random.setstate(self.python)
        numpy = sys.modules.get("numpy")
        after_numpy = numpy.random.get_state() if numpy is not None else None
        if self.numpy is not None and after_numpy is not None and self.numpy[0] == "MT19937" \
                and not (numpy is not None and self.numpy[2] == after_numpy[2]
                         and numpy.array_equal(self.numpy[1], after_numpy[1])) \
                and not _mt_reachable(_mt_words(self.numpy), _mt_words(after_numpy)):
            problems.append("reseeded NumPy's global RNG (numpy.random.seed inside a function "
                            "makes every later draw repeat): use numpy.random.default_rng(seed)")
            sys.modules["numpy"].random.set_state(self.numpy)
        now = _settings()
        for name, (before, restore, fix) in self.settings.items():
            after = now[name][0]
            if after != before:
                problems.append(f"left {name} changed {_shown(before)} -> {_shown(after)}: "
                                f"{fix}")
                restore(before)
        return problems


def _shown(value: Any) -> str:
    return str(value).replace("torch.", "") if not isinstance(value, tuple) else \
        "(" + ", ".join(map(_shown, value)) + ")"


# --- the guard ---------------------------------------------------------------------------------


def _bound(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
           names: list[str], star: str | None) -> Iterator[tuple[str, str, Any]]:
    """(root, label, value) for each argument, by its parameter's name."""
    for index, value in enumerate(args):
        if index < len(names):
            yield names[index], names[index], value
        else:
            name = star or "args"
            yield name, f"{name}[{index - len(names)}]", value
    for key, value in kwargs.items():
        yield key, key, value


def _parameters(fn: Callable[..., Any]) -> tuple[list[str], str | None]:
    import inspect

    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return [], None
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY,
                                                           p.POSITIONAL_OR_KEYWORD)]
    star = next((p.name for p in parameters if p.kind == p.VAR_POSITIONAL), None)
    return positional, star


@contextmanager
def _outermost() -> Iterator[bool]:
    outer = _depth[0] == 0
    _depth[0] += 1
    try:
        yield outer
    finally:
        _depth[0] -= 1


def make_guard(fn: Callable[..., Any], qualname: str, kind: str = "function"
               ) -> Callable[..., Any]:
    """The checked call of one learner callable. kind: function, method, constructor."""
    names, star = _parameters(fn)
    owner = names[0] if kind in ("method", "constructor") and names else None

    def guarded_call(*args: Any, **kwargs: Any) -> Any:
        with _outermost() as outer:
            if not outer or torch.compiler.is_compiling():
                return fn(*args, **kwargs)
            may = dict(_declared.get(qualname, {}))
            if owner is not None and owner not in may:
                may[owner] = ("*",)
            with harness_internal():
                state = _Globals()  # outside no_grad: grad mode is one of them
                with torch.no_grad():
                    snapshot = _Snapshot(may)
                    for root, label, value in _bound(fn, args, kwargs, names, star):
                        if kind == "constructor" and root == owner:
                            continue  # a constructor builds its object
                        if "*" not in may.get(root, ()):
                            snapshot.walk(value, label, root)
            returned = False
            try:
                result = fn(*args, **kwargs)
                returned = True
            finally:
                with harness_internal():
                    problems, fixes = state.release(), list[str]()
                    if returned:
                        with torch.no_grad():
                            found, fixes = _caller_problems(snapshot, may)
                        problems += found
            if problems:
                raise AssertionError(_message(qualname, problems, fixes))
            return result

    return guarded_call


def _caller_problems(snapshot: _Snapshot, may: Mapping[str, tuple[str, ...]]
                     ) -> tuple[list[str], list[str]]:
    """(what changed, how to avoid each kind of change)."""
    problems: list[str] = []
    aspects: list[str] = []
    trained: list[str] = []
    for entry in snapshot.tensors.values():
        for aspect, problem in _tensor_problems(entry, may):
            problems.append(problem)
            aspects.append(aspect)
    for flag in snapshot.flags:
        if _allowed(may, {flag.root}, flag.aspect):
            continue
        try:
            now = flag.read()
        except Exception:  # noqa: BLE001  an attribute the call deleted
            now = "<gone>"
        if now == flag.before:
            continue
        kind = flag.aspect
        if flag.aspect == "values":
            kind = "items"
            problems.append(f"changed the items of its input `{flag.label}` (replaced, added "
                            "or removed)")
        elif flag.aspect == "training" and any(
                flag.label.startswith(done[:-len("training")]) for done in trained):
            continue  # a submodule of a module already reported, changed with it
        elif flag.aspect == "training":
            trained.append(flag.label)
            problems.append(f"changed `{flag.label}` {flag.before!r} -> {now!r}")
        elif flag.label.endswith("generation_config"):
            changed = sorted(k for k in {*flag.before, *now} if flag.before.get(k) != now.get(k))
            problems.append(f"changed `{flag.label}` ({', '.join(changed[:5])})")
        else:
            problems.append(f"changed `{flag.label}` {flag.before!r} -> {now!r}")
        aspects.append(kind)
    return problems, [_FIXES[a] for a in dict.fromkeys(aspects)]


def _message(qualname: str, problems: list[str], fixes: list[str]) -> str:
    """One line per change (the first 6 of them), then how to avoid them."""
    shown = problems[:6] + ([f"… and {len(problems) - 6} more"] if len(problems) > 6 else [])
    head = f"{qualname}: your code " + ("; ".join(shown) if len(shown) == 1
                                        else "\n  " + "\n  ".join(shown))
    return head + (". " + " ".join(fixes) if fixes else ".")
