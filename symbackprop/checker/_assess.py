"""Deciding one reading of a formula: is the right-hand side what the engine derived for the left?

:func:`assess` reads the formula in one convention, at each concrete layer the left-hand side can
stand for, and decides: a symbolic proof (every size), else evaluation at random sizes and values
(:mod:`._numeric`), else undecided. It returns an :class:`Assessment` that keeps the samples and
the values of the formula, so the diagnosis can compare nearby formulas on the very same numbers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr, MatrixSymbol
from sympy.matrices.expressions.matexpr import MatrixElement

from .. import symbols as S
from ..grammar import _ast as A
from . import _conventions as C
from ._errors import AmbiguousProductError, FormulaShapeError, LayerRangeError
from ._expected import NotDerived, expected
from ._numeric import NotEvaluable, Sample, evaluate, evaluate_entries
from ._reader import Context, RhsReader, _shape
from ._syntax import example_of, script_parts, strip_groups, text_of
from ._target import FormulaReader, Target
from ._symbolic import proved_equal
from ._target import LOSS_GRADIENT
from ._words import Words

SAMPLES = 4          #: random draws per concrete layer
MAX_ATTEMPTS = 12    #: draws tried before giving up on finding finite values
RTOL, ATOL = 1e-7, 1e-9


@dataclass
class Trial:
    """The formula read at one concrete layer."""

    layers: dict
    target: Target
    expected: MatrixExpr
    user: object = None             #: a matrix expression, or a scalar index form
    entry: Optional[tuple] = None   #: (expr, row index, col index, col base, first col) for an index form
    problem: Optional[Exception] = None
    notes: list = field(default_factory=list)      #: conventions applied while reading (Ng's bias row)
    proved: bool = False
    samples: list = field(default_factory=list)
    values: list = field(default_factory=list)     #: the formula's value at each sample (None: not finite)
    misapplied: list = field(default_factory=list)  #: derivatives applied to something other than z


@dataclass
class Assessment:
    """The outcome of one reading: status, method, and what the diagnosis needs."""

    status: str                  #: 'correct', 'incorrect', 'undecided'
    method: Optional[str]
    target: Target
    message: str = ""
    trials: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    counterexample: Optional[dict] = None
    misapplied: list = field(default_factory=list)  #: g'(a^L) and the like, as the diagnosis says them


def assess(formula, convention: C.Convention, network, derivation, seed: int = 0,
           samples: int = SAMPLES, decide_numerically: bool = True) -> Assessment:
    """Read ``formula`` (a parsed :class:`~symbackprop.grammar.Formula`) in ``convention`` and decide it."""
    reader = FormulaReader(formula, convention, network)
    target = _column_slice(reader.target(), network, reader, formula)
    rhs = _accumulation_rhs(formula, target)
    accumulated = rhs is not formula.rhs and target.mode == "sum"
    if rhs is not formula.rhs:      # Δ := Δ + increment: the increment is one example's gradient
        target = dataclasses.replace(target, mode="example")
    target = _settle_mode(target, rhs, convention)
    first_column = _first_column(formula, target, network, reader)
    words = Words(convention, network.depth, l2=network.l2 != 0)
    try:
        assignments = layer_assignments(target, network.depth, words)
    except LayerRangeError as exc:
        return Assessment("incorrect", "layer", target, str(exc))
    trials = None
    for rows, augment in _readings(convention, network):
        # Ng's bias column: activations may carry the bias unit a_0 = 1 (ex4's a1, a2); ex4's vectorised
        # code stacks the examples as rows. The first reading whose shapes fit is the one meant.
        # ex4's Delta1 = Delta1 + d2' * a1 with one example per row: the increment sums over the rows given
        read_as = dataclasses.replace(target, mode="sum") if rows and accumulated else target
        attempt = _read_all(reader, rhs, read_as, assignments, convention, network, derivation, augment, rows,
                            first_column)
        if trials is None:
            trials = attempt
        if not _has_shape_problem(attempt, target):
            trials = attempt
            break
    misapplied = list(dict.fromkeys(text for trial in trials for text in trial.misapplied))
    notes: list[str] = []
    for trial in trials:
        if trial.problem is not None:
            return _problem(trial, target, trials)
        for note in trial.notes:
            if note not in notes:
                notes.append(note)
    shape_problem = _shape_problem(trials, target, words)
    if shape_problem:
        return Assessment("incorrect", "shape", target, shape_problem, trials, notes, misapplied=misapplied)
    for trial in trials:
        trial.proved = proved_equal(trial.user, trial.expected, network, derivation, trial.entry)
    rng = np.random.default_rng(seed)
    counterexample = None
    all_finite = True
    for trial in trials:
        if not decide_numerically and trial.proved:
            continue
        found = _sample_values(trial, derivation, rng, samples)
        if not found:
            all_finite = False
            continue
        if counterexample is None and not trial.proved:
            counterexample = _mismatch(trial, words)
    if counterexample is not None:
        return Assessment("incorrect", "numeric", target, "", trials, notes, counterexample, misapplied)
    if all(trial.proved for trial in trials):
        return Assessment("correct", "symbolic", target, "", trials, notes)
    if not all_finite:
        return Assessment("undecided", None, target,
                          "the formula could not be evaluated to finite numbers at random values", trials, notes)
    return Assessment("correct", "numeric", target, "", trials, notes)


# --- reading ------------------------------------------------------------------------------------------
_SLICE = sp.Symbol(":", integer=True)


def _column_slice(target: Target, network, reader, formula) -> Target:
    """X_{:,j}, as derive prints ng-ml's bias gradient (∂J/∂Θ_{:,0}): one column of the matrix, read as a vector."""
    if _SLICE not in target.indices:
        return target
    indices = target.indices
    if target.quantity != "weight_gradient" or len(indices) != 2 or indices[0] != _SLICE \
            or not isinstance(indices[1], sp.Integer):
        raise reader.error(f"cannot read the slice in {target.written!r}: a slice is read as one column of a "
                           f"weight gradient, e.g. \\partial J / \\partial \\Theta^{{(l)}}_{{:,0}}", formula.lhs)
    if indices[1] == 0 and network.bias != "column":    # ng-ml writes a separate bias as the column j = 0
        return dataclasses.replace(target, quantity="bias_gradient", indices=())
    layer = sp.sympify(target.layer, strict=True)
    if layer.is_Integer and 2 <= int(layer) <= network.depth:
        width = sp.sympify(network.sizes[int(layer) - 2], strict=True)
        if width.is_Integer and int(indices[1]) > int(width):   # j = 0 (the bias column) .. s_l, or 1 .. n
            columns = f"j = 0..{width} (0 is the bias column; Octave's X(:, 1)..X(:, {int(width) + 1}))" \
                if network.bias == "column" else f"j = 1..{width}"
            raise reader.error(f"{target.written!r} names the column j = {indices[1]}, which this weight gradient "
                               f"does not have: its columns are {columns}", formula.lhs)
    return dataclasses.replace(target, indices=(), column=indices[1])


