"""Mutation operators: the cosmic-ray core operators that fit tensor code, and the tensor
operators cosmic-ray lacks, written against its `Operator` interface (parso nodes in, parso nodes
out) so one walker applies both.

Each operator yields a position for every mutation it can make at a node and, given the index of
one of them, returns the node that replaces it. Ours build the replacement from code text
(`_expression`) or edit the node in place; the walker re-parses the source for every mutant, so an
edit never leaks into the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import parso
from cosmic_ray.operators.operator import Example, Operator
from cosmic_ray.plugins import get_operator
from parso.python import tree

Node = Any  # a parso node or leaf (parso ships no types)

# cosmic-ray's own operators that fit tensor code; its other binary and comparison replacements
# (x + y -> x << y, ...) make mutants nobody would write and that any check kills.
CORE_OPERATORS = [
    "core/ReplaceBinaryOperator_Add_Sub", "core/ReplaceBinaryOperator_Sub_Add",
    "core/ReplaceBinaryOperator_Mul_Div", "core/ReplaceBinaryOperator_Div_Mul",
    "core/ReplaceBinaryOperator_Div_FloorDiv", "core/ReplaceBinaryOperator_FloorDiv_Div",
    "core/ReplaceBinaryOperator_Pow_Mul",
    "core/ReplaceBinaryOperator_BitAnd_BitOr", "core/ReplaceBinaryOperator_BitOr_BitAnd",
    "core/ReplaceComparisonOperator_Lt_LtE", "core/ReplaceComparisonOperator_LtE_Lt",
    "core/ReplaceComparisonOperator_Gt_GtE", "core/ReplaceComparisonOperator_GtE_Gt",
    "core/ReplaceComparisonOperator_Eq_NotEq", "core/ReplaceComparisonOperator_NotEq_Eq",
    "core/ReplaceComparisonOperator_Is_IsNot", "core/ReplaceComparisonOperator_IsNot_Is",
    "core/ReplaceUnaryOperator_USub_UAdd", "core/ReplaceUnaryOperator_Delete_Not",
    "core/ReplaceTrueWithFalse", "core/ReplaceFalseWithTrue",
    "core/ReplaceAndWithOr", "core/ReplaceOrWithAnd",
    "core/ReplaceBreakWithContinue", "core/ReplaceContinueWithBreak",
    "core/ExceptionReplacer", "core/RemoveDecorator", "core/ZeroIterationForLoop",
]

# methods (and torch./F. functions) whose positional argument `index` is a dimension; the
# function form takes the tensor first, so there the index is one more
DIM_POSITIONS: dict[str, tuple[int, ...]] = {
    **{name: (0,) for name in (
        "sum", "mean", "nansum", "nanmean", "prod", "softmax", "log_softmax", "cumsum",
        "cumprod", "argmax", "argmin", "max", "min", "amax", "amin", "logsumexp", "std", "var",
        "unsqueeze", "squeeze", "size", "stride", "unbind", "all", "any", "median", "sort",
        "argsort", "count_nonzero", "unflatten", "select", "narrow", "index_select", "gather",
        "scatter", "scatter_add", "cat", "concat", "concatenate", "stack")},
    **{name: (0, 1) for name in ("transpose", "swapaxes", "swapdims", "movedim", "flatten")},
    "topk": (1,), "chunk": (1,), "split": (1,), "norm": (1,),
}
DIM_KEYWORDS = {"dim", "dim0", "dim1", "start_dim", "end_dim", "axis"}
FUNCTION_RECEIVERS = {"torch", "F", "functional"}
# modules: math.sqrt(d) is a function of d, not a method of math that could be dropped
MODULES = {"torch", "F", "functional", "nn", "math", "np", "numpy", "random", "os", "time"}
# calls whose result is (close to) their receiver, so dropping one is a mistake a learner makes
DROP_METHODS = {
    "clamp", "clamp_min", "clamp_max", "clamp_", "clamp_min_", "detach", "detach_", "contiguous",
    "clone", "eval", "train", "zero_grad", "requires_grad_", "float", "double", "half", "to",
    "item", "t", "transpose", "permute", "masked_fill", "masked_fill_", "tril", "triu",
    "retain_grad", "sqrt", "abs", "exp", "log",
}
DROP_ATTRIBUTES = {"T", "mT", "data"}
DROP_FUNCTIONS = {"clamp", "clamp_min", "clamp_max", "detach", "sqrt", "abs", "exp", "log",
                  "tril", "triu"}
# contexts whose dropping runs the block in the caller's mode
GRAD_CONTEXTS = ("no_grad", "inference_mode", "enable_grad", "autocast", "set_grad_enabled")
NEUTRAL_CONTEXT = "torch.set_grad_enabled(torch.is_grad_enabled())"
# calls where swapping two arguments changes nothing (or is only a different spelling)
SYMMETRIC_CALLS = {"transpose", "swapaxes", "swapdims", "max", "min", "maximum", "minimum",
                   "add", "mul", "eq", "ne", "logical_and", "logical_or", "hypot"}


def _expression(code: str, prefix: str) -> Node:
    """The parso node of an expression written as text, with `prefix` (whitespace) before it."""
    node = parso.parse(code).children[0]
    if node.type == "simple_stmt":
        node = node.children[0]
    node.parent = None
    node.get_first_leaf().prefix = prefix
    return node


def _v(node: Node) -> Any:
    """A leaf's value; None for a node with children."""
    return getattr(node, "value", None)


