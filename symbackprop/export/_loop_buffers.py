"""The body of a time loop rewritten to write into arrays allocated once, before the loop.

The recurrent exporter prints one step of the recursion as ordinary NumPy statements
(``dz = ((-(h**2)) + 1) * dh``, ``g1 = dz @ Wh.T``), each allocating its result. Inside a loop over
T steps that is T fresh arrays per statement, and a stored value is copied once more into its
sequence (``dz_seq[t] = dz``). :func:`buffered_loop` rewrites those statements (code this package
printed, read with :mod:`ast`; never user text) into ufunc calls with ``out=``:

    np.square(h, out=dz_seq[t])             # the stored value is computed where it is kept
    np.subtract(1, dz_seq[t], out=dz_seq[t])
    np.multiply(dz_seq[t], dh, out=dz_seq[t])
    dz = dz_seq[t]
    np.matmul(dz, Wh.T, out=g1_buf)          # g1_buf: allocated once, before the loop

The arithmetic is the statement's, operation by operation (``-a + 1`` becomes ``1 - a``, one pass
fewer, the same rounding); only where results go changes. A statement is left as printed when its shape
is not known, when an operand broadcasts to more than its result, or when reusing its buffer from the
previous step could overwrite a value still to be read (a value carried to the next step and read after
this step's statement writes the buffer). :class:`._inplace.InplaceKernel` does the same for one network
kernel's SymPy expression; this works on a loop's printed statements, whose buffers live across steps.
"""
from __future__ import annotations

import ast

import numpy as np

#: binary operators -> the ufunc that computes them
_BINARY = {ast.Add: "np.add", ast.Sub: "np.subtract", ast.Mult: "np.multiply", ast.Div: "np.divide"}


def buffered_loop(body: list, shapes: dict, stores=()) -> tuple:
    """(lines before the loop, the loop body rewritten).

    ``body``: the loop's statements, in order. ``shapes``: array name -> its shape as a tuple of code
    strings (("N", "H")), for the arrays the statements read (the shapes of the values they compute are
    inferred). ``stores``: the targets of the statements ``S = name`` that keep a value (``h_steps[t + 1]``);
    a value computed earlier in the step is computed into its ``S`` directly and the store dropped."""
    statements = [ast.parse(line).body[0] for line in body]
    aliases, sharing = _aliases(statements), _aliases(statements, views=True)
    assigned = [_target(s) for s in statements]
    defined = {name: i for i, (name, s) in enumerate(zip(assigned, statements))
               if name is not None and _computes(s.value) and assigned.count(name) == 1}
    slots, store_of = {}, {}
    for index, statement in enumerate(statements):
        if _is_store(statement) and ast.unparse(statement.targets[0]) in stores:
            source = _origin(statement.value.id, aliases)
            # a name bound (a = b) before b is computed in this step holds b's value of the previous step (the
            # lstm's dc_next = dc_prev): that value is not the one computed here, so it keeps its own store
            links = _chain(statement.value.id, aliases)[:-1]
            bound_early = any(_target(s) in links and isinstance(s.value, ast.Name) and i < defined.get(source, -1)
                              for i, s in enumerate(statements))
            if source in defined and defined[source] < index and source not in slots and not bound_early:
                slots[source] = ast.unparse(statement.targets[0])
                store_of[index] = source
    writer = _Writer(shapes, _names_in(statements))
    lines, written = [], set()
    for index, statement in enumerate(statements):
        if index in store_of and store_of[index] in written:
            continue
        target = _target(statement)
        if target is None or not _computes(statement.value):
            writer.note(target, statement.value)
            lines.append(ast.unparse(statement))
            continue
        slot = slots.get(target)
        result = None
        if (slot is not None and target not in _reads(statement.value)) or \
                (slot is None and not _hazard(statements, index, target, sharing)):
            result = writer.statement(target, statement.value, slot)
        if result is None:
            writer.note(target, statement.value)
            lines.append(ast.unparse(statement))
            continue
        written.add(target)
        lines += result
    return writer.allocations, lines