def _sliced(wanted, target: Target, network, reader, formula):
    """The column ``target.column`` of ``wanted`` (Ng's j = 0 is the bias column in a bias-column network)."""
    base = 0 if network.bias == "column" else 1
    column = int(target.column) - base
    width = sp.sympify(wanted.shape[1], strict=True)
    if column < 0 or (width.is_Integer and column >= int(width)):
        raise reader.error(f"column {target.column} is not a column of {target.describe()}", formula.lhs)
    return wanted[:, column:column + 1]


def _accumulation_rhs(formula, target: Target) -> A.Node:
    """Ng's Δ^(l) := Δ^(l) + δ^(l+1) (a^(l))^T is read as its increment."""
    rhs = formula.rhs
    node = strip_groups(rhs)
    if target.mode in ("sum", "mean") and isinstance(node, A.Binary) and node.op == "+" \
            and text_of(node.left, 1000) == text_of(formula.lhs, 1000):
        return node.right
    return rhs


def _settle_mode(target: Target, rhs: A.Node, convention) -> Target:
    """ng-dls's dW and db: vectorised over a batch when the right-hand side uses batch arrays (dZ, A)."""
    if target.mode == "example+reg" and any(isinstance(n, A.Name) and n.name in convention.batch_letters
                                            for n in A.walk(rhs)):
        return dataclasses.replace(target, mode="mean")    # Goodfellow's J over a batch (G, H): the mean
    if convention.name == "nielsen" and target.mode == "example" and _sums_examples(rhs) \
            and target.quantity in ("weight_gradient", "bias_gradient"):
        return dataclasses.replace(target, mode="mean")    # Nielsen's C = (1/n) Σ_x C_x: ∂C/∂w = (1/n) Σ_x ∂C_x/∂w
    if target.mode != "pending":
        return target
    if target.quantity not in ("weight_gradient", "bias_gradient"):
        return Target(target.quantity, target.layer, "example", target.batch, target.indices, target.written,
                      target.bishop_row)
    batch_names = set(convention.batch_letters) | {"dA"}
    uses_batch = any(isinstance(n, A.Name) and n.name in batch_names for n in A.walk(rhs)) or any(
        isinstance(n, A.Sum) and isinstance(n.upper, A.Name) and n.upper.name == "m" for n in A.walk(rhs))
    mode = "mean" if uses_batch else "example"
    return Target(target.quantity, target.layer, mode, target.batch, target.indices, target.written,
                  target.bishop_row)


