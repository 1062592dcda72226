r"""Reading the right-hand side of a formula: its canonical SymPy form at concrete layers.

The right-hand side becomes a SymPy matrix expression over
:class:`~symbackprop.symbols.LayerArray` symbols (vector form), or a scalar expression over their
entries with the free unit indices of the left-hand side (index form).

The left-hand side is read generically (:mod:`._target`); the right-hand side is read once per
concrete layer the checker tests, so that a function letter (``\sigma``, ``g``) means the
activation of the very layer it is applied to.

``*`` and juxtaposition are the matrix product where only that fits and the elementwise product
where only that fits; both fitting is an :class:`AmbiguousProductError`. ``.*`` and ``\odot`` are
elementwise, ``@`` the matrix product. Shapes that do not fit raise :class:`FormulaShapeError`
naming the factors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import sympy as sp
from sympy.matrices.expressions import (BlockMatrix, HadamardPower, HadamardProduct, MatAdd, MatMul, MatrixExpr,
                                        OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.slice import MatrixSlice
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import symbols as S
from ..catalogue.activations import BY_NAME as ACTIVATIONS
from ..errors import ParseError
from ..grammar import _ast as A
from ..grammar._functions import CONSTANTS, FUNCTIONS
from ..grammar._parser import ONES
from ..grammar._to_sympy import MAX_EXPONENT, number
from . import _conventions as C
from ._errors import AmbiguousProductError, FormulaShapeError, LayerRangeError
from ._numeric import parameters
from ._code import SUM_ALL, SUM_COLUMNS, SUM_ROWS, code_names
from ._syntax import (ROLE_WORDS, derivative_parts, example_layer, example_of, script_parts, split_sup, strip_groups,
                      text_of)
from ._target import LOSS_GRADIENT, FormulaReader, Target

_SLICE = sp.Symbol(":", integer=True)     #: the row index of a column slice X_{:,j}

#: The grammar's functions a formula may apply elementwise (a catalogue activation of the same name wins).
_BUILTIN_FUNCTIONS = FUNCTIONS


@dataclass
class Context:
    """What the right-hand side is read against."""

    convention: C.Convention
    network: object
    layers: dict                 #: {S.l: int, S.L: int}
    target: Target               #: resolved at the concrete layer
    bishop_j: Optional[int] = None
    notes: list = field(default_factory=list)
    ranges: dict = field(default_factory=dict)       #: index symbol -> its range (a width)
    augment: bool = False        #: Ng's bias column: activations carry the bias unit a_0 = 1
    rows: bool = False           #: ex4's vectorised code: a, z, δ, y are batches with one example per row
    derivation: object = None    #: for quantities the right-hand side names by a derivative (∂C_0/∂w)
    misapplied: list = field(default_factory=list)   #: derivatives applied to something other than z
    example_index: Optional[sp.Symbol] = None        #: the index of a \sum over the examples being read
    example_count: int = 0                           #: example-indexed arrays read inside that sum

    @property
    def depth(self) -> int:
        return self.network.depth

    @property
    def bias_column(self) -> bool:
        return self.network.bias == "column"


class RhsReader:
    """Builds the canonical SymPy form of a right-hand side at concrete layers."""

    def __init__(self, reader: FormulaReader, context: Context):
        self.reader, self.ctx = reader, context
        self.convention = context.convention

    def error(self, message: str, node: A.Node) -> ParseError:
        return self.reader.error(message, node)

    def lhs_example(self):
        """The example letter of a left-hand side such as Nielsen's δ^{x,l}, else None."""
        return example_of(script_parts(strip_groups(self.reader.formula.lhs))[2])

    # -- dispatch
    def value(self, node: A.Node):
        chain = []
        while isinstance(node, A.Binary) and node.op in ("+", "-", "*", "/", "juxt", ".*", "./", "@"):
            chain.append(node)
            node = node.left
        value = self.leaf(node)
        if len(chain) > 8 and all(binary.op in "+-" for binary in chain):
            return self.long_sum(value, chain)
        for binary in reversed(chain):
            right = strip_groups(binary.right)
            if binary.op == "juxt" and isinstance(right, A.Name) and right.name == ONES and _is_matrix(value):
                value = MatMul(value, OneMatrix(value.shape[1], 1))    # X 1: X summed over its columns
                continue
            value = self.binary(binary, value, self.value(binary.right))
        return value

    def long_sum(self, first, chain):
        """a + b + ... + z as one sum (adding term by term is quadratic in the number of terms)."""
        terms = [first] + [self.value(b.right) if b.op == "+" else _negate(self.value(b.right)) for b in reversed(chain)]
        matrices = [t for t in terms if _is_matrix(t)]
        if matrices and len(matrices) == len(terms) and all(_same_shape(t, matrices[0]) for t in matrices):
            return MatAdd(*terms)
        value = terms[0]
        for binary, term in zip(reversed(chain), terms[1:]):
            value = self.add(binary, value, term)
        return value

    def leaf(self, node: A.Node):
        if isinstance(node, A.Number):
            return number(node.text)
        if isinstance(node, A.Group):
            if node.delimiter == "[" and isinstance(node.inner, A.Binary) and node.inner.op == ",":
                return self.concatenate(node)
            return self.value(node.inner)
        if isinstance(node, A.Index):
            return self.index(node)
        if isinstance(node, A.Binary) and node.op in _COMPARISONS:
            return self.indicator(node)
        if isinstance(node, A.Binary) and node.op == "kw":
            raise self.error(f"a keyword argument {text_of(node)!r} outside a NumPy call", node)
        if isinstance(node, A.Binary) and node.op == ":":
            raise self.error(f"a range {text_of(node)!r} outside an index such as X(2:end)", node)
        if isinstance(node, A.Unary):
            operand = self.value(node.operand)
            return -operand if node.op == "-" else operand
        if isinstance(node, (A.Name, A.Script)):
            return self.name(node)
        if isinstance(node, A.Prime):
            return self.prime(node)
        if isinstance(node, A.Call):
            return self.call(node)
        if isinstance(node, A.Binary) and node.op == "^":
            return self.power(node)
        if isinstance(node, A.Binary) and node.op == "frac":
            derivative = derivative_parts(node)
            if derivative is not None:
                return self.derivative(*derivative, node)
            return self.divide(node, self.value(node.left), self.value(node.right))
        if isinstance(node, A.Binary) and node.op == ",":
            raise self.error("unexpected ',' outside a subscript", node)
        if isinstance(node, A.Sum):
            return self.summation(node)
        if isinstance(node, A.Nabla):
            if node.sub is None:
                raise self.error("write what \\nabla differentiates by, e.g. \\nabla_a C", node)
            return self.derivative(node.operand, node.sub, node)
        if isinstance(node, A.Partial):
            raise self.error("a lone \\partial; write a derivative as \\frac{\\partial C}{\\partial z}", node)
        raise self.error(f"cannot read {text_of(node)!r} here", node)  # pragma: no cover

    # -- names
    def name(self, node: A.Node):
        name, sub, sup, style = script_parts(node)
        conv, ctx = self.convention, self.ctx
        layer_node, transpose = split_sup(sup, style)
        if name in ("m",) and sub is None and sup is None:
            return S.m
        if name in conv.scalars and sub is None and sup is None:
            return S.m                       # Nielsen's n: the number of training examples
        if name in ("Thetatilde", "Wtilde", "wtilde"):
            layer = self.concrete(self.reader.weight_layer(layer_node, node), node, C.WEIGHT)
            value = self.regularised_weights(layer)
            if sub is not None:
                return self.matrix_entry(value, sub, layer, node, "Θ̃")
            return self.transposed(value, transpose)
        if conv.name == "ng-ml" and name == "D":   # Ng's definition: D = (1/m) Δ + (λ/m) Θ for j ≥ 1
            layer = self.concrete(self.reader.weight_layer(layer_node, node), node, "W")
            value = MatAdd(MatMul(1 / S.m, self.accumulated(layer)), MatMul(S.lam / S.m, self.regularised_weights(layer)))
            if sub is not None:
                return self.matrix_entry(value, sub, layer, node, "D")
            return self.transposed(value, transpose)
        if name in ("lambda",) and sub is None and sup is None:
            return S.lam
        if sub is None and sup is None and name not in conv.letters:
            parameter = next((p for p in parameters(ctx.network) if p.name == name), None)
            if parameter is not None:        # leaky-relu's and elu's alpha, huber's delta: the record's parameter
                return parameter
        if name == "T" and sub is None and sup is None:
            raise self.error("'T' outside a superscript; write a transpose as X^T", node)
        if name in CONSTANTS and sub is None and sup is None and name not in conv.letters:
            return CONSTANTS[name]
        if conv.name == "goodfellow" and name == "g" and layer_node is None:
            return self.transposed(self.goodfellow_gradient(), transpose)
        if conv.name == "goodfellow" and name == "g":     # g^(k) = ∇_{a^(k)} J, as derive writes it
            name = "delta"
            role_override = C.DELTA
        else:
            role_override = None
        if name == ONES:
            return sp.Integer(1)      # derive's 1: the scalar, or (after a batch) the vector of ones
        if name == "e" and sub is None and "e" not in conv.letters:     # Euler's number, e^(z) as derive prints it
            if sup is None:
                return sp.E
            return self.apply(sp.exp(S.z), 0, self.value(sup), node, "exp")
        if conv.name == "ng-ml" and name == "Delta":
            layer = self.concrete(self.reader.weight_layer(layer_node, node), node, "W")
            value = self.accumulated(layer)
            if sub is not None:     # Δ_ij: an entry, i over the units of layer l+1, j over those of layer l
                return self.matrix_entry(value, sub, layer, node, "Δ")
            return self.transposed(value, transpose)
        if conv.name == "ng-dls" and name in ("dA", "da"):
            layer = self.concrete(self.reader.layer(layer_node, node, "a"), node, "a")
            return self.transposed(self.activation_gradient(layer, batch=name == "dA"), transpose)
        if conv.index_layers and layer_node is not None and not style and not any(
                isinstance(n, A.Name) for n in A.walk(layer_node)):
            # Bishop writes no layer superscripts: z_j^2 is a square
            base = A.Script(node.column, A.Name(node.column, name), sub, None) if sub is not None else \
                A.Name(node.column, name)
            return self.power(A.Binary(layer_node.column, "^", base, layer_node))
        role = role_override or conv.letters.get(name)
        batch = False
        if role is None and name in conv.batch_letters:
            role, batch = conv.batch_letters[name], True
        if role is None:
            raise self.error(self.unknown(name), node)
        columns = False
        example = example_of(sup)
        if example is not None and self.ctx.example_index is None and example == self.lhs_example():
            example = None          # Nielsen's δ^{x,l} = ... a^{x,l}: every quantity of the one example x
        if example is not None:
            if self.ctx.example_index is None or example != str(self.ctx.example_index):
                raise self.error(f"{text_of(node)!r} names example {example}: write it inside a sum over the "
                                 f"examples, e.g. \\sum_{{{example}=1}}^{{m}}", node)
            batch, columns = True, True
            self.ctx.example_count += 1
        elif self.ctx.rows and role in (C.ACTIVATION, C.PREACTIVATION, C.DELTA, C.TARGET, C.OUTPUT):
            batch = True
        if role == C.OUTPUT:
            role, layer = C.ACTIVATION, ctx.depth
        elif role == C.TARGET:
            layer = ctx.depth
        elif layer_node is not None:
            written = self.reader.weight_layer(layer_node, node) if role == C.WEIGHT else \
                self.reader.layer_expression(layer_node)
            layer = self.concrete(written, node, role)
        elif name == "x":
            layer = 1
        else:
            layer = self.default_layer(role, sub, node)
        if sub is not None:
            if transpose:
                raise self.error("a transposed entry; drop ^T from an indexed entry", node)
            return self.entry(role, layer, self.reader.indices(sub), node, batch)
        return self.transposed(self.array(role, layer, batch, columns=columns), transpose)

    def accumulated(self, layer: int) -> MatrixExpr:
        """Ng's Δ^(l): δ^(l+1) (a^(l))^T summed over the examples (canonical layer ``layer`` is l+1)."""
        return MatMul(self.array(C.DELTA, layer, True, columns=True),
                      Transpose(self.array(C.ACTIVATION, layer - 1, True, augment=self.ctx.bias_column, columns=True)))

    def matrix_entry(self, value, sub, layer: int, node, letter: str):
        """Entry (i, j) of a weight-shaped matrix; with Ng's bias column j = 0 is the bias column."""
        indices = self.reader.indices(sub)
        if len(indices) != 2:
            raise self.error(f"{letter} has two indices (row, column), {text_of(node)!r} has {len(indices)}", node)
        row, col = indices
        first = 0 if self.ctx.bias_column else 1
        if row == _SLICE and isinstance(col, sp.Integer):      # Δ_{:,0}: a whole column (Ng's bias column)
            width = sp.sympify(value.shape[1], strict=True)
            if col < first or (width.is_Integer and col - first >= int(width)):
                raise self.error(f"{text_of(node)!r}: column {col} is not a column of {letter}", node)
            return value[:, int(col) - first:int(col) - first + 1]
        self.note_range(row, S.width[layer], node)
        self.note_range(col, S.width[layer - 1], node)
        return value[row - 1, col - first]

    def unknown(self, name: str) -> str:
        conv = self.convention
        letters = [f"{k} ({ROLE_WORDS[v]})" for k, v in conv.letters.items()]
        letters += [f"{k} ({ROLE_WORDS[v]}, one column per example)" for k, v in conv.batch_letters.items()]
        extra = ["m", "\\lambda", *conv.functions]
        return (f"unknown name {name!r} in the {conv.name} notation; accepted: {', '.join(letters)}, "
                f"{', '.join(extra)}")

    def default_layer(self, role: str, sub, node) -> int:
        ctx = self.ctx
        if self.convention.index_layers and sub is not None:
            letters = self.reader.indices(sub)
            letter = str(letters[0])
            if letter not in C.BISHOP_INDEX_OFFSETS:
                raise self.error(f"Bishop's unit letters are i, j and k; {letter!r} says no layer", node)
            layer = ctx.bishop_j + C.BISHOP_INDEX_OFFSETS[letter]
            return self.check_layer(layer, role, node)
        if role == C.WEIGHT:
            raise self.error(f"{text_of(node)!r} needs its layer: which weight matrix? e.g. "
                             f"{self.convention.weight_letter}^{{{example_layer(self.convention)}}}", node)
        return self.check_layer(int(ctx.target.layer), role, node)

    def concrete(self, layer: sp.Expr, node, role: str) -> int:
        value = sp.sympify(layer, strict=True).xreplace(self.ctx.layers)
        if not value.is_Integer:
            free = ", ".join(sorted(map(str, value.free_symbols)))
            raise self.error(f"the layer {free} is not fixed by the left-hand side, which is about layer "
                             f"{self.ctx.target.layer}; write the layers relative to the left-hand side's", node)
        return self.check_layer(int(value), role, node)

    def check_layer(self, layer: int, role: str, node) -> int:
        depth = self.ctx.depth
        lowest = 1 if role in (C.ACTIVATION,) else 2
        if not lowest <= layer <= depth:
            words = self.words
            if role == C.WEIGHT:
                raise LayerRangeError(
                    f"'{text_of(node)}' names a weight matrix this {depth}-layer network does not have: its weight "
                    f"matrices are {words.weight(2)} to {words.weight(depth)} ({words.numbering()})")
            what = ROLE_WORDS.get(role, role)
            raise LayerRangeError(
                f"'{text_of(node)}' names the {what} of layer {words.layer(layer)}, which this {depth}-layer network "
                f"does not have: the layers with {'an' if what[0] in 'aeiou' else 'a'} {what} are "
                f"{words.layer(lowest)} to {words.layer(depth)} ({words.numbering()})")
        return layer

    @property
    def words(self):
        from ._words import Words
        return Words(self.convention, self.ctx.depth)

    def array(self, role: str, layer: int, batch: bool = False, augment: bool = False,
              columns: bool = False) -> MatrixExpr:
        """The array of a role at a canonical layer; a batch has one example per column, or per row where
        the notation stacks them so (ng-ml's A^(l), d^(l)) unless ``columns``."""
        value = self._array(role, layer, batch, augment)
        if batch and not columns and self.convention.batch_rows and role not in (C.WEIGHT, C.BIAS):
            return Transpose(value)
        return value

    def _array(self, role: str, layer: int, batch: bool = False, augment: bool = False) -> MatrixExpr:
        cols = S.m if batch else 1
        if role == C.WEIGHT:
            extra = 1 if self.ctx.bias_column else 0
            return S.LayerArray("W", S.width[layer], S.width[layer - 1] + extra, layer)
        if role == C.TARGET:
            return S.LayerArray("y", S.width[layer], cols, layer)
        if role == C.BIAS and self.ctx.bias_column:
            return self.array(C.WEIGHT, layer)[:, :1]   # Ng's bias: column 0 of Θ
        if role == C.ACTIVATION and self.ctx.augment and layer < self.ctx.depth:
            augment = True
            note = "read with Ng's bias unit: a_0 = 1 is the first entry of every a^(l) below the output layer"
            if note not in self.ctx.notes:
                self.ctx.notes.append(note)
        rows = S.width[layer] + (1 if augment and role == C.ACTIVATION else 0)
        return S.LayerArray(role, rows, cols, layer)

    def entry(self, role: str, layer: int, indices: tuple, node, batch: bool):
        if batch:
            raise self.error("entries of a batch array are not read; use the per-example letters", node)
        extra = 1 if self.ctx.bias_column else 0
        if role == C.WEIGHT:
            if len(indices) != 2:
                raise self.error(f"a weight has two indices (row, column), {text_of(node)!r} has {len(indices)}", node)
            row, col = indices
            if row == _SLICE and col == 0 and not extra:         # ng-ml writes a separate bias as the column 0
                return self.array(C.BIAS, layer)
            if row == _SLICE and isinstance(col, sp.Integer):      # Θ_{:,0}: a whole column (Ng's bias column)
                W = self.array(C.WEIGHT, layer)
                column = int(col) - 1 + extra
                width = sp.sympify(W.shape[1], strict=True)
                if column < 0 or (width.is_Integer and column >= int(width)):
                    raise self.error(f"{text_of(node)!r}: column {col} is not a column of this weight matrix", node)
                return W[:, column:column + 1]
            self.note_range(row, S.width[layer], node)
            self.note_range(col, S.width[layer - 1], node)
            return MatrixElement(self.array(C.WEIGHT, layer), row - 1, col - 1 + extra)
        if len(indices) != 1:
            raise self.error(f"{text_of(node)!r} has {len(indices)} indices; a unit has one", node)
        (index,) = indices
        self.note_range(index, S.width[layer], node)
        if role == C.BIAS and self.ctx.bias_column:
            return MatrixElement(self.array(C.WEIGHT, layer), index - 1, 0)
        if role == C.ACTIVATION and self.ctx.bias_column and layer < self.ctx.depth:
            # Ng's bias unit: a_0 = 1, and a_j (j >= 1) is unit j (Δ_ij += a_j δ_i runs over j = 0 too)
            return MatrixElement(self._array(role, layer, augment=True), index, 0)
        return MatrixElement(self.array(role, layer), index - 1, 0)

    def note_range(self, index, width, node=None):
        if not isinstance(index, sp.Symbol):
            return
        known = self.ctx.ranges.setdefault(index, width)
        if sp.expand(known - width) != 0:
            where = f" in '{text_of(node)}'" if node is not None else ""
            raise FormulaShapeError(f"the index {index} runs over {width} units{where} but over {known} "
                                    f"units elsewhere in the formula: the indices do not fit")

    @staticmethod
    def transposed(value, transpose: bool):
        if not transpose:
            return value
        if not isinstance(value, MatrixExpr):
            return value
        return Transpose(value)

    # -- quantities named on the right
    def goodfellow_gradient(self):
        """Goodfellow's running gradient g: ∇_{h^(k)} J in the step g ← g ⊙ f'(a^(k)), else ∇_{a^(k)} J."""
        target = self.ctx.target
        layer = int(target.layer)
        if target.quantity in ("output_delta", "hidden_delta"):
            return self.activation_gradient(layer, batch=False)
        return self.array(C.DELTA, layer)

    def activation_gradient(self, layer: int, batch: bool):
        """∂C/∂a^layer: the loss derivative at the output, the back-propagated error below it."""
        cols = S.m if batch else 1
        if layer == self.ctx.depth:
            return S.LayerArray(LOSS_GRADIENT, S.width[layer], cols, layer)
        if layer < 1:
            raise LayerRangeError(f"there is no layer {layer}")
        W = self.array(C.WEIGHT, layer + 1)
        back = MatMul(Transpose(W), self.array(C.DELTA, layer + 1, batch))
        if self.ctx.bias_column:
            back = back[1:, :]
        return back

    def derivative(self, cost: A.Node, wrt: A.Node, node: A.Node):
        name, sub, sup, style = script_parts(strip_groups(cost))
        if self.convention.name == "goodfellow" and name == "Omega":
            wrt_name, _, wsup, wstyle = script_parts(strip_groups(wrt))
            layer_node, _ = split_sup(wsup, wstyle)
            if self.convention.letters.get(wrt_name) != C.WEIGHT:
                raise self.error("\\nabla \\Omega is read for a weight matrix only", node)
            layer = self.concrete(self.reader.weight_layer(layer_node, wrt), wrt, C.WEIGHT)
            return self.regularised_weights(layer)
        self.reader.cost_mode(cost)
        wrt_name, wsub, wsup, wstyle = script_parts(strip_groups(wrt))
        role = self.convention.letters.get(wrt_name)
        layer_node, _ = split_sup(wsup, wstyle)
        if role in (C.ACTIVATION, C.OUTPUT):
            if role == C.OUTPUT or layer_node is None:
                layer = self.ctx.depth
            else:
                layer = self.concrete(self.reader.layer_expression(layer_node), wrt, C.ACTIVATION)
            value = self.activation_gradient(layer, batch=False)
            if wsub is not None:
                (index,) = self.reader.indices(wsub)
                self.note_range(index, S.width[layer])
                return value[index - 1, 0]
            return value
        if role == C.PREACTIVATION:
            if layer_node is not None:
                layer = self.concrete(self.reader.layer_expression(layer_node), wrt, C.PREACTIVATION)
            else:
                layer = self.default_layer(C.PREACTIVATION, wsub, wrt)
            if wsub is not None:
                return self.entry(C.DELTA, layer, self.reader.indices(wsub), wrt, False)
            return self.array(C.DELTA, layer)
        mode = self.reader.cost_mode(cost)
        if role in (C.WEIGHT, C.BIAS) and wsub is None and self.ctx.derivation is not None:
            from ._expected import expected
            layer = self.concrete(self.reader.weight_layer(layer_node, wrt) if role == C.WEIGHT else
                                  self.reader.layer_expression(layer_node), wrt, role) if layer_node is not None \
                else int(self.ctx.target.layer)
            quantity = "weight_gradient" if role == C.WEIGHT else "bias_gradient"
            return expected(self.ctx.derivation, Target(quantity, sp.Integer(layer), mode))
        raise self.error(f"{text_of(node)!r} on the right-hand side: only derivatives by a, z and a whole weight "
                         f"matrix or bias vector are read", node)

    def regularised_weights(self, layer: int) -> MatrixExpr:
        if self.ctx.bias_column:
            W = self.array(C.WEIGHT, layer)
            return S.LayerArray("W_reg", W.shape[0], W.shape[1], layer)
        return self.array(C.WEIGHT, layer)

    # -- operators
    def binary(self, node: A.Binary, left, right):
        op = node.op
        if op in "+-":
            return self.add(node, left, right if op == "+" else _negate(right))
        if op in ("/", "./"):
            return self.divide(node, left, right)
        if op == ".*":
            return self.hadamard(node, left, right)
        if op == "@":
            return self.matmul(node, left, right)
        return self.product(node, left, right)

    def add(self, node, left, right):
        lm, rm = _is_matrix(left), _is_matrix(right)
        if not lm and not rm:
            return left + right
        if lm and rm:
            if not _same_shape(left, right):
                left, right = self.drop_bias_rows(node, left, right, "+")
                if not _same_shape(left, right):
                    raise FormulaShapeError(self.shape_message(node, "add", left, right))
            return MatAdd(*_terms(left, MatAdd), *_terms(right, MatAdd))
        matrix, scalar = (left, right) if lm else (right, left)
        return MatAdd(matrix, MatMul(scalar, OneMatrix(*matrix.shape)) if scalar != 1 else OneMatrix(*matrix.shape))

    def product(self, node, left, right):
        if not _is_matrix(left) or not _is_matrix(right):
            return _scale(left, right)
        fits_matmul = _same_size(left.shape[1], right.shape[0])
        fits_hadamard = _same_shape(left, right)
        if fits_matmul and fits_hadamard and node.op == "*" and self.convention.name == "ng-dls":
            return HadamardProduct(left, right)     # NumPy's '*' is elementwise
        if fits_matmul and fits_hadamard and not (_same_size(left.shape[0], 1) and _same_size(left.shape[1], 1)):
            raise AmbiguousProductError(
                f"'{text_of(node.left)}' and '{text_of(node.right)}' are both {self.words.shape(left)}: "
                f"'{'*' if node.op == '*' else 'juxtaposition'}' could be the matrix product or the elementwise "
                f"product; write @ (matrix) or \\odot / .* (elementwise)")
        if fits_matmul:
            return MatMul(*_terms(left, MatMul), *_terms(right, MatMul))
        if fits_hadamard:
            return HadamardProduct(*_terms(left, HadamardProduct), *_terms(right, HadamardProduct))
        left2, right2 = self.drop_bias_rows(node, left, right, "elementwise product")
        if _same_shape(left2, right2):
            return HadamardProduct(left2, right2)
        raise FormulaShapeError(self.shape_message(node, "multiply", left, right))

    def hadamard(self, node, left, right):
        if not _is_matrix(left) or not _is_matrix(right):
            return _scale(left, right)
        if not _same_shape(left, right):
            left, right = self.drop_bias_rows(node, left, right, "elementwise product")
            if not _same_shape(left, right):
                raise FormulaShapeError(self.shape_message(node, "multiply elementwise", left, right))
        return HadamardProduct(left, right)

    def matmul(self, node, left, right):
        if not _is_matrix(left) or not _is_matrix(right):
            return _scale(left, right)
        if not _same_size(left.shape[1], right.shape[0]):
            raise FormulaShapeError(self.shape_message(node, "matrix-multiply", left, right))
        return MatMul(left, right)

    def divide(self, node, left, right):
        if _is_matrix(right):
            reciprocal = HadamardPower(right, -1)
            if _is_matrix(left):
                return self.hadamard(node, left, reciprocal)
            return MatMul(left, reciprocal) if left != 1 else reciprocal
        if right == 0:
            raise self.error("division by zero", node)
        if _is_matrix(left):
            return MatMul(1 / right, left)
        return left / right

    def power(self, node: A.Binary):
        base = self.value(node.left)
        exponent_node = strip_groups(node.right)
        if isinstance(exponent_node, A.Name) and exponent_node.name == "T":
            if not _is_matrix(base):
                return base
            return Transpose(base)
        exponent = self.value(node.right)
        if _is_matrix(exponent):
            raise self.error("a matrix as an exponent", node.right)
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
            raise self.error(f"exponent {exponent} is too large; at most {MAX_EXPONENT} is accepted", node.right)
        if _is_matrix(base):
            if not exponent.is_Number:
                raise self.error("a vector to a symbolic power", node)
            return HadamardPower(base, exponent)
        if base.is_Number and exponent.is_Number and base not in (0, 1, -1) and abs(exponent) > 64:
            raise self.error("this power is too large to compute", node)
        if base == 0 and exponent.is_Number and exponent.is_negative:
            raise self.error("division by zero: 0 to a negative power", node)
        return base ** exponent

    def prime(self, node: A.Prime):
        """``X'``: Octave's transpose of a matrix (a derivative is read where a function is called)."""
        value = self.value(node.operand)
        if not _is_matrix(value):
            raise self.error(f"{text_of(node)!r}: a prime on a scalar; write g'(z) for a derivative", node)
        for _ in range(node.count % 2):
            value = Transpose(value)
        return value

    # -- program code: indicators, indexing, concatenation
    def indicator(self, node: A.Binary):
        """``(z > 0)``, ``[z > 0]``, ``np.int64(Z > 0)``: 1 where the comparison holds, else 0, elementwise."""
        left, right = self.value(node.left), self.value(node.right)
        if _is_matrix(right):
            raise self.error(f"compare an array with a number, e.g. z > 0, not {text_of(node)!r}", node)
        op = node.op
        difference = self.add(node, left, _negate(right)) if op in (">", ">=", "!=", "~=") else \
            self.add(node, _negate(left), right)
        step = sp.Heaviside(S.z, 1 if op in (">=", "<=") else 0)
        if op in ("!=", "~="):      # Octave's ~=, C's !=: 1 on both sides of the value, 0 at it
            step = sp.Heaviside(S.z, 0) + sp.Heaviside(-S.z, 0)
        if _is_matrix(difference):
            return ElementwiseApplyFunction(sp.Lambda(S.z, step), difference)
        return step.subs(S.z, difference)

    def index(self, node: A.Index):
        """Octave's X(2:end), X(:, 2:end), X(1, :) (1-based; ``end`` is the last)."""
        value = self.value(node.base)
        if not _is_matrix(value):
            raise self.error(f"{text_of(node.base)!r} is a scalar: it has no entries to index", node)
        items = []
        stack = [node.indices]
        while stack:
            item = stack.pop()
            if isinstance(item, A.Binary) and item.op == ",":
                stack += [item.right, item.left]
            else:
                items.append(item)
        if len(items) == 1:
            if _same_size(value.shape[1], 1):
                items = [items[0], A.Name(node.column, ":")]
            elif _same_size(value.shape[0], 1):
                items = [A.Name(node.column, ":"), items[0]]
            else:
                raise self.error(f"{text_of(node)!r}: index a matrix with a row and a column, e.g. X(:, 2:end)", node)
        if len(items) != 2:
            raise self.error(f"{text_of(node)!r}: at most two indices (row, column)", node)
        rows, cols = (self.index_range(item, size, node) for item, size in zip(items, value.shape))
        if rows == (0, None) and cols == (0, None):
            return value
        return MatrixSlice(value, rows, cols) if not isinstance(value, MatrixSlice) else value[rows[0]:rows[1], cols[0]:cols[1]]

    def index_range(self, item, size, node) -> tuple:
        item = strip_groups(item)
        if isinstance(item, A.Name) and item.name == ":":
            return (0, None)
        if isinstance(item, A.Binary) and item.op == ":":
            low, high = self.index_number(item.left, size, node), self.index_number(item.right, size, node)
            return (low - 1, None if high is None else high)
        value = self.index_number(item, size, node)
        if value is None:
            return (size - 1, None)
        return (value - 1, value)

    def index_number(self, item, size, node):
        item = strip_groups(item)
        if isinstance(item, A.Name) and item.name == "end":
            return None
        if isinstance(item, A.Number) and item.text.isdigit() and int(item.text) >= 1:
            return int(item.text)
        raise self.error(f"cannot read {text_of(item)!r} as an index of {text_of(node.base)!r}; write a number "
                         f"from 1, ':' or a range such as 2:end", item)

    def concatenate(self, node: A.Group):
        """Octave's [A, B]: side by side. [zeros(n, 1), Θ(:, 2:end)] is Θ with its bias column set to 0."""
        parts, stack = [], [node.inner]
        while stack:
            item = stack.pop()
            if isinstance(item, A.Binary) and item.op == ",":
                stack += [item.right, item.left]
            else:
                parts.append(self.value(item))
        if not all(_is_matrix(part) for part in parts) or not all(_same_size(p.shape[0], parts[0].shape[0])
                                                                 for p in parts):
            raise FormulaShapeError(f"cannot put side by side {text_of(node)!r}: the parts need the same number "
                                    f"of rows")
        if len(parts) == 2 and isinstance(parts[0], ZeroMatrix) and isinstance(parts[1], MatrixSlice):
            parent = parts[1].parent
            if isinstance(parent, S.LayerArray) and parent.role == "W" and parts[1].colslice[0] == 1 \
                    and _same_size(parts[0].shape[1], 1) and _same_size(parts[1].shape[1], parent.shape[1] - 1):
                return S.LayerArray("W_reg", parent.shape[0], parent.shape[1], parent.layer)
        return BlockMatrix([parts])

    def code_function(self, name: str, node: A.Call):
        """zeros(r, c), ones(r, c), size(X, d) and the sums of :mod:`._code`."""
        items, stack = [], [node.argument]
        while stack:
            item = stack.pop()
            if isinstance(item, A.Binary) and item.op == ",":
                stack += [item.right, item.left]
            else:
                items.append(item)
        if name in (SUM_COLUMNS, SUM_ROWS, SUM_ALL):
            value = self.value(node.argument)
            if not _is_matrix(value):
                return value
            if name == SUM_COLUMNS:
                return MatMul(value, OneMatrix(value.shape[1], 1))
            if name == SUM_ROWS:
                return MatMul(OneMatrix(1, value.shape[0]), value)
            return MatMul(OneMatrix(1, value.shape[0]), value, OneMatrix(value.shape[1], 1))
        if name == "size":
            if len(items) != 2 or not (isinstance(items[1], A.Number) and items[1].text in ("1", "2")):
                raise self.error("write size(X, 1) or size(X, 2)", node)
            value = self.value(items[0])
            if not _is_matrix(value):
                return sp.Integer(1)
            return value.shape[int(items[1].text) - 1]
        if len(items) != 2:
            raise self.error(f"write {name}(rows, columns), e.g. {name}(m, 1)", node)
        rows, cols = (self.value(item) for item in items)
        if _is_matrix(rows) or _is_matrix(cols):
            raise self.error(f"{name}(rows, columns) takes two sizes", node)
        return ZeroMatrix(rows, cols) if name == "zeros" else OneMatrix(rows, cols)

    # -- functions
    def call(self, node: A.Call):
        function, primes = node.function, 0
        while isinstance(function, A.Prime):
            primes += function.count
            function = function.operand
        if isinstance(function, A.Name) and function.name in (SUM_COLUMNS, SUM_ROWS, SUM_ALL, "zeros", "ones", "size"):
            return self.code_function(function.name, node)
        letter, _, _, _ = script_parts(function)
        if not primes and letter in self.convention.letters and letter not in self.convention.functions:
            # a letter that is an array here (Goodfellow's h^(k)) followed by a parenthesis: a product
            juxtaposed = A.Binary(node.column, "juxt", function, node.argument)
            return self.product(juxtaposed, self.value(function), self.value(node.argument))
        layer_hint = None
        if isinstance(function, A.Script) and isinstance(function.sub, A.Name) and not function.sub.command \
                and len(function.sub.name) > 1:
            # sigmoid_foo(z): a plain-text name the tables do not know, not sigmoid with a subscript
            raise self.error(self.unknown_function(f"{letter}_{function.sub.name}"), function)
        if isinstance(function, A.Script):
            layer_node, _ = split_sup(function.sup, function.sup_style)
            if layer_node is not None:
                layer_hint = self.concrete(self.reader.layer_expression(layer_node), function, C.PREACTIVATION)
            function = function.base
        name = function.name
        if name in _BUILTIN_FUNCTIONS and _BUILTIN_FUNCTIONS[name].arity > 1 and name not in self.convention.functions:
            return self.call_several(_BUILTIN_FUNCTIONS[name], primes, node)
        argument = self.value(node.argument)
        if name in self.convention.functions:
            layer = layer_hint or self.layer_of_argument(argument, node, primes)
            record = self.ctx.network.activation_of(layer)
            label = f"{name} (the activation of layer {layer}, {record.name})"
        else:
            record = ACTIVATIONS.get(name.replace("_", "-")) or ACTIVATIONS.get(name.lower())
            label = name
            if record is None and name in _BUILTIN_FUNCTIONS:
                return self.apply(_BUILTIN_FUNCTIONS[name].build(S.z), primes, argument, node, name)
            if record is None:
                raise self.error(self.unknown_function(name), node)
        if not record.elementwise:
            if primes:
                raise self.error(f"{label} couples the units of its layer: {name}'(z) is a Jacobian, not an "
                                 f"elementwise factor", node)
            layer = self.layer_of_argument(argument, node, primes)
            if argument != self.array(C.PREACTIVATION, layer):
                raise self.error(f"{name} is read applied to a layer's z only", node)
            return self.array(C.ACTIVATION, layer)
        return self.apply(record.concrete(), primes, argument, node, label)

    def unknown_function(self, name: str) -> str:
        return (f"unknown function {name!r}; accepted: {', '.join(self.convention.functions)} (the network's "
                f"activation), {', '.join(sorted(ACTIVATIONS))}, {', '.join(_BUILTIN_FUNCTIONS)}, and the "
                f"derivatives as code names them: {', '.join(code_names(self.convention.name))}")

    def call_several(self, function, primes: int, node: A.Call):
        """max(u, v), min(u, v), clip(u, lo, hi): elementwise over the one vector among the arguments."""
        parts = A.arguments(node.argument)
        if len(parts) != function.arity:
            raise self.error(f"{function.name} takes {function.arity} arguments ({function.usage}), "
                             f"not {len(parts)}", node)
        if primes:
            raise self.error(f"{function.name} has several arguments: write the derivative of what it is "
                             f"applied to, not {function.name}'", node)
        values = [self.value(part) for part in parts]
        arrays = [value for value in values if _is_matrix(value)]
        if len(arrays) > 1 and any(not _same_shape(arrays[0], other) for other in arrays[1:]):
            raise FormulaShapeError(f"the arguments of {function.name} have different shapes")
        if len(arrays) > 1:
            raise self.error(f"{function.name} of two vectors is not read; apply it to one vector and numbers, "
                             f"e.g. max(0, z^l)", node)
        if not arrays:
            return function.build(*values)
        body = function.build(*(S.z if _is_matrix(value) else value for value in values))
        return self.apply(body, 0, arrays[0], node, function.name)

    def apply(self, definition: sp.Expr, primes: int, argument, node, label):
        body = sp.diff(definition, S.z, primes) if primes else definition
        if _is_matrix(argument):
            if not body.has(S.z):
                return MatMul(body, OneMatrix(*argument.shape)) if body != 1 else OneMatrix(*argument.shape)
            return ElementwiseApplyFunction(sp.Lambda(S.z, body), argument)
        return body.subs(S.z, argument)

    def layer_of_argument(self, argument, node, primes: int = 0) -> int:
        arrays = [x for x in _arrays(argument) if x.role == "z"]
        layers = {int(x.layer) for x in arrays}
        if len(layers) == 1:
            return layers.pop()
        others = {(x.role, int(x.layer)) for x in _arrays(argument) if x.role in ("a", "delta", "y", LOSS_GRADIENT)}
        if not arrays and len({layer for _, layer in others}) == 1 and 2 <= next(iter(others))[1] <= self.ctx.depth:
            # read as written (g'(a^L) is a mistake to judge, not a formula to refuse)
            role, layer = sorted(others)[0]
            self.ctx.misapplied.append(self.misapplied_text(node, role, primes))
            return layer
        raise self.error(f"cannot tell which layer's activation {text_of(node.function)!r} is: apply it to one "
                         f"layer's pre-activation, e.g. g'(z^l)", node)

    def misapplied_text(self, node: A.Call, role: str, primes: int) -> str:
        """The diagnosis of g'(a^L): in the user's letters, what was differentiated and where it belongs."""
        written = text_of(node)
        argument = strip_groups(node.argument)
        z_letter = next((k for k, v in self.convention.letters.items() if v == C.PREACTIVATION), "z")
        right = ""
        name, sub, sup, style = script_parts(argument)
        if name is not None:
            fixed = A.Script(argument.column, A.Name(argument.column, z_letter), sub, sup, style) \
                if (sub is not None or sup is not None) else A.Name(argument.column, z_letter)
            function = node.function
            right = f": write {text_of(A.Call(node.column, function, fixed))}"
        what = {"a": "the activation", "delta": "the error δ", "y": "the target", LOSS_GRADIENT: "∂C/∂a"}.get(role, role)
        if primes:
            return (f"{written} takes the derivative at {text_of(argument)}, {what}; the derivative of the "
                    f"activation is taken at the pre-activation {z_letter}{right}")
        return f"{written} applies the activation to {text_of(argument)}, {what}, not to the pre-activation{right}"

    # -- sums
    def summation(self, node: A.Sum):
        indices = self.reader.indices(node.index)
        if len(indices) != 1 or not isinstance(indices[0], sp.Symbol):
            raise self.error("\\sum takes one index letter, e.g. \\sum_k", node.index)
        (index,) = indices
        if index in self.ctx.ranges:
            previous = self.ctx.ranges.pop(index)
        else:
            previous = None
        outer = (self.ctx.example_index, self.ctx.example_count)
        self.ctx.example_index, self.ctx.example_count = index, 0
        try:
            body = self.value(node.body)
        finally:
            examples = self.ctx.example_count
            self.ctx.example_index, self.ctx.example_count = outer
        width = self.ctx.ranges.pop(index, None)
        if previous is not None:
            self.ctx.ranges[index] = previous
        if examples:     # Σ_i over the examples of x^(i): the batch arrays, summed
            if width is not None:
                raise self.error(f"the index {index} numbers the examples and the units at once", node)
            if examples == 1 and _is_matrix(body) and _same_size(body.shape[1], S.m):
                return MatMul(body, OneMatrix(S.m, 1))
            if examples == 2 and _is_matrix(body) and not _same_size(body.shape[1], S.m):
                return body          # x^(i) y^(i)T summed over i is the product of the batches
            raise self.error(f"cannot read this sum over the examples {index}: write Σ_i x^(i) or "
                             f"Σ_i x^(i) y^(i)T", node)
        if width is None:
            if _is_matrix(body) and _same_size(body.shape[1], S.m):
                return MatMul(body, OneMatrix(S.m, 1))
            raise self.error(f"the index {index} of this sum appears in no entry of its summand", node)
        if _is_matrix(body):
            raise self.error("a sum over a unit index of a vector; index its entries, e.g. w_{kj} \\delta_k", node)
        return sp.Sum(body, (index, 1, width))

    # -- Ng's bias row
    def drop_bias_rows(self, node, left, right, what):
        """Ng's bias column: (Θ^(l))^T δ^(l+1) has a row for the bias unit; Ng drops it before .*"""
        if not self.ctx.bias_column:
            return left, right
        for big, small, swap in ((left, right, False), (right, left, True)):
            if _same_size(big.shape[0], small.shape[0] + 1) and _same_size(big.shape[1], small.shape[1]):
                sliced = big[1:, :]
                self.ctx.notes.append(f"read with Ng's bias convention: the bias row 0 of "
                                      f"({text_of(node.right if swap else node.left)}) is dropped before the {what}")
                return (small, sliced) if swap else (sliced, small)
        return left, right

    def shape_message(self, node, verb, left, right) -> str:
        words = self.words
        return (f"shapes do not fit: cannot {verb} '{text_of(node.left)}' ({words.shape(left)}) and "
                f"'{text_of(node.right)}' ({words.shape(right)})")