def _code(node: Node) -> str:
    return str(node.get_code(include_prefix=False))


def int_literal(node: Node) -> int | None:
    """The value of an int literal, `3` or `-3`; None for anything else."""
    if node.type == "number":
        text = node.value.replace("_", "")
        return int(text) if text.isdigit() else None
    if node.type == "factor" and _v(node.children[0]) == "-" \
            and node.children[1].type == "number":
        inner = int_literal(node.children[1])
        return -inner if inner is not None else None
    return None


def _arguments(trailer: Node) -> list[Node]:
    """The arguments of a call trailer `( ... )`, commas left out."""
    if len(trailer.children) == 2:
        return []
    inner = trailer.children[1]
    if inner.type == "arglist":
        return [c for c in inner.children if not (c.type == "operator" and c.value == ",")]
    return [inner]


def _is_call(node: Node) -> bool:
    return node.type == "trailer" and node.children[0].value == "("


def _callee(trailer: Node) -> tuple[str | None, bool]:
    """For a call trailer: the called name and whether it is a torch./F. function (the tensor
    passed first) rather than a method."""
    parent = trailer.parent
    if parent is None or parent.type not in ("atom_expr", "power"):
        return None, False
    index = parent.children.index(trailer)
    if index == 0:
        return None, False
    before = parent.children[index - 1]
    if before.type == "name":
        return before.value, False
    if before.type == "trailer" and before.children[0].value == ".":
        receiver = parent.children[index - 2] if index >= 2 else None
        function = receiver is not None and (
            (receiver.type == "name" and receiver.value in FUNCTION_RECEIVERS)
            or (receiver.type == "trailer" and receiver.children[-1].type == "name"
                and receiver.children[-1].value in FUNCTION_RECEIVERS))
        return before.children[1].value, function
    return None, False


def is_dim_literal(node: Node) -> bool:
    """Whether `node` is an int literal passed where a dimension goes."""
    if int_literal(node) is None:
        return False
    parent = node.parent
    if parent is not None and parent.type == "argument" and parent.children[0].type == "name" \
            and _v(parent.children[1]) == "=" and parent.children[2] is node:
        return bool(_v(parent.children[0]) in DIM_KEYWORDS)
    if parent is not None and parent.type == "arglist":
        trailer = parent.parent
        arguments = _arguments(trailer)
    elif parent is not None and _is_call(parent):
        trailer, arguments = parent, [node]
    elif parent is not None and parent.type == "trailer" and parent.children[0].value == "[":
        owner = parent.parent  # x.shape[-1]
        index = owner.children.index(parent)
        before = owner.children[index - 1] if index else None
        return bool(before is not None and before.type == "trailer"
                    and before.children[0].value == "." and before.children[1].value == "shape")
    else:
        return False
    if not _is_call(trailer):
        return False
    name, function = _callee(trailer)
    positions = DIM_POSITIONS.get(name or "")
    if positions is None or any(a.type == "argument" and _v(a.children[0]) in ("*", "**")
                                for a in arguments):
        return False
    index = arguments.index(node)
    return index in tuple(p + (1 if function else 0) for p in positions)


def dim_alternatives(value: int) -> list[int]:
    """The dims a learner confuses with `value`: the neighbours and the other end."""
    wanted = [value - 1, value + 1, -1 if value >= 0 else 0]
    if value == -1:
        wanted = [-2, 0]
    elif value == 0:
        wanted = [1, -1]
    out: list[int] = []
    for candidate in wanted:
        if candidate != value and candidate not in out:
            out.append(candidate)
    return out


class TensorOperator(Operator):
    """An operator that knows the replacements for a node as code text."""

    name = "tensor/?"

    def replacements(self, node: Node) -> list[str]:
        return []

    def mutation_positions(self, node: Node) -> Iterator[tuple[Any, Any]]:
        for _ in self.replacements(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Node, index: int) -> Node:
        return _expression(self.replacements(node)[index], node.get_first_leaf().prefix)

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return ()