def _sums_examples(rhs: A.Node) -> bool:
    """A sum over the examples: a Σ whose summand names one example (δ^{x,l}, dZ^{[l](i)})."""
    for node in A.walk(rhs):
        if isinstance(node, A.Sum) and any(isinstance(inner, (A.Script, A.Binary)) and
                                           example_of(script_parts(inner)[2]) is not None
                                           for inner in A.walk(node.body)):
            return True
    return False


def layer_assignments(target: Target, depth: int, words=None) -> list[dict]:
    """The concrete values of the generic layer l to test (at most three), with L = depth."""
    layer = target.layer
    has_l = S.l in layer.free_symbols
    has_L = S.L in layer.free_symbols
    values = range(1, depth + 1) if has_l else [None]
    valid = []
    for value in values:
        layers = {S.L: sp.Integer(depth)}
        if value is not None:
            layers[S.l] = sp.Integer(value)
        concrete = layer.xreplace(layers)
        if not concrete.is_Integer:
            continue
        if _valid(target, int(concrete), depth, generic=has_l and not has_L):
            valid.append(layers)
    if not valid:
        raise LayerRangeError(_no_layer_message(target, depth, words))
    if len(valid) > 3:
        valid = [valid[0], valid[len(valid) // 2], valid[-1]]
    return valid


def _valid(target: Target, layer: int, depth: int, generic: bool) -> bool:
    quantity = target.quantity
    if quantity == "delta":
        if generic and target.bishop_row != "k":
            return 2 <= layer < depth
        return 2 <= layer <= depth
    if quantity in ("weight_gradient", "bias_gradient"):
        return 2 <= layer <= depth
    if quantity == "loss_gradient":
        return layer == depth
    if quantity == "activation_gradient":
        return 1 <= layer <= depth
    return 2 <= layer <= depth


def _no_layer_message(target: Target, depth: int, words=None) -> str:
    if target.quantity == "delta" and S.l in target.layer.free_symbols:
        output = words.layer_value(depth) if words else depth
        return (f"'{target.written}' is the error of a hidden layer, but this {depth}-layer network has no hidden "
                f"layer; its output layer is L = {output}")
    if words is None:
        return f"'{target.written}' names a layer this {depth}-layer network does not have"
    return (f"'{target.written}' names layer {words.layer(target.layer)}, which this {depth}-layer network does "
            f"not have ({words.numbering()})")


def _readings(convention, network) -> list:
    """(rows, augment) readings to try, in order: examples as columns, then as rows (ng-ml); activations
    without, then with Ng's bias unit."""
    augments = (False, True) if network.bias == "column" else (False,)
    rows = (False, True) if convention.name == "ng-ml" else (False,)   # ex4's code, one example per row
    return [(r, a) for r in rows for a in augments]


def _first_column(formula, target: Target, network, reader) -> int:
    """0, or 1 when a condition such as 'for j >= 1' leaves out Ng's bias column j = 0."""
    condition = formula.condition
    if condition is None:
        return 0
    condition = strip_groups(condition)
    column = target.indices[1] if len(target.indices) == 2 else None
    if isinstance(condition, A.Binary) and isinstance(condition.left, A.Name) and isinstance(condition.right, A.Number) \
            and column is not None and condition.left.name == str(column):
        bound = (condition.op, condition.right.text)
        if bound in ((">=", "1"), (">", "0"), ("!=", "0"), ("~=", "0")):
            return 1 if network.bias == "column" else 0
    raise reader.error(f"cannot read the condition {text_of(condition)!r}; read is a condition on the column "
                       f"index of the left-hand side, e.g. 'for j >= 1' or ', j \\neq 0'", condition)


def _read_all(reader, rhs, target, assignments, convention, network, derivation, augment, rows=False,
              first_column=0) -> list:
    trials = []
    for layers in assignments:
        trial = _read_at(reader, rhs, target, layers, convention, network, derivation, augment, rows, first_column)
        trials.append(trial)
        if trial.problem is not None:
            break
    return trials


def _has_shape_problem(trials, target) -> bool:
    return any(isinstance(t.problem, FormulaShapeError) for t in trials) or \
        (all(t.problem is None for t in trials) and bool(_shape_problem(trials, target)))


def _read_at(reader, rhs, target, layers, convention, network, derivation, augment=False, rows=False,
             first_column=0) -> Trial:
    concrete = int(target.layer.xreplace(layers))
    resolved = target.resolved(concrete, network.depth)
    if rows and not resolved.batch and resolved.quantity not in ("weight_gradient", "bias_gradient"):
        resolved = dataclasses.replace(resolved, batch=True, rows=True)
    bishop_j = None
    if convention.index_layers:
        bishop_j = concrete - 1 if target.bishop_row == "k" else concrete
    context = Context(convention, network, layers, resolved, bishop_j, augment=augment, rows=rows,
                      derivation=derivation)
    try:
        wanted = expected(derivation, resolved)
    except NotDerived as exc:
        return Trial(layers, resolved, None, problem=LayerRangeError(str(exc)))
    if target.column is not None:
        wanted = _sliced(wanted, resolved, network, reader, reader.formula)
    trial = Trial(layers, resolved, wanted)
    if target.indices:      # the left-hand side's indices run over the rows (and columns) of the quantity
        offset = 1 if network.bias == "column" and resolved.quantity == "weight_gradient" else 0
        context.ranges[target.indices[0]] = wanted.shape[0]
        if len(target.indices) > 1:
            context.ranges[target.indices[1]] = wanted.shape[1] - offset
    try:
        value = RhsReader(reader, context).value(rhs)
    except (FormulaShapeError, LayerRangeError, AmbiguousProductError) as exc:
        trial.problem = exc
        return trial
    trial.notes = list(context.notes)
    trial.misapplied = list(context.misapplied)
    if target.indices:
        trial.user = value
        trial.entry = _entry_form(value, target, resolved, context, reader, rhs, network, first_column)
    else:
        trial.user = value
    return trial


def _entry_form(value, target, resolved, context, reader, rhs, network, first_column=0):
    if isinstance(value, MatrixExpr):
        raise reader.error("the left-hand side names one entry (it has indices), the right-hand side a "
                           "whole vector or matrix; index the right-hand side too", rhs)
    indices = target.indices
    if not isinstance(indices[0], sp.Symbol) or any(not isinstance(index, (sp.Symbol, sp.Integer)) for index in indices):
        raise reader.error("index the left-hand side's rows with a letter, e.g. \\delta_j or D_{i0}", rhs)
    row = indices[0]
    col = indices[1] if len(indices) > 1 else None
    expected_cols = 2 if resolved.quantity == "weight_gradient" else 1
    if len(indices) != expected_cols:
        raise reader.error(f"{resolved.describe()} has {expected_cols} ind{'ices' if expected_cols > 1 else 'ex'}; "
                           f"the left-hand side has {len(indices)}", rhs)
    stray = {s for s in sp.sympify(value, strict=True).free_symbols if s.is_integer and isinstance(s, sp.Symbol)
             and len(s.name) == 1 and s not in indices} - {S.m}
    stray = {s for s in stray if any(s in e.free_symbols for e in sp.sympify(value, strict=True).atoms(MatrixElement))}
    if stray:
        names = ", ".join(sorted(map(str, stray)))
        raise reader.error(f"the index {names} appears on the right-hand side but not on the left, and no "
                           f"\\sum runs over it", rhs)
    bias_column = network.bias == "column" and resolved.quantity == "weight_gradient"
    base = 0 if bias_column else 1      # column c of the matrix is index j = c + base (Ng's j = 0: the bias)
    if isinstance(col, sp.Integer) and not 0 <= int(col) - base < _columns_of(resolved, context):
        raise reader.error(f"the left-hand side's column {col} is not a column of {resolved.describe()}", rhs)
    return (sp.sympify(value, strict=True), row, col, base, first_column)


def _columns_of(resolved, context) -> int:
    try:
        columns = expected(context.derivation, resolved).shape[1]
    except NotDerived:
        return 0
    value = sp.sympify(columns, strict=True).xreplace(
        {S.width[r]: n for r, n in enumerate(context.network.sizes, start=1) if isinstance(n, int)})
    return int(value) if value.is_Integer else 10 ** 6


def _problem(trial: Trial, target: Target, trials) -> Assessment:
    exc = trial.problem
    if isinstance(exc, FormulaShapeError):
        return Assessment("incorrect", "shape", target, str(exc), trials)
    if isinstance(exc, AmbiguousProductError):
        return Assessment("undecided", "ambiguous", target, str(exc), trials)
    return Assessment("incorrect", "layer", target, str(exc), trials)


def _shape_problem(trials, target, words=None) -> str:
    for trial in trials:
        if trial.entry is not None:
            continue
        user, wanted = trial.user, trial.expected
        describe = words.describe(trial.target) if words else trial.target.describe()
        shape = words.shape if words else _shape
        if not isinstance(user, MatrixExpr) or (user.shape == (1, 1) and wanted.shape != (1, 1)):
            return f"the right-hand side is a scalar, but {describe} is {shape(wanted)}"
        if not (sp.expand(user.shape[0] - wanted.shape[0]) == 0 and sp.expand(user.shape[1] - wanted.shape[1]) == 0):
            return f"the right-hand side is {shape(user)}, but {describe} is {shape(wanted)}"
    return ""


# --- numbers --------------------------------------------------------------------------------------------
def draw(derivation, rng) -> Sample:
    """A random sample: the network's own layer sizes (random widths 2..6 where a size is symbolic,
    neighbouring layers differing), m 2..4, λ random when the network has one."""
    network = derivation.network
    sizes, previous = {}, None
    for layer, given in enumerate(network.sizes, start=1):
        if isinstance(given, int):           # the user's network, at its own sizes
            sizes[layer] = given
            previous = given
            continue
        choices = [n for n in range(2, 7) if n != previous]
        sizes[layer] = int(rng.choice(choices))
        previous = sizes[layer]
    m = int(rng.integers(2, 5))
    lam = float(rng.uniform(0.3, 1.7)) if network.l2 != 0 else 0.0
    return Sample(derivation, rng, sizes, m, lam)


def _input_name(symbol, words) -> str:
    from ._numeric import label
    if words is None or symbol.role == LOSS_GRADIENT:
        return label(symbol)
    extra = " (batch)" if symbol.shape[1] == S.m else ""
    bias = " with bias unit" if symbol.shape[0] == S.width[symbol.layer] + 1 and symbol.role == "a" else ""
    return Words.text_alone(words, symbol) + bias + extra


def value_at(form, trial: Trial, sample: Sample, entry_of_user: bool = False):
    """The value of the formula (``entry_of_user``) or of a matrix form at a sample, as an array."""
    if entry_of_user and trial.entry is not None:
        expr, row, col, base, first = trial.entry
        rows = sample.size(trial.expected.shape[0])
        cols = sample.size(trial.expected.shape[1]) if col is not None else 1
        return evaluate_entries(expr, sample, row, col, rows, cols, base, first)
    value = evaluate(form, sample)
    if not isinstance(value, np.ndarray):
        value = np.array([[value]])
    return value


def _sample_values(trial: Trial, derivation, rng, samples: int) -> bool:
    attempts = 0
    while len(trial.samples) < samples and attempts < MAX_ATTEMPTS:
        attempts += 1
        sample = draw(derivation, rng)
        try:
            user = value_at(trial.user, trial, sample, entry_of_user=True)
            wanted = value_at(trial.expected, trial, sample)
        except (NotEvaluable, TypeError, ValueError, IndexError, ZeroDivisionError, OverflowError, KeyError):
            continue
        if not (np.all(np.isfinite(wanted)) and np.all(np.isfinite(user[~np.isnan(user)] if trial.entry else user))):
            continue
        trial.samples.append(sample)
        trial.values.append((user, wanted))
    return bool(trial.samples)


def close(user: np.ndarray, wanted: np.ndarray) -> bool:
    """Equal within rounding; an index form's uncompared entries (NaN: Ng's bias column) are skipped."""
    if user.shape != wanted.shape:
        return False
    mask = ~np.isnan(user)
    scale = max(1.0, float(np.max(np.abs(wanted[mask]))) if mask.any() else 1.0)
    return bool(np.allclose(user[mask], wanted[mask], rtol=RTOL, atol=ATOL * scale))


def _mismatch(trial: Trial, words=None) -> Optional[dict]:
    for sample, (user, wanted) in zip(trial.samples, trial.values):
        if not close(user, wanted):
            return counterexample(trial, sample, user, wanted, words)
    return None


def counterexample(trial: Trial, sample: Sample, user, wanted, words=None) -> dict:
    """Sizes, layers and arrays named as the notation names them (Θ^(1), s_1, n^[0], l counted from 0)."""
    if words is None:
        layers = {str(k): int(v) for k, v in trial.layers.items()}
        sizes = {f"n^{layer}": n for layer, n in sample.sizes.items()}
    else:
        layers = {words.notation.layer_name(str(k)): words.layer_value(int(v)) for k, v in trial.layers.items()}
        sizes = {words.size_name(layer): n for layer, n in sample.sizes.items()}
    inputs = {}
    for symbol, value in sample.used.items():
        if value.size <= 64:
            inputs[_input_name(symbol, words)] = np.round(value, 6).tolist()
    used = _symbols_used(trial.user, trial.expected)
    kept = {name: n for (layer, n), name in zip(sample.sizes.items(), sizes) if S.width[layer] in used}
    example = {"layers": layers, "sizes": kept or sizes}
    if S.m in used:          # m and λ only where the formula or the correct one has them
        example["m"] = sample.m
    if S.lam in used:
        example["lambda"] = round(sample.lam, 6)
    example.update({
        "inputs": inputs,
        "expected": np.round(wanted, 9).tolist(),
        "formula": np.round(np.where(np.isnan(user), 0.0, user), 9).tolist(),
    })
    return example


def _symbols_used(*values) -> set:
    """The sizes n^l, m and λ that ``values`` depend on, also through the shapes of their arrays."""
    used = set()
    for value in values:
        if not isinstance(value, sp.Basic):
            continue
        used |= value.free_symbols | value.atoms(sp.Indexed)
        for array in value.atoms(MatrixSymbol):
            for size in array.shape:
                size = sp.sympify(size, strict=True)
                used |= size.free_symbols | size.atoms(sp.Indexed)
    return used
