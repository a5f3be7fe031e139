"""Source rules: what a learner's module may contain, checked on its syntax tree before it runs.

The runner (the parent process, which never imports learner code) parses the learner's file and
applies these rules before a worker starts. They are the first of the grader's integrity layers
(docs/grading.md §7): learner code runs in the same process as the spec, the harness and the
reference, so the things that would let it reach them are ruled out here, with a message that
says what to write instead:

- imports: only the modules the rung's catalog entry allows (torch and the standard modules every
  rung may use; numpy, os, re, transformers where a rung needs them);
- no dynamic code (`exec`, `eval`, `compile`, `__import__`), no `globals()`, `vars()`,
  `locals()`, `open()`, `breakpoint()`;
- no frames, code objects or namespaces (`f_back`, `tb_frame`, `__globals__`, `__dict__`,
  `__subclasses__`, ...), and no attribute names that lead to the interpreter (`sys`, `os`,
  `gc`, `builtins`, ...) wherever they are written;
- no private attributes of imported modules (`torch._C`) and none of torch's back doors
  (`torch.ops`, `torch.library`, `torch.utils.cpp_extension`, ...);
- no assignments to attributes of imported modules (`torch.allclose = ...`);
- no raising of BaseExceptions that are not Exceptions (`KeyboardInterrupt`, `SystemExit`);
- no dunder methods beyond a small set (`__eq__` that always says True is not an answer).

Rules never reject correct code: every reference and alternative passes them (tests/test_rules.py).
A rung that needs one loosened says so in its catalog entry (`[rung.source]`), with the reason.
The same name lists drive the worker's run-time guard (grader/harness/sandbox.py), which covers
what no syntax tree shows: `getattr(torch, "s" + "ys")`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

MAX_SOURCE_BYTES = 512 * 1024
MAX_VIOLATIONS_SHOWN = 8

# Modules every rung may import. A module allows its submodules, except those denied below.
BASE_IMPORTS = (
    "__future__", "abc", "collections", "contextlib", "copy", "dataclasses", "enum",
    "functools", "heapq", "itertools", "math", "numbers", "operator", "statistics", "string",
    "typing", "warnings", "torch",
)

# Parts of torch no rung needs and that reach past the grader: raw operator tables, native
# extensions, code loaders, process and thread pools that the op recorders cannot see, global
# function modes, code generation.
BASE_DENY = (
    "torch.ops", "torch.library", "torch.classes", "torch.utils.cpp_extension", "torch.hub",
    "torch.utils.model_zoo", "torch.package", "torch.multiprocessing", "torch.distributed",
    "torch.jit", "torch.overrides", "torch.fx", "torch.utils.dlpack", "torch.testing._internal",
    "torch.utils",  # code strings run (benchmark.Timer), shells (collect_env), worker processes
    # the op recorders cannot see (data); what rungs use is in BASE_ALLOW or a rung's imports
    "torch.cuda.cudart", "torch.serialization.add_safe_globals",
    "torch.serialization.safe_globals", "typing.get_type_hints", "operator.attrgetter",
    "functools.singledispatch", "functools.singledispatchmethod",
    "operator.methodcaller", "string.Formatter", "functools.partialmethod",
    "numpy.ctypeslib", "numpy.lib", "numpy.f2py", "numpy.distutils", "numpy.testing",
    "numpy.load", "numpy.save", "numpy.savez", "numpy.fromfile", "numpy.memmap",
    "numpy.loadtxt", "numpy.genfromtxt", "numpy.savetxt", "numpy.fromregex", "numpy.DataSource",
    "transformers.dynamic_module_utils",
)

# Parts of denied namespaces every rung may use.
BASE_ALLOW = ("torch.utils.checkpoint", "torch.utils.hooks")

# Builtins that run or reach code by name, or read and write files.
DENIED_BUILTINS = {
    "exec": "run the code itself instead of a string of it",
    "eval": "compute the value directly",
    "compile": "write the code itself",
    "__import__": "use an import statement at the top of the module",
    "globals": "refer to the names directly",
    "vars": "use the object's own attributes or a dict",
    "locals": "refer to the names directly",
    "open": "the tasks take and return tensors; torch.save and torch.load handle files",
    "breakpoint": "the grader has no debugger attached; print() and kata check -v show values",
    "input": "the grader has no keyboard; take values as arguments",
    "help": "read the docs outside the graded module",
    "exit": "return the result; the grader runs every check and reports them all",
    "quit": "return the result; the grader runs every check and reports them all",
    "__builtins__": "use the builtins by name",
    "__loader__": "import modules with an import statement",
    "__spec__": "import modules with an import statement",
}

# Attribute names that lead from any object to the interpreter, the process or the grader.
# Wherever they are written (`torch.sys`, `typing.sys`, `np.os`) they are refused.
DENIED_ATTRIBUTES = frozenset({
    "sys", "os", "gc", "builtins", "inspect", "importlib", "ctypes", "subprocess", "threading",
    "_thread", "multiprocessing", "concurrent", "asyncio", "signal", "socket", "pickle",
    "marshal", "shutil", "tempfile", "resource", "traceback", "weakref", "atexit",
    "faulthandler", "runpy", "pdb", "code", "codeop", "linecache", "site", "sysconfig",
    "pkgutil", "zipimport", "copyreg", "posix", "nt", "io", "pathlib", "types", "ast", "dis",
    "platform", "pty", "fcntl", "mmap", "select", "selectors", "logging", "pytest", "_pytest",
    "hypothesis", "pluggy", "grader", "environ", "getenv", "putenv", "system", "popen",
    "spawn", "fork", "forkpty", "execv", "execve", "kill", "killpg", "getppid", "getpid",
    "setsid", "_exit", "abort", "meta_path", "path_hooks", "settrace",
    "setprofile", "get_objects", "get_referrers", "get_referents", "attrgetter",
    "methodcaller", "get_type_hints", "add_safe_globals", "safe_globals", "from_file",
    "fromfile", "tofile", "memmap", "cpp_extension", "load_library", "library", "ops",
    "classes", "dynamic_module_utils", "enter_context", "recompile", "call_method", "call_function",
    "create_node", "python_code", "f_back", "f_locals", "f_globals", "f_builtins", "f_code",
    "f_trace", "f_lasti", "f_lineno", "tb_frame", "tb_next", "gi_frame", "gi_code",
    "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code", "co_code",
    "co_consts", "co_names", "func_globals", "func_code", "write_text", "write_bytes",
    "symlink_to", "hardlink_to", "exec_module", "load_module", "format_map", "read_text",
    "read_bytes", "iterdir", "glob", "rglob", "listdir", "scandir", "walk", "readlink",
    "fromregex", "Timer", "collect_env",
})
DENIED_ATTRIBUTE_PREFIXES = ("register_module_",)
# The last word of a denied torch namespace, refused on anything but an import (where the path
# rules decide): a module passed through a parameter, `def f(t): return t.utils.data`, is
# refused by name.
LAUNDERED_NAMESPACES = frozenset({
    "utils", "jit", "fx", "overrides", "hub", "package", "dlpack", "model_zoo", "benchmark",
    "multiprocessing", "distributed", "cudart", "testing", "backends", "_dynamo", "compiler",
})  # torch.nn.modules.module: hooks on every module

# Dunder attributes that are plain facts about an object; every other dunder is refused.
SAFE_DUNDER_ATTRIBUTES = frozenset({
    "__name__", "__qualname__", "__doc__", "__class__", "__init__", "__call__", "__len__",
    "__iter__", "__next__", "__getitem__", "__setitem__", "__contains__", "__enter__",
    "__exit__", "__repr__", "__str__", "__version__", "__annotations__", "__post_init__",
    "__future__",
})
# Dunder methods a learner's class may define: construction, calling, containers, printing.
# Comparison, arithmetic, conversion, attribute and pickling hooks are refused: an object that
# decides how it compares or subtracts can answer the grader's checks the way it likes.
SAFE_DUNDER_DEFINITIONS = frozenset({
    "__init__", "__call__", "__len__", "__getitem__", "__setitem__", "__iter__", "__next__",
    "__repr__", "__str__", "__post_init__", "__enter__", "__exit__", "__contains__",
    "__reversed__", "__slots__", "__doc__", "__all__", "__version__", "__annotations__",
})
NOT_EXCEPTIONS = frozenset({
    "BaseException", "BaseExceptionGroup", "KeyboardInterrupt", "SystemExit", "GeneratorExit",
})
DENIED_KEYWORDS = {
    ("weights_only", False): "load with weights_only=True (the default): a full unpickler runs "
                             "whatever code the file names",
    ("pickle_module", None): "load with torch's own safe unpickler",
    ("allow_pickle", True): "load arrays without pickle",
    ("trust_remote_code", True): "load the model's code from transformers, not from the folder",
}
OWN_ROOTS = ("self", "cls")


@dataclass(frozen=True)
class SourcePolicy:
    """What one rung's module may import and reach."""

    rung: str
    imports: tuple[str, ...] = BASE_IMPORTS
    deny: tuple[str, ...] = BASE_DENY
    allow: tuple[str, ...] = BASE_ALLOW  # dotted names allowed despite the rules
    module_attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (module, allowed attributes)
    dunders: tuple[str, ...] = ()  # dunder methods a rung's classes may define besides the safe set
    attributes: tuple[str, ...] = ()  # attribute names allowed despite the name rules

    def import_problem(self, dotted: str) -> str | None:
        """Why `dotted` (a module, or module.attribute) may not be imported, or None."""
        if self.allowed_exception(dotted) or any(name.startswith(dotted + ".")
                                                  for name in self.allow):
            return None
        parts = dotted.split(".")
        top = parts[0]
        if not any(dotted == name or dotted.startswith(name + ".") or top == name
                   for name in self.imports):
            return (f"{self.rung} does not use `{top}`; its modules may import "
                    f"{_listing(self.imports)}")
        return self.path_problem(dotted)

    def path_problem(self, dotted: str) -> str | None:
        """Why a dotted path under an allowed module is refused (private, denied), or None."""
        if self.allowed_exception(dotted) or any(
                dotted == name or dotted.startswith(name + ".") for name in self.imports
                if "." in name):  # a rung that imports torch.utils.data may use all of it
            return None
        parts = dotted.split(".")
        for index, part in enumerate(parts[1:], start=1):
            if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
                return (f"`{'.'.join(parts[:index + 1])}` is private to "
                        f"{'.'.join(parts[:index])}; use its public API")
        for denied in self.deny:
            if dotted == denied or dotted.startswith(denied + "."):
                return f"`{denied}` reaches past the grader; this rung does not need it"
        top = parts[0]
        restricted = dict(self.module_attributes)
        if top in restricted and len(parts) > 1:
            allowed = restricted[top]
            if parts[1] not in allowed:
                return (f"{self.rung} uses only {', '.join(f'{top}.{a}' for a in allowed)} "
                        f"from `{top}`")
        return None

    def allowed_exception(self, dotted: str) -> bool:
        return any(dotted == name or dotted.startswith(name + ".") for name in self.allow)


