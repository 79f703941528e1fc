"""Plain recursive walks over mypy's tree.

mypy's own traverser classes are compiled and cannot be subclassed from interpreted code, so the
checks walk statements themselves. Only statements are walked here; expressions never contain
statements (a lambda's body is an expression).
"""

from __future__ import annotations

from collections.abc import Iterator

from mypy.nodes import (
    AssertStmt,
    AssertTypeExpr,
    AssignmentExpr,
    AwaitExpr,
    BytesExpr,
    CallExpr,
    CastExpr,
    ComparisonExpr,
    ComplexExpr,
    ConditionalExpr,
    DictExpr,
    DictionaryComprehension,
    EllipsisExpr,
    FloatExpr,
    GeneratorExpr,
    IndexExpr,
    IntExpr,
    LambdaExpr,
    ListComprehension,
    ListExpr,
    MemberExpr,
    NameExpr,
    OpExpr,
    RevealExpr,
    SetComprehension,
    SetExpr,
    SliceExpr,
    StarExpr,
    StrExpr,
    SuperExpr,
    TempNode,
    TupleExpr,
    TypeApplication,
    UnaryExpr,
    YieldExpr,
    YieldFromExpr,
    AssignmentStmt,
    Block,
    BreakStmt,
    ContinueStmt,
    DelStmt,
    ExpressionStmt,
    Import,
    ImportFrom,
    OperatorAssignmentStmt,
    PassStmt,
    RaiseStmt,
    ClassDef,
    Decorator,
    Expression,
    ForStmt,
    FuncDef,
    FuncItem,
    IfStmt,
    MatchStmt,
    OverloadedFuncDef,
    ReturnStmt,
    Statement,
    TryStmt,
    WhileStmt,
    WithStmt,
)

__all__ = ["expression_names", "functions_in", "mentioned_names", "returns_of"]

# Expressions that cannot mention a name.
_LEAVES = (StrExpr, BytesExpr, IntExpr, FloatExpr, ComplexExpr, EllipsisExpr, TempNode)


def _child_blocks(stmt: Statement) -> list[Block]:
    """The blocks directly inside a compound statement (not function or class bodies)."""
    blocks: list[Block | None]
    if isinstance(stmt, Block):
        blocks = [stmt]
    elif isinstance(stmt, IfStmt):
        blocks = [*stmt.body, stmt.else_body]
    elif isinstance(stmt, ForStmt | WhileStmt):
        blocks = [stmt.body, stmt.else_body]
    elif isinstance(stmt, WithStmt):
        blocks = [stmt.body]
    elif isinstance(stmt, TryStmt):
        blocks = [stmt.body, *stmt.handlers, stmt.else_body, stmt.finally_body]
    elif isinstance(stmt, MatchStmt):
        blocks = list(stmt.bodies)
    else:
        blocks = []
    return [block for block in blocks if block is not None]


def returns_of(func: FuncItem) -> list[ReturnStmt]:
    """Every ``return`` of ``func`` itself (nested functions and classes are skipped)."""
    found: list[ReturnStmt] = []
    pending: list[Statement] = list(func.body.body)
    while pending:
        stmt = pending.pop()
        if isinstance(stmt, ReturnStmt):
            found.append(stmt)
        for block in _child_blocks(stmt):
            pending.extend(block.body)
    return found


def _functions_of(stmt: Statement) -> Iterator[FuncItem]:
    if isinstance(stmt, FuncDef):
        yield stmt
        yield from functions_in(stmt.body.body)
    elif isinstance(stmt, Decorator):
        yield from _functions_of(stmt.func)
    elif isinstance(stmt, OverloadedFuncDef):
        for item in [*stmt.items, stmt.impl]:
            if item is not None:
                yield from _functions_of(item)
    elif isinstance(stmt, ClassDef):
        yield from functions_in(stmt.defs.body)
    else:
        for block in _child_blocks(stmt):
            yield from functions_in(block.body)


def functions_in(statements: list[Statement]) -> Iterator[FuncItem]:
    """Every function defined in ``statements``, nested ones and methods included."""
    for stmt in statements:
        yield from _functions_of(stmt)


