"""Mutants of a module's source: every position where an operator applies, outside the code no
mistake of a learner's lives in (docstrings, annotations, imports, KATA_ lines, `raise`
statements and their messages), one mutant per position, with duplicates (two operators making
the same code) and mutants that do not compile left out.

A mutant is identified stably by its operator, the function it is in and the source line before
and after it (not by an occurrence number or a line number, which shift when the file changes):
that is what an equivalents file names.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field
from typing import Any

from cosmic_ray.ast import Visitor, ast_nodes, get_ast

from grader.mutation.operators import Node, all_operators

SKIPPED_STATEMENTS = {"import_name", "import_from", "raise_stmt"}


@dataclass
class Mutant:
    operator: str
    occurrence: int  # of this operator in this source; only to apply it, not to name it
    line: int  # 1-based, in the original source
    function: str  # the innermost def or class around that line ("Class.method"), or ""
    before: str  # the changed original line(s), stripped, comments left out, joined by " / "
    after: str  # what they became ("" for lines removed)
    source: str = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.operator, self.function, self.before, self.after)

    def describe(self, filename: str) -> str:
        where = f" ({self.function})" if self.function else ""
        return f"{filename}:{self.line}{where}: {self.before} -> {self.after or '(removed)'}  " \
               f"[{self.operator}]"

    def as_dict(self) -> dict[str, Any]:
        return {"operator": self.operator, "line": self.line, "function": self.function,
                "before": self.before, "after": self.after}


def function_at(tree: ast.Module, line: int) -> str:
    """The qualified name of the innermost def or class whose lines (decorators included)
    hold `line`; "" at module level."""
    def search(body: list[ast.stmt], prefix: str) -> str:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if first <= line <= (node.end_lineno or node.lineno):
                    name = f"{prefix}{node.name}"
                    return search(node.body, name + ".") or name
        return ""
    return search(tree.body, "")


def _kata_lines(source: str) -> set[int]:
    return {n for n, line in enumerate(source.splitlines(), 1) if "KATA_" in line}


def _is_docstring(node: Node) -> bool:
    """A string statement: a docstring or a bare string (both only words)."""
    return node.type == "simple_stmt" and node.children[0].type in ("string", "fstring")


def _reduction(node: Node) -> bool:
    """A string passed as reduction= (the one string an operator changes)."""
    parent = node.parent
    return bool(parent is not None and parent.type == "argument"
                and getattr(parent.children[0], "value", None) == "reduction")


def skipped(node: Node, kata_lines: set[int]) -> bool:
    """Whether no mutant should be made at `node`: it lies in a docstring, an annotation, an
    import, a `raise` statement, a string, or on a line that names KATA_, or it is the * or /
    of a parameter list."""
    if node.start_pos[0] in kata_lines:
        return True
    if node.type == "operator" and node.parent is not None \
            and node.parent.type in ("parameters", "param", "lambdef"):
        return True  # def f(a, *, b): the bare * (cosmic-ray would make it a /)
    child, parent = node, node
    while parent is not None:
        if parent.type in ("fstring", "string") and not (parent is node and _reduction(node)):
            return True
        if parent.type in SKIPPED_STATEMENTS or _is_docstring(parent):
            return True
        if parent.type == "tfpdef" and child is not parent and child is not parent.children[0]:
            return True  # def f(x: Tensor): the annotation
        if parent.type == "annassign" and child is not parent and child is parent.children[1]:
            return True  # x: int = 3
        if parent.type == "funcdef" and child is not parent and child is not parent.children[-1]:
            index = parent.children.index(child)
            if index >= 2 and getattr(parent.children[index - 1], "value", None) == "->":
                return True  # def f() -> Tensor
        if parent.type == "decorator":
            name = str(parent.children[1].get_code(include_prefix=False))
            if name.split("(")[0].split(".")[-1] in ("overload", "staticmethod", "classmethod",
                                                     "property", "dataclass"):
                return True
        child, parent = parent, parent.parent
    return False


class _Apply(Visitor):  # type: ignore[misc]  # cosmic-ray ships no types
    """Apply the `occurrence`-th mutation of `operator` (counting only positions not skipped)."""

    def __init__(self, operator: Any, occurrence: int, kata_lines: set[int]) -> None:
        self.operator, self.occurrence, self.kata_lines = operator, occurrence, kata_lines
        self.count, self.applied = 0, False

    def visit(self, node: Node) -> Node:
        if self.applied or skipped(node, self.kata_lines):
            return node
        for index, _position in enumerate(self.operator.mutation_positions(node)):
            if self.count == self.occurrence:
                self.applied = True
                self.count += 1
                return self.operator.mutate(node, index)
            self.count += 1
        return node


def _count(operator: Any, source: str, kata_lines: set[int]) -> int:
    total = 0
    for node in ast_nodes(get_ast(source)):
        if not skipped(node, kata_lines):
            total += sum(1 for _ in operator.mutation_positions(node))
    return total


def _without_comment(line: str) -> str:
    """The line stripped, a trailing # comment left out (a # inside a string kept)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote and line[i - 1] != "\\":
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:i].strip()
    return line.strip()


def _changed(before: str, after: str) -> tuple[int, str, str]:
    """The first changed line, and the changed lines before and after, stripped."""
    a, b = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            return (i1 + 1, " / ".join(_without_comment(s) for s in a[i1:i2]),
                    " / ".join(_without_comment(s) for s in b[j1:j2]))
    return (0, "", "")


def _shape(code: str) -> str | None:
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return None


def generate(source: str, operators: list[str] | None = None) -> list[Mutant]:
    """Every mutant of `source`, in source order (then operator order); `operators` limits it
    to those names."""
    kata_lines = _kata_lines(source)
    tree = ast.parse(source)
    original = _shape(source)
    seen = {original}
    mutants: list[Mutant] = []
    for name, operator in all_operators():
        if operators is not None and name not in operators:
            continue
        for occurrence in range(_count(operator, source, kata_lines)):
            visitor = _Apply(operator, occurrence, kata_lines)
            mutated = visitor.walk(get_ast(source)).get_code()
            shape = _shape(mutated)
            if not visitor.applied or shape is None or shape in seen:
                continue  # did not compile, or made the same program as another mutant
            seen.add(shape)
            line, before, after = _changed(source, mutated)
            mutants.append(Mutant(name, occurrence, line, function_at(tree, line), before,
                                  after, mutated))
    mutants.sort(key=lambda m: m.line)
    return mutants
