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
    TypeInfo,
    UnaryExpr,
    YieldExpr,
    YieldFromExpr,
    AssignmentStmt,
    GlobalDecl,
    NonlocalDecl,
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
    RefExpr,
    ReturnStmt,
    Statement,
    TryStmt,
    WhileStmt,
    WithStmt,
)

__all__ = [
    "assigned_attributes",
    "binds_name",
    "bodies_in",
    "calls_mentioning",
    "child_blocks",
    "expression_parts",
    "expression_may_call",
    "expression_names",
    "functions_in",
    "mentioned_names",
    "name_uses",
    "returns_of",
    "statement_may_call",
]

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


def bodies_in(statements: list[Statement]) -> Iterator[tuple[list[Statement], bool]]:
    """Every class body and function body inside ``statements`` (nested ones included), each
    with whether it is a class body (whose names, like a module's, other code can reach)."""
    for stmt in statements:
        if isinstance(stmt, ClassDef):
            yield stmt.defs.body, True
            yield from bodies_in(stmt.defs.body)
        elif isinstance(stmt, FuncDef):
            yield stmt.body.body, False
            yield from bodies_in(stmt.body.body)
        elif isinstance(stmt, Decorator):
            yield from bodies_in([stmt.func])
        elif isinstance(stmt, OverloadedFuncDef):
            yield from bodies_in([item for item in [*stmt.items, stmt.impl] if item is not None])
        else:
            for block in _child_blocks(stmt):
                yield from bodies_in(block.body)


def functions_in(statements: list[Statement]) -> Iterator[FuncItem]:
    """Every function defined in ``statements``, nested ones and methods included."""
    for stmt in statements:
        yield from _functions_of(stmt)


def _expression_children(item: Expression) -> list[Expression | None] | None:
    """The sub-expressions of ``item`` (a lambda's body excluded); ``None`` for an unknown kind."""
    if isinstance(item, (*_LEAVES, NameExpr)):
        return []
    if isinstance(item, MemberExpr | UnaryExpr | StarExpr | AwaitExpr | CastExpr):
        return [item.expr]
    if isinstance(item, AssertTypeExpr | RevealExpr | TypeApplication | YieldFromExpr | YieldExpr):
        return [item.expr]
    if isinstance(item, CallExpr):
        return [item.callee, *item.args]
    if isinstance(item, IndexExpr):
        return [item.base, item.index]
    if isinstance(item, OpExpr):
        return [item.left, item.right]
    if isinstance(item, ComparisonExpr):
        return list(item.operands)
    if isinstance(item, ListExpr | TupleExpr | SetExpr):
        return list(item.items)
    if isinstance(item, DictExpr):
        return [part for pair in item.items for part in pair]
    if isinstance(item, ConditionalExpr):
        return [item.cond, item.if_expr, item.else_expr]
    if isinstance(item, AssignmentExpr):
        return [item.target, item.value]
    if isinstance(item, SliceExpr):
        return [item.begin_index, item.end_index, item.stride]
    if isinstance(item, ListComprehension | SetComprehension):
        return [item.generator]
    if isinstance(item, GeneratorExpr):
        return [item.left_expr, *item.indices, *item.sequences, *(c for conds in item.condlists for c in conds)]
    if isinstance(item, DictionaryComprehension):
        conditions = [c for conds in item.condlists for c in conds]
        return [item.key, item.value, *item.indices, *item.sequences, *conditions]
    if isinstance(item, SuperExpr):
        return [item.call]
    if isinstance(item, LambdaExpr):
        return [arg.initializer for arg in item.arguments]
    return None


def expression_names(expr: Expression) -> set[str] | None:
    """Every simple name used or bound inside ``expr``; ``None`` for an expression kind this
    walk does not know (the caller then assumes the expression may touch anything)."""
    names: set[str] = set()
    pending: list[Expression | None] = [expr]
    while pending:
        item = pending.pop()
        if item is None:
            continue
        if isinstance(item, NameExpr):
            names.add(item.name)
        elif isinstance(item, LambdaExpr):
            inner = _block_names(item.body.body)
            if inner is None:
                return None
            names |= inner
        children = _expression_children(item)
        if children is None:
            return None
        pending += children
    return names


