"""Every name generated code reads is bound: checked on the source before a module is written or loaded.

A module whose ``backward`` reads an index letter the derivation left unsolved (``h`` of a Kronecker delta
printed as ``(1 if h == 2*i + p - 1 else 0)``) imports fine and fails with NameError only when it is
called; this check refuses it when it is generated. It reads Python's own symbol tables
(:mod:`symtable`), so it follows every scope the code has: functions, closures, comprehensions; and in
each function it finds a local read by a statement before any statement assigns it (UnboundLocalError),
counting what a loop or branch assigns anywhere in it as assigned before it runs (no false alarm on loops).
"""
from __future__ import annotations

import ast
import builtins
import symtable

from ..errors import ExportError


def unbound_names(source: str) -> list[str]:
    """The names ``source`` reads that no scope binds and that are not Python builtins, sorted."""
    module = symtable.symtable(source, "<generated>", "exec")
    bound = {symbol.get_name() for symbol in module.get_symbols()
             if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace()}
    found = set()

    def visit(table):
        for symbol in table.get_symbols():
            name = symbol.get_name()
            global_read = symbol.is_global() or table is module
            if (symbol.is_referenced() and global_read and name not in bound and not hasattr(builtins, name)
                    and not (table is not module and symbol.is_assigned() and not symbol.is_declared_global())):
                found.add(name)
        for child in table.get_children():
            visit(child)

    visit(module)
    return sorted(found | _read_before_assigned(source))


def _read_before_assigned(source: str) -> set:
    """Locals of a function that a top-level statement of its body reads before any earlier (or the same
    compound) statement assigns them."""
    found = set()
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        arguments = function.args
        bound = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
        bound |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
        local = bound | {name for statement in function.body for name in _assigned(statement)}
        for statement in function.body:
            assigned = _assigned(statement)
            compound = not isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return))
            available = bound | (assigned if compound else set())
            for name in _read(statement):
                if name in local and name not in available:
                    found.add(name)
            bound |= assigned
    return found


def _assigned(statement) -> set:
    """The names a statement binds in its function's scope (nested functions and comprehensions aside)."""
    names = set()
    for node in _own_nodes(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _read(statement) -> set:
    """The names a statement reads in its function's scope (an augmented assignment reads its target)."""
    names = set()
    for node in _own_nodes(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _own_nodes(statement):
    """The nodes of ``statement`` outside nested function, lambda, class and comprehension scopes."""
    stack = [statement]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
                                  ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    yield child
                continue
            stack.append(child)


def check_bound(source: str, what: str) -> None:
    """Raise ExportError when the generated ``source`` of ``what`` reads a name nothing binds."""
    missing = unbound_names(source)
    if missing:
        raise ExportError(f"{what}: the generated code reads {', '.join(missing)}, which it never defines (an index "
                          f"the derivation left unsolved); no module is written, since it would fail when called")