class DimChange(TensorOperator):
    """A dimension argument replaced by a neighbour or the other end: -1 -> -2 / 0, 0 -> 1 / -1."""

    name = "tensor/dim"

    def replacements(self, node: Node) -> list[str]:
        value = int_literal(node)
        if value is None or not is_dim_literal(node):
            return []
        return [str(v) for v in dim_alternatives(value)]


class KeepdimFlip(TensorOperator):
    """keepdim=True <-> keepdim=False."""

    name = "tensor/keepdim"

    def replacements(self, node: Node) -> list[str]:
        if node.type == "keyword" and node.value in ("True", "False") \
                and node.parent is not None and node.parent.type == "argument" \
                and _v(node.parent.children[0]) == "keepdim":
            return ["False" if node.value == "True" else "True"]
        return []


class MeanSum(TensorOperator):
    """.mean( <-> .sum(, torch.mean <-> torch.sum, reduction="mean" <-> "sum"."""

    name = "tensor/mean-sum"
    SWAP = {"mean": "sum", "sum": "mean", "nanmean": "nansum", "nansum": "nanmean"}

    def replacements(self, node: Node) -> list[str]:
        if node.type == "name" and node.value in self.SWAP and node.parent is not None \
                and node.parent.type == "trailer" and _v(node.parent.children[0]) == "." \
                and node.parent.parent is not None:
            siblings = node.parent.parent.children
            index = siblings.index(node.parent)
            if index + 1 < len(siblings) and _is_call(siblings[index + 1]):
                return [self.SWAP[node.value]]
        if node.type == "string" and node.parent is not None and node.parent.type == "argument" \
                and _v(node.parent.children[0]) == "reduction":
            quote = node.value[0]
            inner = node.value.strip("'\"")
            if inner in ("mean", "sum"):
                return [f"{quote}{self.SWAP[inner]}{quote}"]
        return []


class DropCall(TensorOperator):
    """A call whose result is close to its receiver dropped: x.clamp(min=0) -> x, .detach(),
    .contiguous(), model.eval(), optimizer.zero_grad(), x.T -> x, torch.clamp(x, 0) -> x."""

    name = "tensor/drop-call"

    def replacements(self, node: Node) -> list[str]:
        if node.type not in ("atom_expr", "power") or _v(node.children[0]) == "await":
            return []
        children = node.children
        out = []
        for i in range(1, len(children)):
            trailer = children[i]
            if trailer.type != "trailer" or trailer.children[0].value != ".":
                continue
            name = trailer.children[1].value
            call = i + 1 < len(children) and _is_call(children[i + 1])
            if call and name in DROP_METHODS and not (
                    i == 1 and children[0].type == "name" and children[0].value in MODULES):
                kept = children[:i] + children[i + 2:]
            elif not call and name in DROP_ATTRIBUTES:
                kept = children[:i] + children[i + 1:]
            else:
                continue
            out.append(_code(kept[0]) + "".join(c.get_code() for c in kept[1:]))
        if len(children) == 3 and children[0].type == "name" \
                and children[0].value in FUNCTION_RECEIVERS \
                and children[1].type == "trailer" and _v(children[1].children[0]) == "." \
                and _v(children[1].children[1]) in DROP_FUNCTIONS and _is_call(children[2]):
            arguments = _arguments(children[2])
            if arguments and arguments[0].type != "argument":
                out.append(f"({_code(arguments[0])})")
        return out


class DropContext(TensorOperator):
    """with torch.no_grad(): (inference_mode, enable_grad, autocast) dropped: the block runs in
    the caller's grad and autocast mode."""

    name = "tensor/drop-context"

    def replacements(self, node: Node) -> list[str]:
        if node.parent is None or node.parent.type != "with_stmt" \
                or node.type not in ("atom_expr", "power"):
            return []
        code = _code(node)
        if any(f"{context}(" in code for context in GRAD_CONTEXTS):
            return [NEUTRAL_CONTEXT]
        return []


class SwapArguments(TensorOperator):
    """Two neighbouring positional arguments of a call swapped (not where the order is
    irrelevant: transpose(0, 1), max(a, b), ...)."""

    name = "tensor/swap-args"

    def _pairs(self, node: Node) -> list[tuple[Node, Node]]:
        if not _is_call(node) or node.children[1].type != "arglist":
            return []
        name, _ = _callee(node)
        if name in SYMMETRIC_CALLS:
            return []
        positional = []
        for argument in _arguments(node):
            if argument.type == "argument":
                break
            positional.append(argument)
        return [(a, b) for a, b in zip(positional, positional[1:], strict=False)
                if _code(a) != _code(b)]

    def mutation_positions(self, node: Node) -> Iterator[tuple[Any, Any]]:
        for _ in self._pairs(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Node, index: int) -> Node:
        a, b = self._pairs(node)[index]
        siblings = node.children[1].children
        ia, ib = siblings.index(a), siblings.index(b)
        prefix_a, prefix_b = a.get_first_leaf().prefix, b.get_first_leaf().prefix
        siblings[ia], siblings[ib] = b, a
        b.get_first_leaf().prefix, a.get_first_leaf().prefix = prefix_a, prefix_b
        return node


