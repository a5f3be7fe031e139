"""The source rules and the run-time guard: they refuse what reaches past the task, never correct
code. Every reference, stub, alternative and mutant is held to them here, then a catalogue of
ways around them."""

from __future__ import annotations

import textwrap
import types

import pytest

from grader.catalog import resolve
from grader.harness import sandbox
from grader.rules import check_source

from .helpers import AVAILABLE, kata_expect, mutant_files

EVERY_FILE = [(rung, path) for rung in AVAILABLE
              for path in [rung.reference_path, rung.exercise_path, *mutant_files(rung)]]


@pytest.mark.parametrize("rung,path", EVERY_FILE,
                         ids=[f"{r.id}/{p.parent.name}/{p.stem}" for r, p in EVERY_FILE])
def test_rules_never_reject_the_project_s_own_code(rung, path):
    expect = kata_expect(path) if "mutants" in path.parts else {}
    violations = check_source(path.read_text(encoding="utf-8"), rung.policy)
    if expect.get("status") == "error" and "task" not in expect:  # a mutant the rules refuse
        assert violations, f"{path} is expected to break a source rule"
        return
    assert not violations, "\n".join(f"{path}:{v.line}: {v.message}" for v in violations)


ATTENTION = resolve("08-attention").policy
REFUSED = {
    "import sys": "import sys",
    "import gc": "import gc",
    "from os import system": "does not use `os`",
    "import importlib": "import importlib",
    "import ctypes": "import ctypes",
    "import numpy as np": "import numpy",
    "from . import helper": "relative imports",
    "from torch import *": "import *",
    "from torch import _C": "private",
    "import torch._C": "private",
    "import torch\nx = torch._C._nn": "private",
    "import torch\nx = torch.ops.aten.mm": "torch.ops",
    "import torch\nx = torch.library": "torch.library",
    "import torch\nx = torch.sys.modules": ".sys",
    "import typing\nx = typing.sys": ".sys",
    "import torch\nt = torch\nt.ops.aten.mm": "torch.ops",
    "import torch\nx = torch.utils.cpp_extension": "cpp_extension",
    "import torch\nx = torch.multiprocessing": "multiprocessing",
    "import torch\nx = torch.jit.fork": "torch.jit",
    "import torch\nx = torch.fx": "torch.fx",
    "import torch\nx = torch.overrides.TorchFunctionMode": "torch.overrides",
    "import torch\ntorch.allclose = lambda *a, **k: True": "for everyone",
    "import torch\ntorch.Tensor.any = lambda self: False": "for everyone",
    "import math\nsetattr(math, 'isclose', print)": "for everyone",
    "import torch\ndel torch.equal": "for everyone",
    "x = eval('1')": "`eval`",
    "exec('x = 1')": "`exec`",
    "x = compile('1', 'f', 'eval')": "`compile`",
    "m = __import__('os')": "`__import__`",
    "g = globals()": "`globals`",
    "v = vars()": "`vars`",
    "f = open('/etc/passwd')": "`open`",
    "breakpoint()": "`breakpoint`",
    "b = __builtins__": "`__builtins__`",
    "def f(): pass\ng = f.__globals__": "__globals__",
    "c = (1).__class__.__mro__[-1].__subclasses__()": "__mro__",
    "def f(): pass\nc = f.__code__": "__code__",
    "import torch\nd = torch.__dict__": "__dict__",
    "try:\n    1/0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame": "__traceback__",
    "def g():\n    yield 1\nf = g().gi_frame.f_back": "gi_frame",
    "x = getattr(int, '__subclasses__')": "__subclasses__",
    "import torch\nx = getattr(torch, '_C')": "private",
    "import operator\nf = operator.attrgetter('x')": "attrgetter",
    "import typing\ntyping.get_type_hints(int, globalns={})": "get_type_hints",
    "import torch\ntorch.load('x', weights_only=False)": "weights_only",
    "import torch\nfrom torch.nn.modules import module\n"
    "module.register_module_forward_hook(print)": "register_module_",
    "import torch\nt = torch.from_file('/etc/passwd', size=10)": "from_file",
    "raise KeyboardInterrupt": "KeyboardInterrupt",
    "raise SystemExit(0)": "SystemExit",
    "class Stop(BaseException):\n    pass": "BaseException",
    "exit()": "`exit`",
    "class Liar(float):\n    def __eq__(self, other):\n        return True": "__eq__",
    "class Liar(float):\n    __lt__ = lambda self, other: True": "__lt__",
    "class Zero(float):\n    def __sub__(self, other):\n        return 0.0": "__sub__",
    "class M(type):\n    pass\nclass X(metaclass=M):\n    pass": "metaclass",
    "X = type('X', (float,), {})": "type(name, bases, namespace)",
    "s = '{0.__init__.__globals__}'\nt = s.format(1)": "str.format",
    "t = '{0.__class__}'.format(1)": "format field",
    "def __getattr__(name):\n    return None": "__getattr__",
    "__builtins__ = {}": "__builtins__",
}