def _is_class_reference(expr: Expression) -> bool:
    base = expr.base if isinstance(expr, IndexExpr) else expr
    return isinstance(base, RefExpr) and isinstance(base.node, TypeInfo)


#: Decorators known to run no user code that could reach a registry.
_HARMLESS_DECORATORS = frozenset(
    {
        "builtins.property",
        "builtins.staticmethod",
        "builtins.classmethod",
        "abc.abstractmethod",
        "dataclasses.dataclass",
        "typing.final",
        "typing.override",
        "typing_extensions.final",
        "typing_extensions.override",
    }
)


def _harmless_decorator(expr: Expression) -> bool:
    callee = expr.callee if isinstance(expr, CallExpr) else expr
    if isinstance(callee, MemberExpr) and callee.name in ("setter", "deleter", "getter"):
        return True  # @name.setter of a property
    return isinstance(callee, RefExpr) and callee.fullname in _HARMLESS_DECORATORS


def expression_may_call(expr: Expression | None) -> bool:
    """Whether evaluating ``expr`` may run code other than a class's constructor.

    Constructing a class (a step, a registry) is assumed not to touch registries; any other call
    (a function, a method, an unknown expression kind) may.
    """
    pending: list[Expression | None] = [expr]
    while pending:
        item = pending.pop()
        if item is None:
            continue
        if isinstance(item, CallExpr) and not _is_class_reference(item.callee):
            return True
        children = _expression_children(item)
        if children is None:
            return True
        pending += children
    return False


def statement_may_call(stmt: Statement) -> bool:
    """Whether running ``stmt`` may run code that could reach a registry from elsewhere.

    Imports (the imported module's top level runs), calls other than constructors, decorators
    not known to be harmless and any statement kind this walk does not know all count.
    """
    if isinstance(stmt, FuncDef):
        return any(expression_may_call(arg.initializer) for arg in stmt.arguments)
    if isinstance(stmt, Decorator):
        if not all(_harmless_decorator(expr) for expr in stmt.original_decorators):
            return True
        return statement_may_call(stmt.func)
    if isinstance(stmt, OverloadedFuncDef):
        return any(statement_may_call(item) for item in [*stmt.items, stmt.impl] if item is not None)
    if isinstance(stmt, ClassDef):
        if not all(_harmless_decorator(expr) for expr in stmt.decorators):
            return True
        if any(expression_may_call(expr) for expr in [*stmt.base_type_exprs, *stmt.keywords.values()]):
            return True
        return any(statement_may_call(inner) for inner in stmt.defs.body)
    parts = _statement_expressions(stmt)
    if parts is None:
        return True
    if any(expression_may_call(expr) for expr in parts):
        return True
    return any(statement_may_call(inner) for block in _child_blocks(stmt) for inner in block.body)


def _statement_expressions(stmt: Statement) -> list[Expression | None] | None:
    """The expressions a simple or compound statement evaluates itself; ``None``: unknown kind
    (imports count as unknown: they run another module)."""
    if isinstance(stmt, ExpressionStmt | ReturnStmt | DelStmt):
        return [stmt.expr]
    if isinstance(stmt, AssignmentStmt):
        return [*stmt.lvalues, stmt.rvalue]
    if isinstance(stmt, OperatorAssignmentStmt):
        return [stmt.lvalue, stmt.rvalue]
    if isinstance(stmt, AssertStmt):
        return [stmt.expr, stmt.msg]
    if isinstance(stmt, RaiseStmt):
        return [stmt.expr, stmt.from_expr]
    if isinstance(stmt, PassStmt | BreakStmt | ContinueStmt | Block | GlobalDecl | NonlocalDecl):
        return []
    if isinstance(stmt, IfStmt):
        return list(stmt.expr)
    if isinstance(stmt, WhileStmt):
        return [stmt.expr]
    if isinstance(stmt, ForStmt):
        return [stmt.index, stmt.expr]
    if isinstance(stmt, WithStmt):
        return [*stmt.expr, *stmt.target]
    if isinstance(stmt, TryStmt):
        return [*stmt.types, *stmt.vars]
    return None


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
    elif isinstance(stmt, GlobalDecl | NonlocalDecl):
        exprs = []
        bound = set(stmt.names)
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