def buffered_block(lines: list, shapes: dict) -> list:
    """Straight-line statements (before or after a loop) rewritten so that an elementwise result goes into a
    temporary of this block read for the last time as its first operand (``zf_in_flat = p1 + bf`` becomes
    ``np.add(p1, bf, out=p1)``): no fresh array of T·N rows for it."""
    statements = [ast.parse(line).body[0] for line in lines]
    writer = _Writer(shapes, _names_in(statements))
    temporaries = set()         # names this block computed and nothing else holds
    out = []
    for index, statement in enumerate(statements):
        target = _target(statement)
        if target is None or not _computes(statement.value):
            writer.note(target, statement.value)
            temporaries -= _reads(statement.value)      # an alias or a view of it may be read later
            out.append(ast.unparse(statement))
            continue
        later = set().union(*(_reads(s) for s in statements[index + 1:])) if index + 1 < len(statements) else set()
        result = None
        for candidate in sorted(_reads(statement.value) & temporaries - later):
            result = writer.into_dying(target, statement.value, candidate)
            if result is not None:
                temporaries.discard(candidate)
                break
        if result is None:
            writer.note(target, statement.value)
            out.append(ast.unparse(statement))
        else:
            out += result
        temporaries.add(target)
    return out


def _target(statement):
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id
    return None


def _is_store(statement) -> bool:
    return (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Subscript) and isinstance(statement.value, ast.Name))


def _computes(value) -> bool:
    """An operation whose result is a new array (not a name, a view or a constant)."""
    return isinstance(value, (ast.BinOp, ast.UnaryOp)) or (isinstance(value, ast.Call) and _ufunc(value) is not None)


def _aliases(statements, views=False) -> dict:
    """name -> the name it is bound to by a plain ``a = b`` (the last such statement); with ``views``, also by
    a view of it (``zf = gates[..., 0:H]``, ``a = b.T``, ``a = b.reshape(...)``), which shares its memory."""
    found = {}
    for statement in statements:
        target = _target(statement)
        if target is None:
            continue
        value = statement.value
        if views and isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
                and value.func.attr == "reshape":
            value = value.func.value
        while views and isinstance(value, (ast.Subscript, ast.Attribute)):
            value = value.value
        if isinstance(value, ast.Name):
            found[target] = value.id
    return found


def _origin(name, aliases) -> str:
    seen = set()
    while name in aliases and name not in seen:
        seen.add(name)
        name = aliases[name]
    return name


def _chain(name, aliases) -> list:
    """``name`` and every name it is bound to in turn, up to its origin."""
    chain = [name]
    while chain[-1] in aliases and aliases[chain[-1]] not in chain:
        chain.append(aliases[chain[-1]])
    return chain