def _listing(names: Iterable[str]) -> str:
    shown = sorted({name.split(".")[0] for name in names} - {"__future__"})
    return ", ".join(shown)


@dataclass(frozen=True)
class Violation:
    line: int
    message: str

    def render(self, filename: str, source_lines: list[str]) -> str:
        text = source_lines[self.line - 1].strip() if 0 < self.line <= len(source_lines) else ""
        shown = f"\n      {text[:100]}" if text else ""
        return f"{filename}:{self.line}: {self.message}{shown}"


def attribute_problem(name: str, allowed: Iterable[str] = ()) -> str | None:
    """Why an attribute name is refused on any object, or None (also used at run time)."""
    if name in allowed:
        return None
    if name.startswith("__") and name.endswith("__") and len(name) > 4:
        if name not in SAFE_DUNDER_ATTRIBUTES:
            return (f"`{name}` reaches into the interpreter's machinery; the tasks need only "
                    "tensors, modules and their public attributes")
        return None
    if name in DENIED_ATTRIBUTES or name.startswith(DENIED_ATTRIBUTE_PREFIXES):
        return (f"`.{name}` leads out of the task to the interpreter, the process or the "
                "grader; the tasks need only tensors, modules and their public attributes")
    return None


class _Checker(ast.NodeVisitor):
    def __init__(self, policy: SourcePolicy) -> None:
        self.policy = policy
        self.violations: list[Violation] = []
        self.aliases: dict[str, str] = {}  # local name -> the module path it stands for
        self.parents: dict[int, ast.AST] = {}
        self.class_depth = 0

    # helpers ---------------------------------------------------------------------------------

    def flag(self, node: ast.AST, message: str) -> None:
        self.violations.append(Violation(getattr(node, "lineno", 0), message))

    def attribute_problem(self, name: str) -> str | None:
        return attribute_problem(name, self.policy.attributes)

    def chain(self, node: ast.AST) -> tuple[str, list[str]] | None:
        """`torch.nn.functional.relu` as ("torch", ["nn", "functional", "relu"]), if rooted at
        a plain name."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            return node.id, list(reversed(parts))
        return None

    def module_path(self, node: ast.AST) -> str | None:
        """The dotted module path an expression stands for, when it is rooted at an import."""
        found = self.chain(node)
        if found is None or found[0] not in self.aliases:
            return None
        root, parts = found
        return ".".join([self.aliases[root], *parts])

    # imports ---------------------------------------------------------------------------------

    def _dunder_binding(self, node: ast.AST, name: str | None) -> None:
        if name and name.startswith("__") and name.endswith("__") \
                and name not in SAFE_DUNDER_DEFINITIONS and name not in self.policy.dunders:
            self.flag(node, f"binding the name {name} lets an object decide how the grader's "
                            "checks see it, or changes how Python treats your module")

    def visit_alias(self, node: ast.alias) -> None:
        self._dunder_binding(node, node.asname or node.name.split(".")[0])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._dunder_binding(node, node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self._dunder_binding(node, node.name)
        self.generic_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        for name in node.kwd_attrs:
            problem = self.attribute_problem(name)
            if problem is None and name.startswith("_"):
                problem = f"`{name}` is private; use the public API"
            if problem is None and name in LAUNDERED_NAMESPACES:
                problem = f"`{name}` read by a pattern: reach torch's namespaces by their import"
            if problem:
                self.flag(node, f"case ...({name}=...): {problem}")
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        self._dunder_binding(node, node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self._dunder_binding(node, node.rest)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.visit_alias(alias)
            if alias.name.split(".")[0] == "grader":
                self.flag(node, f"import {alias.name}: import earlier rungs' building blocks "
                                "by name, `from grader.blocks import LayerNorm`; nothing else of "
                                "the grader is for graded code")
                continue
            problem = self.policy.import_problem(alias.name)
            if problem:
                self.flag(node, f"import {alias.name}: {problem}")
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.flag(node, "relative imports find nothing here: the grader runs your module on "
                            "its own; import torch and the standard modules by name")
            return
        module = node.module or ""
        problem = self.policy.import_problem(module)
        if problem:
            self.flag(node, f"from {module} import ...: {problem}")
            return
        for alias in node.names:
            self.visit_alias(alias)
            if alias.name == "*":
                self.flag(node, f"from {module} import *: import the names you use, one by one")
                continue
            dotted = f"{module}.{alias.name}"
            problem = self.policy.path_problem(dotted)
            if problem is None and not self.policy.allowed_exception(dotted):
                problem = self.attribute_problem(alias.name)
            if problem:
                self.flag(node, f"from {module} import {alias.name}: {problem}")
            self.aliases[alias.asname or alias.name] = dotted

    # names and attributes --------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DENIED_BUILTINS:
            self.flag(node, f"`{node.id}` is not available to graded code: "
                            f"{DENIED_BUILTINS[node.id]}")
        elif isinstance(node.ctx, ast.Store | ast.Del) and node.id.startswith("__") \
                and node.id.endswith("__") and node.id not in SAFE_DUNDER_DEFINITIONS:
            self.flag(node, f"assigning `{node.id}` changes how Python treats your module; "
                            "leave it alone")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        found = self.chain(node)
        own = found is not None and found[0] in OWN_ROOTS and found[0] not in self.aliases
        path = self.module_path(node)
        parent = self.parents.get(id(node))
        if path is not None and isinstance(parent, ast.Attribute) \
                and self.policy.allowed_exception(f"{path}.{parent.attr}"):
            path_allowed_further = True  # torch._dynamo in torch._dynamo.is_dynamo_supported
        else:
            path_allowed_further = False
        if path is not None and not path_allowed_further:
            problem = self.policy.path_problem(path)
            if problem and not self._reported_on_inner(node):
                self.flag(node, problem)
            elif isinstance(node.ctx, ast.Store | ast.Del):
                self.flag(node, f"assigning to `{path}` changes {path.rsplit('.', 1)[0]} for "
                                "everyone, the grader included; keep your own names")
        if not own and not (path is not None and self.policy.allowed_exception(path)):
            problem = self.attribute_problem(node.attr)
            if problem is None and path is None and node.attr in LAUNDERED_NAMESPACES \
                    and node.attr not in self.policy.attributes:
                problem = (f"`.{node.attr}` on something other than an imported module: reach "
                           "torch's namespaces by their import (torch.nn.functional, ...)")
            if problem:
                self.flag(node, problem)
            elif node.attr.startswith("_") and not node.attr.startswith("__") and path is None \
                    and node.attr not in self.policy.attributes:
                self.flag(node, f"`.{node.attr}` is private; use the public API (your own "
                                "classes may keep private attributes on self)")
        elif own:  # self._cache is fine; self.tb_frame or self.__dict__ is not
            problem = self.attribute_problem(node.attr)
            if problem:
                self.flag(node, problem)
        if node.attr == "open" and not self._opens_for_writing(node):
            self.flag(node, "`.open(...)` here would read a file; the tasks take their data as "
                            "arguments (to write a checkpoint, open it with a constant mode "
                            "such as \"wb\")")
        self.generic_visit(node)

    def _opens_for_writing(self, node: ast.Attribute) -> bool:
        """`something.open("wb")`: called at once with a constant mode that only writes."""
        call = self.parents.get(id(node))
        if not isinstance(call, ast.Call) or call.func is not node:
            return False
        mode = call.args[0] if call.args else next(
            (k.value for k in call.keywords if k.arg == "mode"), None)
        return (isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                and any(c in mode.value for c in "wax") and not any(c in mode.value for c in "r+"))

    def _reported_on_inner(self, node: ast.Attribute) -> bool:
        """A refused path is reported once, at its shortest refused prefix."""
        inner = node.value
        if isinstance(inner, ast.Attribute):
            path = self.module_path(inner)
            return path is not None and self.policy.path_problem(path) is not None
        return False

    # calls -----------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == "type" and len(node.args) == 3:
                self.flag(node, "type(name, bases, namespace) builds a class out of sight of "
                                "these rules; write a class statement")
            if func.id in ("setattr", "delattr") and node.args:
                target = self.module_path(node.args[0])
                if target is not None:
                    self.flag(node, f"{func.id}() on `{target}` changes it for everyone, the "
                                    "grader included; keep your own names")
                if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                        and isinstance(node.args[1].value, str):
                    problem = self.attribute_problem(node.args[1].value)
                    if problem:
                        self.flag(node, problem)
            if func.id in ("getattr", "hasattr") and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.Constant) \
                    and isinstance(node.args[1].value, str):
                problem = self.attribute_problem(node.args[1].value)
                path = self.module_path(node.args[0])
                if path is not None and not problem:
                    problem = self.policy.path_problem(f"{path}.{node.args[1].value}")
                if problem:
                    self.flag(node, problem)
        if isinstance(func, ast.Attribute) and func.attr == "format":
            receiver = func.value
            if not (isinstance(receiver, ast.Constant) and isinstance(receiver.value, str)):
                self.flag(node, "str.format on a string built at run time can read any "
                                "attribute; use an f-string")
            elif _format_fields_navigate(receiver.value):
                self.flag(node, "a format field that reads attributes or items; use an f-string "
                                "with plain names")
        unpacked = [ast.keyword(arg=key.value, value=value) for keyword in node.keywords
                    if keyword.arg is None and isinstance(keyword.value, ast.Dict)
                    for key, value in zip(keyword.value.keys, keyword.value.values, strict=True)
                    if isinstance(key, ast.Constant) and isinstance(key.value, str)]
        if isinstance(func, ast.Attribute) and func.attr in ("load", "from_pretrained") and any(
                k.arg is None and not isinstance(k.value, ast.Dict) for k in node.keywords):
            self.flag(node, f"`.{func.attr}(**...)`: pass a loader's options by name, so the "
                            "grader can see them")
        for keyword in [*node.keywords, *unpacked]:
            for (name, value), advice in DENIED_KEYWORDS.items():
                if keyword.arg != name:
                    continue
                given = keyword.value
                if value is None or (isinstance(given, ast.Constant) and given.value is value) \
                        or not isinstance(given, ast.Constant):
                    self.flag(node, f"{name}=...: {advice}")
        self.generic_visit(node)

    # exceptions ------------------------------------------------------------------------------

    def visit_Raise(self, node: ast.Raise) -> None:
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(raised, ast.Name) and raised.id in NOT_EXCEPTIONS:
            self.flag(node, f"raising {raised.id} stops the grader rather than your task; raise "
                            "an Exception (ValueError, RuntimeError, ...) or return")
        self.generic_visit(node)

    # classes and functions -------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in NOT_EXCEPTIONS:
                self.flag(base, f"a class derived from {base.id} stops the grader rather than "
                                "your task; derive from Exception")
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.flag(keyword.value, "a metaclass changes how the class itself behaves; a "
                                         "plain class does all these tasks need")
        for item in node.body:
            names: list[tuple[ast.AST, str]] = []
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                names.append((item, item.name))
            elif isinstance(item, ast.Assign):
                names += [(t, t.id) for t in item.targets if isinstance(t, ast.Name)]
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                names.append((item.target, item.target.id))
            elif isinstance(item, ast.ClassDef):
                names.append((item, item.name))
            for where, name in names:
                if name.startswith("__") and name.endswith("__") \
                        and name not in SAFE_DUNDER_DEFINITIONS \
                        and name not in self.policy.dunders:
                    self.flag(where, f"defining {name} lets an object decide how the grader's "
                                     "checks see it; return plain tensors and numbers (dunder "
                                     f"methods allowed: {', '.join(sorted(_SHOWN_DEFS))})")
        self.class_depth += 1
        self.generic_visit(node)
        self.class_depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if self.class_depth == 0 and node.name in ("__getattr__", "__dir__"):
            self.flag(node, f"a module-level {node.name} answers for names the module does not "
                            "define; define each task by name")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in DENIED_BUILTINS:
                self.flag(node, f"`{name}` is not available to graded code")


_SHOWN_DEFS = SAFE_DUNDER_DEFINITIONS - {"__slots__", "__doc__", "__all__", "__version__",
                                         "__annotations__"}


def _format_fields_navigate(template: str) -> bool:
    """Does a str.format template read attributes or items (`{0.__class__}`, `{x[k]}`)?"""
    import string

    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return True
    return any(name and ("." in name or "[" in name) for _, name, _, _ in fields)


def _collect_aliases(tree: ast.Module, checker: _Checker) -> None:
    """Names bound by imports anywhere, and plain names assigned from them (`t = torch`), in
    one walk and then one pass over a worklist (linear in the size of the file)."""
    plain: dict[str, list[ast.AST]] = {}  # name -> the expressions assigned to it
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                checker.aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                if alias.name != "*":
                    checker.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) \
                and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    plain.setdefault(target.id, []).append(node.value)
    # a name assigned from a chain rooted at `root` waits on `root`
    waiting: dict[str, list[str]] = {}
    for name, values in plain.items():
        for value in values:
            found = checker.chain(value)
            if found is not None:
                waiting.setdefault(found[0], []).append(name)
    work = [name for name in checker.aliases if name in waiting]
    while work:
        root = work.pop()
        for name in waiting.pop(root, []):
            if name in checker.aliases:
                continue
            for value in plain[name]:
                path = checker.module_path(value)
                if path is not None:
                    checker.aliases[name] = path
                    if name in waiting:
                        work.append(name)
                    break


def check_source(source: str, policy: SourcePolicy) -> list[Violation]:
    """Every rule the source breaks, in line order. Raises SyntaxError for unparsable source."""
    tree = ast.parse(source)
    checker = _Checker(policy)
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            checker.parents[id(child)] = parent
    _collect_aliases(tree, checker)
    checker.visit(tree)
    unique = {(v.line, v.message): v for v in checker.violations}
    return sorted(unique.values(), key=lambda v: v.line)


def describe_violations(violations: list[Violation], filename: str, source: str) -> str:
    """The learner-facing message: each broken rule with file, line and the line itself."""
    lines = source.splitlines()
    shown = [v.render(filename, lines) for v in violations[:MAX_VIOLATIONS_SHOWN]]
    more = len(violations) - len(shown)
    tail = f"\n  … and {more} more" if more > 0 else ""
    noun = "rule" if len(violations) == 1 else "rules"
    return (f"{filename} breaks {len(violations)} of the grader's source {noun}, so it was not "
            "run:\n  " + "\n  ".join(shown) + tail +
            "\n  (The rules keep graded code to the task: README § Source rules.)")