def _all_statements(statements: list[Statement]) -> Iterator[Statement]:
    """``statements`` and every statement nested in them, function and class bodies included."""
    pending = list(statements)
    while pending:
        stmt = pending.pop()
        yield stmt
        if isinstance(stmt, FuncDef):
            pending += stmt.body.body
        elif isinstance(stmt, Decorator):
            pending.append(stmt.func)
        elif isinstance(stmt, OverloadedFuncDef):
            pending += [item for item in [*stmt.items, stmt.impl] if item is not None]
        elif isinstance(stmt, ClassDef):
            pending += stmt.defs.body
        else:
            for block in _child_blocks(stmt):
                pending += block.body


def _all_expressions(expr: Expression | None) -> Iterator[Expression] | None:
    """``expr`` and its sub-expressions (lambda bodies included); ``None``: an unknown kind."""
    found: list[Expression] = []
    pending: list[Expression | None] = [expr]
    while pending:
        item = pending.pop()
        if item is None:
            continue
        found.append(item)
        if isinstance(item, LambdaExpr):
            returned = item.expr()
            pending.append(returned)
        children = _expression_children(item)
        if children is None:
            return None
        pending += children
    return iter(found)


def _target_names(expr: Expression) -> set[str]:
    """Simple names an assignment target binds (``a``, ``a, *b``; not ``a.x`` or ``a[0]``)."""
    if isinstance(expr, NameExpr):
        return {expr.name}
    if isinstance(expr, TupleExpr | ListExpr):
        return {name for item in expr.items for name in _target_names(item)}
    if isinstance(expr, StarExpr):
        return _target_names(expr.expr)
    return set()


def _binding_targets(stmt: Statement) -> list[Expression | None]:
    """What ``stmt`` assigns or deletes: assignment targets, a ``for`` index, ``with ... as``
    targets, ``except ... as`` names, ``del`` operands (empty for other statements)."""
    if isinstance(stmt, AssignmentStmt):
        return list(stmt.lvalues)
    if isinstance(stmt, OperatorAssignmentStmt):
        return [stmt.lvalue]
    if isinstance(stmt, ForStmt):
        return [stmt.index]
    if isinstance(stmt, WithStmt):
        return list(stmt.target)
    if isinstance(stmt, TryStmt):
        return list(stmt.vars)
    if isinstance(stmt, DelStmt):
        return [stmt.expr]
    return []


def binds_name(statements: list[Statement], name: str) -> bool:
    """Whether ``name`` may be bound (assigned, deleted, imported...) anywhere in ``statements``.

    Conservative: statement or expression kinds this walk does not know count as binding it.
    """
    for stmt in _all_statements(statements):
        targets = _binding_targets(stmt)
        if isinstance(stmt, GlobalDecl | NonlocalDecl):
            if name in stmt.names:
                return True
        elif isinstance(stmt, Import):
            if name in {alias or module.split(".")[0] for module, alias in stmt.ids}:
                return True
        elif isinstance(stmt, ImportFrom):
            if name in {alias or imported for imported, alias in stmt.names}:
                return True
        elif isinstance(stmt, FuncDef | ClassDef | Decorator | OverloadedFuncDef):
            if stmt.name == name:
                return True
            continue
        elif _statement_expressions(stmt) is None:
            return True  # match, and kinds not known here
        if any(target is not None and name in _target_names(target) for target in targets):
            return True
        for expr in _statement_expressions(stmt) or []:
            parts = _all_expressions(expr)
            if parts is None:
                return True
            if any(isinstance(part, AssignmentExpr) and part.target.name == name for part in parts):
                return True
    return False