def expression_names(expr: Expression) -> set[str] | None:
    """Every simple name used or bound inside ``expr``; ``None`` for an expression kind this
    walk does not know (the caller then assumes the expression may touch anything)."""
    names: set[str] = set()
    pending: list[Expression | None] = [expr]
    while pending:
        item = pending.pop()
        if item is None or isinstance(item, _LEAVES):
            continue
        if isinstance(item, NameExpr):
            names.add(item.name)
        elif isinstance(item, MemberExpr | UnaryExpr | StarExpr | AwaitExpr | CastExpr):
            pending.append(item.expr)
        elif isinstance(item, AssertTypeExpr | RevealExpr | TypeApplication | YieldFromExpr):
            pending.append(item.expr)
        elif isinstance(item, YieldExpr):
            pending.append(item.expr)
        elif isinstance(item, CallExpr):
            pending += [item.callee, *item.args]
        elif isinstance(item, IndexExpr):
            pending += [item.base, item.index]
        elif isinstance(item, OpExpr):
            pending += [item.left, item.right]
        elif isinstance(item, ComparisonExpr):
            pending += item.operands
        elif isinstance(item, ListExpr | TupleExpr | SetExpr):
            pending += item.items
        elif isinstance(item, DictExpr):
            for key, value in item.items:
                pending += [key, value]
        elif isinstance(item, ConditionalExpr):
            pending += [item.cond, item.if_expr, item.else_expr]
        elif isinstance(item, AssignmentExpr):
            pending += [item.target, item.value]
        elif isinstance(item, SliceExpr):
            pending += [item.begin_index, item.end_index, item.stride]
        elif isinstance(item, ListComprehension | SetComprehension):
            pending.append(item.generator)
        elif isinstance(item, GeneratorExpr):
            pending += [item.left_expr, *item.indices, *item.sequences]
            pending += [cond for conds in item.condlists for cond in conds]
        elif isinstance(item, DictionaryComprehension):
            pending += [item.key, item.value, *item.indices, *item.sequences]
            pending += [cond for conds in item.condlists for cond in conds]
        elif isinstance(item, SuperExpr):
            pending.append(item.call)
        elif isinstance(item, LambdaExpr):
            inner = _block_names(item.body.body)
            if inner is None:
                return None
            names |= inner
            pending += [arg.initializer for arg in item.arguments]
        else:
            return None
    return names


def _expression_names(exprs: list[Expression | None]) -> set[str] | None:
    names: set[str] = set()
    for expr in exprs:
        if expr is not None:
            found = expression_names(expr)
            if found is None:
                return None
            names |= found
    return names


def _block_names(statements: list[Statement]) -> set[str] | None:
    names: set[str] = set()
    for stmt in statements:
        found = mentioned_names(stmt)
        if found is None:
            return None
        names |= found
    return names


def _function_names(func: FuncDef) -> set[str] | None:
    inner = _block_names(func.body.body)
    if inner is None:
        return None
    defaults = _expression_names([arg.initializer for arg in func.arguments])
    return None if defaults is None else inner | defaults | {func.name}


def mentioned_names(stmt: Statement) -> set[str] | None:
    """Every simple name used or bound anywhere inside ``stmt``; ``None`` when unsure.

    ``None`` (for statement kinds not handled here, such as ``match`` or ``global``) tells the
    caller to assume that the statement may touch anything.
    """
    exprs: list[Expression | None]
    bound: set[str] = set()
    if isinstance(stmt, ExpressionStmt):
        exprs = [stmt.expr]
    elif isinstance(stmt, AssignmentStmt):
        exprs = [*stmt.lvalues, stmt.rvalue]
    elif isinstance(stmt, OperatorAssignmentStmt):
        exprs = [stmt.lvalue, stmt.rvalue]
    elif isinstance(stmt, ReturnStmt):
        exprs = [stmt.expr]
    elif isinstance(stmt, AssertStmt):
        exprs = [stmt.expr, stmt.msg]
    elif isinstance(stmt, RaiseStmt):
        exprs = [stmt.expr, stmt.from_expr]
    elif isinstance(stmt, DelStmt):
        exprs = [stmt.expr]
    elif isinstance(stmt, PassStmt | BreakStmt | ContinueStmt):
        exprs = []
    elif isinstance(stmt, Import):
        exprs = []
        bound = {alias or module.split(".")[0] for module, alias in stmt.ids}
    elif isinstance(stmt, ImportFrom):
        exprs = []
        bound = {alias or name for name, alias in stmt.names}
    elif isinstance(stmt, IfStmt):
        exprs = list(stmt.expr)
    elif isinstance(stmt, WhileStmt):
        exprs = [stmt.expr]
    elif isinstance(stmt, ForStmt):
        exprs = [stmt.index, stmt.expr]
    elif isinstance(stmt, WithStmt):
        exprs = [*stmt.expr, *stmt.target]
    elif isinstance(stmt, TryStmt):
        exprs = [*stmt.types, *stmt.vars]
    elif isinstance(stmt, Block):
        exprs = []
    elif isinstance(stmt, FuncDef):
        return _function_names(stmt)
    elif isinstance(stmt, Decorator):
        inner = _function_names(stmt.func)
        decorators = _expression_names(list(stmt.original_decorators))
        return None if inner is None or decorators is None else inner | decorators
    elif isinstance(stmt, OverloadedFuncDef):
        return None
    elif isinstance(stmt, ClassDef):
        inner = _block_names(stmt.defs.body)
        header = _expression_names([*stmt.decorators, *stmt.base_type_exprs])
        return None if inner is None or header is None else inner | header | {stmt.name}
    else:
        return None
    found = _expression_names(exprs)
    if found is None:
        return None
    names = found | bound
    for block in _child_blocks(stmt):
        inner = _block_names(block.body)
        if inner is None:
            return None
        names |= inner
    return names