_COMPARISONS = (">", "<", ">=", "<=", "!=", "~=")


# --- helpers on SymPy values ----------------------------------------------------------------------------
def _is_matrix(value) -> bool:
    return isinstance(value, MatrixExpr)


def _same_size(a, b) -> bool:
    return sp.expand(sp.sympify(a, strict=True) - sp.sympify(b, strict=True)) == 0


def _same_shape(x, y) -> bool:
    return _same_size(x.shape[0], y.shape[0]) and _same_size(x.shape[1], y.shape[1])


def _shape(x) -> str:
    return f"{x.shape[0]}×{x.shape[1]}"


def _scale(left, right):
    if _is_matrix(left):
        left, right = right, left
    if _is_matrix(right):
        return MatMul(left, right) if left != 1 else right
    return left * right


def _terms(value, kind) -> tuple:
    """The operands of a sum or product of this kind, so long chains stay flat (a + a + ... + a)."""
    return value.args if isinstance(value, kind) else (value,)


def _negate(value):
    return MatMul(-1, value) if _is_matrix(value) else -value


def _arrays(value):
    """The LayerArray symbols inside a value."""
    if isinstance(value, S.LayerArray):
        return [value]
    return [atom for atom in sp.sympify(value, strict=True).atoms(S.LayerArray)] if isinstance(value, sp.Basic) else []