def assigned_attributes(statements: list[Statement], owner: str) -> list[tuple[Statement, str]]:
    """``(statement, X)`` for every assignment to ``<owner>.X`` anywhere in ``statements``."""
    found: list[tuple[Statement, str]] = []
    for stmt in _all_statements(statements):
        pending = [target for target in _binding_targets(stmt) if target is not None]
        while pending:
            target = pending.pop()
            if isinstance(target, TupleExpr | ListExpr):
                pending += target.items
            elif isinstance(target, StarExpr):
                pending.append(target.expr)
            elif isinstance(target, MemberExpr) and isinstance(target.expr, NameExpr) and target.expr.name == owner:
                found.append((stmt, target.name))
    return found


def calls_mentioning(statements: list[Statement], names: set[str]) -> bool:
    """Whether running ``statements`` may call code that is handed one of ``names``.

    A call whose callee or arguments mention one of the names (``self.reset()``, ``f(self)``,
    ``super().__init__()`` for ``"super"``), a nested function or lambda mentioning one, or any
    kind this walk does not know.
    """
    for stmt in _all_statements(statements):
        if isinstance(stmt, FuncDef | Decorator | OverloadedFuncDef | ClassDef):
            inner = mentioned_names(stmt)
            if inner is None or inner & names:
                return True
            continue
        exprs = _statement_expressions(stmt)
        if exprs is None:
            return True
        for expr in exprs:
            parts = _all_expressions(expr)
            if parts is None:
                return True
            for part in parts:
                if isinstance(part, CallExpr | LambdaExpr):
                    used = expression_names(part)
                    if used is None or used & names:
                        return True
    return False


def expression_parts(expr: Expression | None) -> list[Expression] | None:
    """``expr`` and all its sub-expressions (lambda bodies included); ``None``: an unknown kind."""
    parts = _all_expressions(expr)
    return None if parts is None else list(parts)


def child_blocks(stmt: Statement) -> list[Block]:
    """The blocks directly inside a compound statement (not function or class bodies)."""
    return _child_blocks(stmt)


def _own_expressions(stmt: Statement) -> list[Expression | None] | None:
    """The expressions a statement evaluates itself, definitions and imports included (for a
    definition: decorators, defaults, bases; its body is walked as statements). ``None``: a kind
    this walk does not know."""
    if isinstance(stmt, FuncDef):
        return [arg.initializer for arg in stmt.arguments]
    if isinstance(stmt, Decorator):
        return list(stmt.decorators)
    if isinstance(stmt, OverloadedFuncDef):
        return []
    if isinstance(stmt, ClassDef):
        return [*stmt.decorators, *stmt.base_type_exprs, *stmt.keywords.values()]
    if isinstance(stmt, Import | ImportFrom):
        return []  # a name an import rebinds is found by the caller through binds_name
    return _statement_expressions(stmt)


def name_uses(statements: list[Statement], names: frozenset[str]) -> dict[str, list[NameExpr] | None] | None:
    """For each of ``names``: every ``NameExpr`` for it anywhere in ``statements`` (nested
    functions, classes, lambdas and comprehensions included), or ``None`` when an import, a
    definition or a parameter binds it there. ``None`` overall when some statement or
    expression is of a kind this walk does not know. One walk, whatever the number of names."""
    found: dict[str, list[NameExpr] | None] = {name: [] for name in names}

    def bound(name: str) -> None:
        if name in found:
            found[name] = None

    for stmt in _all_statements(statements):
        if isinstance(stmt, FuncDef | ClassDef | Decorator | OverloadedFuncDef):
            bound(stmt.name)
        if isinstance(stmt, FuncDef):
            for arg in stmt.arguments:
                bound(arg.variable.name)
        if isinstance(stmt, Import):
            for module, alias in stmt.ids:
                bound(alias or module.split(".")[0])
        if isinstance(stmt, ImportFrom):
            for imported, alias in stmt.names:
                bound(alias or imported)
        exprs = _own_expressions(stmt)
        if exprs is None:
            return None
        for expr in exprs:
            parts = _all_expressions(expr)
            if parts is None:
                return None
            for part in parts:
                if isinstance(part, NameExpr) and part.name in found:
                    uses = found[part.name]
                    if uses is not None:
                        uses.append(part)
                elif isinstance(part, LambdaExpr):
                    for arg in part.arguments:
                        bound(arg.variable.name)
    return found
