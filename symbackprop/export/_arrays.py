"""Matrix expressions of a derivation printed as array statements of a backend (NumPy, JAX, PyTorch).

The derivation writes its batch and vector forms over :class:`~symbackprop.symbols.LayerArray`
symbols in the textbook's orientation (one example per column): ∂J/∂W^l = (1/m) δ^l (a^{l-1})^T
+ (λ/m) W^l, δ^l = ((W^{l+1})^T δ^{l+1}) ⊙ g'(z^l). Printing one takes three steps, each plain algebra:

1. **bind**: every LayerArray is replaced by what the code holds, as a matrix expression over the
   code's arrays (:class:`CodeArray`): with one example per row, δ^l = m (Δ^l)^T where the array
   Δ^l (``delta{l}``) carries the 1/m of the batch average; Ng's augmented activations [1; a] and
   the regularised weights [0 | Θ_{:,1:}] become block matrices;
2. **simplify**: SymPy's matrix algebra (``doit``, ``block_collapse``) cancels the scalars, takes
   transposes down to the arrays and multiplies out the blocks: (1/m) (m Δ^T) A = Δ^T A;
3. **print**: each node by one rule -- ``@``, ``.T``, slices, scalar times array, a product with a
   column of ones as a sum over an axis -- and each assignment as statements: in NumPy a sum
   is assigned term by term (``+=``) and a block row is filled in place.

The elementwise factors of a Hadamard product (g'(z^l) in the δ recursion) are not printed here:
they are handed back in unit form (:func:`~symbackprop.engine._vectorise.unvectorise`) to the kernel printers of :mod:`._source`.
Layer back-propagation rules will be printed through the same three steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp
from sympy.matrices.expressions import (BlockMatrix, HadamardProduct, MatAdd, MatMul,
                                        MatrixExpr, MatrixSlice, MatrixSymbol, OneMatrix, Transpose, ZeroMatrix)
from sympy.matrices.expressions.blockmatrix import block_collapse

from .. import symbols as S
from ..engine._vectorise import unvectorise  # noqa: F401  (the inverse of the engine's vectorise)
from ..errors import ExportError
from ._printing import printer


class CodeArray(MatrixSymbol):
    """An array of the generated code, by its variable name and its shape in the code."""


@dataclass(frozen=True)
class Bindings:
    """What the code holds for each LayerArray role, as a function (array) -> matrix expression."""

    arrays: dict          #: role -> callable(LayerArray) -> MatrixExpr over CodeArray
    scalars: dict         #: SymPy scalar -> its code symbol or value (λ -> LAMBDA)
    sizes: dict           #: width symbol n[k] -> its number

    def bind(self, expr: MatrixExpr) -> MatrixExpr:
        concrete = expr.xreplace(self.sizes).xreplace(self.scalars)
        bound = concrete.replace(lambda e: isinstance(e, S.LayerArray), self._array)
        return bound.replace(lambda e: isinstance(e, MatrixSlice) and isinstance(e.parent, BlockMatrix), _block_of)

    def _array(self, array):
        if array.role not in self.arrays:
            raise ExportError(f"the exporter holds no array for {array.role}^{array.layer} of the derivation")
        return self.arrays[array.role](array)


def _block_of(piece: MatrixSlice):
    """[b | W][:, 1:] -> W: a slice that is exactly one block of a row of blocks."""
    blocks, start = piece.parent, 0
    full_rows = tuple(piece.rowslice) == (0, blocks.shape[0], 1)
    for block in (blocks.blocks[0, :] if blocks.blockshape[0] == 1 else ()):
        width = block.shape[1]
        if full_rows and tuple(piece.colslice) == (start, start + width, 1):
            return block
        start += width
    raise ExportError(f"the slice {piece} is not one block of {blocks}")


def simplified(expr: MatrixExpr) -> MatrixExpr:
    """Scalars cancelled, transposes taken to the arrays, blocks multiplied out."""
    if expr.has(BlockMatrix):
        return block_collapse(expr)
    return expr.doit()


def push_slices(expr: MatrixExpr) -> MatrixExpr:
    """(W^T δ)[r, :] -> (W[:, r])^T δ: rows of a product taken from its first factor, so that the slice
    refers to an array of the code and not to a per-example vector."""
    def push(piece):
        parent, rows, cols = piece.parent, piece.rowslice, piece.colslice
        if isinstance(parent, MatMul) and tuple(cols) == (0, parent.shape[1], 1):
            first, *rest = [f for f in parent.args if isinstance(f, MatrixExpr)]
            scalars = [f for f in parent.args if not isinstance(f, MatrixExpr)]
            if isinstance(first, Transpose):
                inner = first.arg
                taken = MatrixSlice(inner, (0, inner.shape[0], 1), rows)
                return MatMul(*scalars, Transpose(taken), *rest)
        return piece
    return expr.replace(lambda e: isinstance(e, MatrixSlice), push)


def split_hadamard(expr: MatrixExpr, elementwise: Callable[[MatrixExpr], bool]):
    """(the factors of a top-level Hadamard product that are not elementwise, those that are)."""
    factors = expr.args if isinstance(expr, HadamardProduct) else (expr,)
    kept = [f for f in factors if not elementwise(f)]
    taken = [f for f in factors if elementwise(f)]
    return kept, taken


# --- printing ------------------------------------------------------------------------------------
class ArrayPrinter:
    """Prints simplified matrix expressions over CodeArray as backend expressions and statements."""

    def __init__(self, backend: str):
        self.backend = backend
        self.scalar = printer(backend)
        self.xp = {"numpy": "np", "jax": "jnp", "torch": "torch"}[backend]
        self.axis = "dim" if backend == "torch" else "axis"

    # expressions: (text, number of dimensions of the array it gives)
    def expression(self, expr) -> tuple[str, int]:
        if isinstance(expr, CodeArray):
            return expr.name, 2
        if isinstance(expr, Transpose):
            text, ndim = self.expression(expr.arg)
            return f"{self._atom(expr.arg, text)}.T", ndim
        if isinstance(expr, MatrixSlice):
            return f"{self.expression(expr.parent)[0]}[{self._range(expr.rowslice, expr.parent.shape[0])}, " \
                   f"{self._range(expr.colslice, expr.parent.shape[1])}]", 2
        if isinstance(expr, MatMul):
            return self._product(expr)
        if isinstance(expr, MatAdd):
            terms = [self.expression(term) for term in self._ordered(expr.args)]
            return " + ".join(text for text, _ in terms), max(ndim for _, ndim in terms)
        if isinstance(expr, HadamardProduct):
            factors = [self.expression(f) for f in expr.args]
            return " * ".join(self._atom(f, text) for f, (text, _) in zip(expr.args, factors)), 2
        if isinstance(expr, (ZeroMatrix, OneMatrix)):
            # a constant array: δ^l of an activation with g' = 0 (sign), ∂C/∂a of a loss linear in a
            rows, columns = (self.scalar.doprint(size) for size in expr.shape)
            filler = "zeros" if isinstance(expr, ZeroMatrix) else "ones"
            return f"{self.xp}.{filler}(({rows}, {columns}), dtype={self.xp}.float64)", 2
        raise ExportError(f"the array printer has no rule for {type(expr).__name__}: {expr}")

    def _product(self, expr: MatMul) -> tuple[str, int]:
        scalars = [f for f in expr.args if not isinstance(f, MatrixExpr)]
        matrices = [f for f in expr.args if isinstance(f, MatrixExpr)]
        ndim = 2
        if isinstance(matrices[-1], OneMatrix) and matrices[-1].shape[1] == 1:
            # X 1 sums the columns of X: for X = Y^T, the rows of the array Y
            rest = matrices[:-1]
            if len(rest) == 1 and isinstance(rest[0], Transpose):
                text = f"{self._atom(rest[0].arg, self.expression(rest[0].arg)[0])}.sum({self.axis}=0)"
            else:
                inner = MatMul(*rest) if len(rest) > 1 else rest[0]
                text = f"{self._atom(inner, self.expression(inner)[0])}.sum({self.axis}=1)"
            ndim = 1
        else:
            text = " @ ".join(self._atom(m, self.expression(m)[0]) for m in matrices)
        coefficient = sp.Mul(*scalars)
        if coefficient == 1:
            return text, ndim
        if coefficient == -1:
            return f"-{self._atom(None, text) if len(matrices) > 1 else text}", ndim
        return f"({self.scalar.doprint(coefficient)}) * {text}", ndim

    @staticmethod
    def _ordered(terms):
        """A product of arrays first (it allocates the result), then the rest, in a stable order."""
        return sorted(terms, key=lambda t: (not _allocates(t), str(t)))

    @staticmethod
    def _atom(expr, text: str) -> str:
        simple = isinstance(expr, (CodeArray, MatrixSlice)) or (isinstance(expr, Transpose) and isinstance(expr.arg, CodeArray))
        return text if simple or text.replace("_", "").isalnum() else f"({text})"

    @staticmethod
    def _range(bounds, size) -> str:
        start, stop, step = (sp.sympify(b, strict=True) for b in bounds)
        if step != 1:
            raise ExportError(f"a slice with step {step} is not printed")
        if start == 0 and stop == size:
            return ":"
        if stop == start + 1:
            return str(start)
        return f"{start if start != 0 else ''}:{stop if stop != size else ''}"

    # statements
    def assign(self, name: str, expr: MatrixExpr) -> list[str]:
        """Statements giving ``name`` the value of ``expr``."""
        if isinstance(expr, BlockMatrix):
            return self._assign_blocks(name, expr)
        if self.backend == "numpy" and isinstance(expr, MatAdd):
            first, *rest = self._ordered(expr.args)
            return [f"{name} = {self.expression(first)[0]}"] + [self._add(name, term) for term in rest]
        return [f"{name} = {self.expression(expr)[0]}"]

    def _add(self, name: str, term) -> str:
        text = self.expression(term)[0]
        if text.startswith("-") and isinstance(term, MatMul) and sp.Mul(*[f for f in term.args if not isinstance(f, MatrixExpr)]) == -1:
            return f"{name} -= {text[1:]}"
        return f"{name} += {text}"

    def _assign_blocks(self, name: str, blocks: BlockMatrix) -> list[str]:
        if blocks.blockshape[0] != 1:
            raise ExportError(f"only a row of blocks is printed, not {blocks.blockshape}")
        rows, columns = blocks.shape
        pieces = list(blocks.blocks[0, :])
        if self.backend != "numpy":
            parts = []
            for piece in pieces:
                if isinstance(piece, ZeroMatrix):
                    parts.append(f"{self.xp}.zeros(({rows}, {piece.shape[1]}), dtype={self.xp}.float64)")
                    continue
                text, ndim = self.expression(piece)
                parts.append(f"{text}[:, None]" if ndim == 1 else text)   # a sum over an axis is one call
            return [f"{name} = {self.xp}.{'cat' if self.backend == 'torch' else 'concatenate'}([{', '.join(parts)}], "
                    f"{self.axis}=1)"]
        lines = [f"{name} = np.empty(({rows}, {columns}))"]
        start = 0
        for piece in pieces:
            width = piece.shape[1]
            target = f"{name}[:, {self._range((start, start + width, 1), columns)}]"
            if isinstance(piece, ZeroMatrix):
                lines.append(f"{target} = 0.0")
            else:
                lines.extend(self.assign(target, piece))
            start += width
        return lines


def _allocates(term) -> bool:
    matrices = [f for f in term.args if isinstance(f, MatrixExpr)] if isinstance(term, MatMul) else []
    return len(matrices) > 1