@pytest.mark.parametrize("source,expected", list(REFUSED.items()), ids=list(REFUSED))
def test_each_way_past_the_task_is_refused_with_a_reason(source, expected):
    violations = check_source(source, ATTENTION)
    assert violations, f"not refused:\n{source}"
    assert any(expected in v.message for v in violations), [v.message for v in violations]


ALLOWED = [
    "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nimport math",
    "from collections.abc import Callable\nfrom typing import Any\nfrom dataclasses import "
    "dataclass",
    "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self._cache = None\n    def forward(self, x):\n        return x",
    "def f(module, name):\n    return getattr(module, name)",
    "def f(self):\n    return type(self).__name__ + self.__class__.__qualname__",
    "def f(m):\n    return [s for s in m.modules()]",
    "x = f'{1 + 1}'\ny = 'a {} b'.format(3)",
    "import torch\nx = torch.load('ckpt.pt', weights_only=True)",
    "class Seq:\n    def __len__(self):\n        return 3\n    def __getitem__(self, i):\n"
    "        return i",
]


@pytest.mark.parametrize("source", ALLOWED)
def test_ordinary_code_is_never_refused(source):
    assert check_source("from torch import nn\n" + source, ATTENTION) == []


# the run-time guard --------------------------------------------------------------------------


def _learner_module(tmp_path, source: str) -> types.ModuleType:
    path = tmp_path / "attention.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return sandbox.load_learner_module(path, f"kata_guard_test_{tmp_path.name}", ATTENTION)


@pytest.mark.parametrize("expression", [
    "getattr(torch, 's' + 'ys')",
    "getattr(typing, ''.join(['s', 'y', 's']))",
    "getattr(getattr(f, '__glo' + 'bals__'), 'get')('__builtins__')",
    "getattr(torch, '_' + 'C')",
    "getattr(math.sqrt, '__' + 'self__')",
])
def test_the_guarded_getattr_refuses_what_the_rules_refuse(tmp_path, expression):
    module = _learner_module(tmp_path, f"""
        import math
        import typing
        import torch

        def f():
            return 1

        def probe():
            return {expression}
    """)
    with pytest.raises(AttributeError):
        module.probe()


def test_the_guarded_setattr_cannot_patch_torch(tmp_path):
    module = _learner_module(tmp_path, """
        import torch

        def patch(name):
            setattr(torch, name, lambda *a, **k: True)
    """)
    with pytest.raises(AttributeError, match="for everyone"):
        module.patch("allc" + "lose")


def test_refused_builtins_raise_a_clear_error():
    refused = sandbox.restricted_builtins(ATTENTION, "m", "f.py")
    for name in ("exec", "eval", "open", "compile", "globals", "vars"):
        with pytest.raises(RuntimeError, match="not available to graded code"):
            refused[name]("1")


def test_a_class_built_at_run_time_with_a_lying_eq_is_not_an_answer(tmp_path):
    module = _learner_module(tmp_path, """
        def liar():
            Answer = type("Answer", (float,), {"__eq__": lambda self, other: True})
            return Answer(0.0)
    """)
    with pytest.raises(sandbox.Tampered, match="__eq__"):
        module.liar()