def _reads(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _names_in(statements) -> set:
    return {n.id for statement in statements for n in ast.walk(statement) if isinstance(n, ast.Name)}


def _hazard(statements, index, target, aliases) -> bool:
    """Writing ``target``'s buffer at statement ``index`` could change a value still to be read: a name bound
    to the buffer's previous contents (``target`` itself, an alias of it, as ``dc_next = dc_prev``, or a view)
    read at or after ``index`` before being bound anew."""
    holders = {target} | {name for name in aliases if _origin(name, aliases) == target}
    rebound = set()
    for position in range(index, len(statements)):
        statement = statements[position]
        if _reads(statement.value if isinstance(statement, ast.Assign) else statement) & (holders - rebound):
            return True
        name = _target(statement)
        if name is not None:
            rebound.add(name)
    return False


def _ufunc(call):
    """np.<name> for a call of a NumPy ufunc with only positional arguments, one per input; else None."""
    function = call.func
    if not (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and function.value.id == "np"):
        return None
    found = getattr(np, function.attr, None)
    if not isinstance(found, np.ufunc) or found.nout != 1 or call.keywords or len(call.args) != found.nin:
        return None
    return f"np.{function.attr}"


class _Writer:
    """Writes one statement at a time as ufunc calls into buffers; collects the allocations."""

    def __init__(self, shapes, taken):
        self.shapes = dict(shapes)
        self.taken = set(taken) | set(shapes)
        self.allocations: list = []
        self.buffers: dict = {}          # name -> its buffer (one per assigned name)
        self.scratch: dict = {}          # shape -> [scratch buffers]

    def _new(self, stem, shape) -> str:
        name, number = f"{stem}_buf", 1
        while name in self.taken:
            number += 1
            name = f"{stem}_buf{number}"
        self.taken.add(name)
        self.allocations.append(f"{name} = np.empty(({', '.join(shape)}{',' if len(shape) == 1 else ''}))")
        return name

    def note(self, target, value) -> None:
        """A statement left as printed: its target's shape, where it can be read off, for the statements after."""
        if target is not None and target not in self.shapes:
            shape = self.shape_of(value)
            if shape is not None:
                self.shapes[target] = shape

    def statement(self, target, value, slot):
        """The lines computing ``value`` into ``slot`` or ``target``'s buffer, then ``target`` bound to it; or None."""
        inferred = self.shape_of(value)
        shape = self.shapes.get(target, inferred)
        if shape is None or inferred not in (shape, None):
            return None
        value = _simplified(value)
        lines = []
        in_use = []
        if slot is not None:
            destination = slot
        else:
            destination = self.buffers.get(target) or self._new(target, shape)
        try:
            self._into(value, destination, shape, lines, in_use, root=True)
        except _Unsupported:
            return None
        if slot is None:
            self.buffers[target] = destination
        lines.append(f"{target} = {destination}")
        self.shapes[target] = shape
        return lines

    def into_dying(self, target, value, dying):
        """Lines computing ``value`` into the array ``dying``, read once, by the first operation only; or None."""
        inferred = self.shape_of(value)
        if inferred is None or inferred != self.shapes.get(dying) or \
                sum(isinstance(n, ast.Name) and n.id == dying for n in ast.walk(value)) != 1:
            return None
        placeholder = "_destination_"
        lines, in_use = [], []
        try:
            self._into(_simplified(value), placeholder, inferred, lines, in_use, root=True)
        except _Unsupported:
            return None
        if any(dying in _reads(ast.parse(line)) for line in lines[1:]) or dying not in _reads(ast.parse(lines[0])):
            return None
        self.shapes[target] = inferred
        return [line.replace(placeholder, dying) for line in lines] + [f"{target} = {dying}"]

    # ---- shapes (tuples of code strings; None: unknown)
    def shape_of(self, node):
        if isinstance(node, ast.Name):
            return self.shapes.get(node.id)
        if isinstance(node, ast.Constant):
            return ()
        if isinstance(node, ast.Attribute) and node.attr == "T":
            inner = self.shape_of(node.value)
            return None if inner is None else tuple(reversed(inner))
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and not isinstance(node.slice, ast.Tuple) \
                and not isinstance(node.slice, ast.Slice):
            inner = self.shapes.get(node.value.id)
            return None if inner is None else inner[1:]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "reshape" \
                and node.args and not node.keywords:
            return tuple(ast.unparse(a) for a in node.args)
        if isinstance(node, ast.UnaryOp):
            return self.shape_of(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.shape_of(node.left), self.shape_of(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.MatMult):
                if len(left) != 2 or len(right) != 2 or left[1] != right[0]:
                    return None
                return (left[0], right[1])
            return _broadcast(left, right)
        if isinstance(node, ast.Call) and _ufunc(node) is not None:
            shapes = [self.shape_of(a) for a in node.args]
            if any(s is None for s in shapes):
                return None
            result = ()
            for s in shapes:
                result = _broadcast(result, s)
                if result is None:
                    return None
            return result
        return None

    # ---- code
    def _operand(self, node, lines, in_use):
        """Code for an operand: a leaf as printed, an operation computed into a scratch buffer."""
        shape = self.shape_of(node)
        if not _computes(node) or shape == ():
            return ast.unparse(node)
        if shape is None:
            raise _Unsupported
        buffer = self._scratch(shape, in_use)
        self._into(node, buffer, shape, lines, in_use)
        return buffer

    def _scratch(self, shape, in_use) -> str:
        for buffer in self.scratch.get(shape, []):
            if buffer not in in_use:
                in_use.append(buffer)
                return buffer
        buffer = self._new("scratch", shape)
        self.scratch.setdefault(shape, []).append(buffer)
        in_use.append(buffer)
        return buffer

    def _into(self, node, destination, shape, lines, in_use, root=False):
        """Lines writing ``node`` (an operation of the destination's shape) into ``destination``."""
        found = self.shape_of(node)
        if found is not None and found != shape:
            raise _Unsupported            # a smaller result broadcast into the destination: left as printed
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            left = self._operand(node.left, lines, in_use)
            right = self._operand(node.right, lines, in_use)
            lines.append(f"np.matmul({left}, {right}, out={destination})")
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            function = _BINARY[type(node.op)]
            left, right = node.left, node.right
            # the operand that is an operation of the full shape is computed in the destination itself
            if _computes(left) and self.shape_of(left) == shape:
                self._into(left, destination, shape, lines, in_use)
                other = self._operand(right, lines, in_use)
                lines.append(f"{function}({destination}, {other}, out={destination})")
                return
            if _computes(right) and self.shape_of(right) == shape:
                other = self._operand(left, lines, in_use)
                if other == destination:
                    raise _Unsupported
                self._into(right, destination, shape, lines, in_use)
                lines.append(f"{function}({other}, {destination}, out={destination})")
                return
            left_code = self._operand(left, lines, in_use)
            right_code = self._operand(right, lines, in_use)
            lines.append(f"{function}({left_code}, {right_code}, out={destination})")
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) \
                and node.right.value == 2:
            self._unary("np.square", node.left, destination, shape, lines, in_use)
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            left = self._operand(node.left, lines, in_use)
            right = self._operand(node.right, lines, in_use)
            lines.append(f"np.power({left}, {right}, out={destination})")
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self._unary("np.negative", node.operand, destination, shape, lines, in_use)
            return
        if isinstance(node, ast.Call) and _ufunc(node) is not None:
            if len(node.args) == 1:
                self._unary(_ufunc(node), node.args[0], destination, shape, lines, in_use)
                return
            codes = [self._operand(a, lines, in_use) for a in node.args]
            lines.append(f"{_ufunc(node)}({', '.join(codes)}, out={destination})")
            return
        raise _Unsupported

    def _unary(self, function, operand, destination, shape, lines, in_use):
        if _computes(operand) and self.shape_of(operand) == shape:
            self._into(operand, destination, shape, lines, in_use)
            lines.append(f"{function}({destination}, out={destination})")
        else:
            lines.append(f"{function}({self._operand(operand, lines, in_use)}, out={destination})")


class _Unsupported(Exception):
    """A statement this writer leaves as printed."""


def _broadcast(left, right):
    """The broadcast of two shapes of code strings, or None when it is not the larger of the two."""
    if len(left) < len(right):
        left, right = right, left
    tail = left[len(left) - len(right):]
    if tail != tuple(right):
        return None
    return tuple(left)


def _simplified(node):
    """``-a + b`` -> ``b - a`` and ``a + -b`` -> ``a - b``: one pass fewer, the same rounding."""
    class Rewrite(ast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, ast.Add) and isinstance(node.left, ast.UnaryOp) and isinstance(node.left.op, ast.USub):
                return ast.BinOp(node.right, ast.Sub(), node.left.operand)
            if isinstance(node.op, ast.Add) and isinstance(node.right, ast.UnaryOp) and isinstance(node.right.op, ast.USub):
                return ast.BinOp(node.left, ast.Sub(), node.right.operand)
            return node
    return Rewrite().visit(ast.parse(ast.unparse(node), mode="eval")).body