class RemoveStatement(TensorOperator):
    """A statement in a function body replaced by `pass`: a call made for its effect
    (loss.backward(), optimizer.step()), an augmented assignment, an assignment to an attribute
    or an item, or one that rebinds a name (x = x.contiguous())."""

    name = "tensor/remove-statement"

    def replacements(self, node: Node) -> list[str]:
        if node.parent is None or node.parent.type != "simple_stmt" \
                or _enclosing_function(node) is None:
            return []
        if node.type in ("atom_expr", "power") and _is_call(node.children[-1]):
            return ["pass"]
        if node.type != "expr_stmt":
            return []
        operator = node.children[1]
        if operator.type == "operator" and operator.value not in ("=",) \
                and operator.value.endswith("="):
            return ["pass"]  # x += ...
        if operator.type == "annassign":
            return []
        target = node.children[0]
        if target.type in ("atom_expr", "power") and target.children[-1].type == "trailer":
            return ["pass"]  # self.x = ..., out[i] = ...
        if target.type == "name" and _bound_before(target):
            return ["pass"]
        return []

    def mutate(self, node: Node, index: int) -> Node:
        return tree.Keyword("pass", node.start_pos, prefix=node.get_first_leaf().prefix)


def _enclosing_function(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None:
        if parent.type in ("funcdef", "lambdef"):
            return parent
        if parent.type == "classdef":
            return None
        parent = parent.parent
    return None


def _bound_before(name: Node) -> bool:
    """Whether the name was a parameter or assigned earlier in its function."""
    function = _enclosing_function(name)
    if function is None:
        return False
    for param in function.get_params():
        if param.name.value == name.value:
            return True
    leaf = function.get_first_leaf()
    while leaf is not None and leaf.start_pos < name.start_pos:
        if leaf.type == "name" and leaf.value == name.value and leaf.is_definition():
            return True
        leaf = leaf.get_next_leaf()
    return False


class Offset(TensorOperator):
    """A slice bound or range() argument that is not a literal moved by one: x[:n] -> x[:n + 1]
    (literals are the constant operator's)."""

    name = "tensor/offset"

    def replacements(self, node: Node) -> list[str]:
        parent = node.parent
        if parent is None or node.type in ("operator", "number") or int_literal(node) is not None:
            return []
        inside_slice = parent.type == "subscript" or (
            parent.type == "sliceop" and node is not parent.children[0])
        inside_range = False
        if parent.type in ("arglist", "trailer"):
            trailer = parent if parent.type == "trailer" else parent.parent
            if _is_call(trailer) and node in _arguments(trailer) and node.type != "argument":
                name, _ = _callee(trailer)
                inside_range = name == "range"
        if not (inside_slice or inside_range):
            return []
        code = _code(node)
        return [f"({code} + 1)", f"({code} - 1)"]


class MatmulToMul(TensorOperator):
    """a @ b -> a * b."""

    name = "tensor/matmul-mul"

    def mutation_positions(self, node: Node) -> Iterator[tuple[Any, Any]]:
        if node.type == "operator" and node.value == "@" and node.parent is not None \
                and node.parent.type == "term":
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Node, index: int) -> Node:
        node.value = "*"
        return node


class Constant(TensorOperator):
    """A number changed by one (cosmic-ray's NumberReplacer, keeping the spacing, and leaving
    out dimensions, which tensor/dim changes): 2 -> 3 / 1, 0.5 -> 1.5 / -0.5, 1e-5 -> ..."""

    name = "tensor/constant"
    OFFSETS = (+1, -1)

    def replacements(self, node: Node) -> list[str]:
        if node.type != "number" or "j" in node.value.lower():
            return []
        target = node.parent if node.parent is not None and node.parent.type == "factor" \
            and int_literal(node.parent) is not None else node
        if is_dim_literal(target):
            return []
        value = eval(node.value)  # a number literal, from the grader's own reference files
        return [repr(value + offset) for offset in self.OFFSETS]


def tensor_operators() -> list[TensorOperator]:
    """Ours, in the order they claim a mutant (the first to produce a given code names it)."""
    return [DimChange(), KeepdimFlip(), MeanSum(), DropCall(), DropContext(), SwapArguments(),
            Offset(), MatmulToMul(), Constant(), RemoveStatement()]


def all_operators() -> list[tuple[str, Operator]]:
    """(name, operator) for every operator the generator uses, ours first."""
    ours: list[tuple[str, Operator]] = [(op.name, op) for op in tensor_operators()]
    return ours + [(name, get_operator(name)()) for name in CORE_OPERATORS]
