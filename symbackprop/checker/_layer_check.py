r"""``check --layer``: a hand-derived gradient of a layer, written with the layer's own names, judged.

The formula names one gradient on its left (``dx``, ``dgamma``, ``dQ``, ``dS``: ``d`` + an array of the
layer, CS231n's convention; ``dout`` is the upstream gradient) and is written in one of three forms:

* NumPy: ``np.sum(dout * xhat, axis=0)``, ``x.T``, ``@``, ``*`` (elementwise), ``**``, ``np.sqrt``,
  ``(A * dA).sum(axis=1, keepdims=True)``;
* LaTeX: ``\sum_n``, ``\hat{x}``, ``\gamma``, ``\sigma^2``, ``\sqrt{...}``, ``A^T``, juxtaposition;
* the layer language's index form: ``dx[n, d] = ... sum(dout[k, d] * xhat[k, d], k) ...``.

Both are parsed by the project's grammars (the formula grammar, the layer language) and evaluated at small
concrete sizes and random values (:mod:`._layer_values`); the expected gradient is the derivation's own.
An incorrect formula is compared with nearby formulas that are themselves DERIVED: the layer re-derived with
one of its quantities held constant ("dx with mu treated as a constant"), and the correct gradient scaled by
a size (a missing or doubled 1/√D, a missing 1/N) or transposed.
"""
from __future__ import annotations

import math
import re
import time
from functools import lru_cache

import numpy as np
import sympy as sp

from ..errors import ParseError, SymbackpropError
from ..grammar import parse_formula
from ..grammar import _ast as A
from ..layers._printing import text as index_text
from ._errors import FormulaShapeError
from ._layer_formula import FUNCTIONS, FormulaValues, _squeezed
from ._layer_values import Labelled, _table, concrete_sizes, sample
from ._verdict import Verdict

SAMPLES = 3
RTOL, ATOL = 1e-7, 1e-9
_INDEX_FORM = re.compile(r"^\s*(d\w+)\s*\[([^\]]*)\]\s*=(.*)$", re.S)


#: seconds the held-constant diagnosis may spend: each candidate derives the layer again and evaluates it,
#: which for a convolutional model takes seconds to a minute each (a wrong formula waited ten minutes)
HELD_BUDGET_SECONDS = 30.0


@lru_cache(maxsize=32)
def _derivation(layer):
    from ..layers import derive_layer
    return derive_layer(layer)


@lru_cache(maxsize=64)
def _held_constant(layer, quantities: tuple):
    """The layer with ``quantities`` inputs (held constant), derived; None if that layer is not valid."""
    from ..layers import Layer
    lines = layer.text.splitlines()
    for quantity in quantities:
        sizes = ", ".join(map(str, layer.arrays[quantity].sizes))
        lines[layer.definition(quantity).line - 1] = f"input {quantity}[{sizes}]"
    try:
        held = Layer.parse("\n".join(lines) + "\n", f"{layer.name}-{'-'.join(quantities)}-constant")
    except Exception:       # noqa: BLE001 -- a layer that no longer validates has no such nearby formula
        return None
    return _derivation(held)


def check_layer(formula: str, layer, notation: str = "cs231n", seed: int = 0, given=None,
                subject: str = "") -> Verdict:
    """Judge ``formula`` (one gradient of ``layer``, see the module docstring) against the derivation.
    ``given``: inputs or upstream gradients drawn otherwise than at random (see :func:`._layer_values.sample`);
    ``subject``: how the verdict names what the gradient belongs to (default: the layer NAME)."""
    if not isinstance(formula, str) or not formula.strip():
        raise ParseError("an empty formula; write e.g. dgamma = np.sum(dout * xhat, axis=0)", str(formula), 0)
    derivation = _derivation(layer)
    upstream = derivation.upstream[0]
    index_form = _INDEX_FORM.match(formula)
    if index_form:
        target = index_form.group(1)
        evaluate = _index_form_evaluator(formula, layer, target, index_form)
    else:
        parsed = parse_formula(formula, notation, functions=FUNCTIONS)
        target = _target_name(parsed.lhs, formula)
        latex = "\\" in formula or "{" in formula

        def evaluate(values):
            return FormulaValues(formula, values, latex).value(parsed.rhs)
    names = {g.name for g in derivation.gradients.values() if g.kind != "output"}
    if target not in names:
        raise ParseError(f"the left-hand side {target!r} is no gradient of {_subject_name(subject, layer)}; "
                         f"read are: {', '.join(sorted(names))}", formula, 0)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(SAMPLES):
        values = sample(layer, derivation, rng, given)
        values["_upstream"] = upstream
        draws.append(values)
    quantity = _describe(target, layer, subject)
    trials = []
    for values in draws:
        try:
            trials.append((values, evaluate(values)))
        except FormulaShapeError as exc:
            transposed = [] if index_form else _transposed_operand(formula, evaluate, draws, target)
            if transposed:
                return Verdict("incorrect", formula, notation, quantity, "shape",
                               "this is " + "; equivalently, ".join(transposed) + f" ({exc})", matches=tuple(transposed))
            return Verdict("incorrect", formula, notation, quantity, "shape", str(exc))
    expected = [values[target] for values, _ in trials]
    if all(_close(user, want) for (_, user), want in zip(trials, expected)):
        return Verdict("correct", formula, notation, quantity, "numeric",
                       f"correct: equal to the derived {target} at random values ({_sizes_text(layer)}, "
                       f"{SAMPLES} draws)")
    shape = _shape_problem(trials[0][1], expected[0], target)
    if shape:
        return Verdict("incorrect", formula, notation, quantity, "shape", shape)
    matches, untried = _nearby(layer, target, trials, rng, _users_names(formula, derivation))
    if not index_form:
        matches += _transposed_operand(formula, evaluate, draws, target)
        matches += _unflipped_kernel(formula, evaluate, draws, target, layer)
    diagnosis = ("this is " + "; equivalently, ".join(matches)) if matches else \
        (f"it matches none of the nearby formulas tried (a quantity held constant, a missing or doubled scale 1/√ "
         f"of a size, 1/N, a sign, a transpose{untried}); see the counterexample")
    values, user = trials[0]
    counterexample = {"sizes": _sizes_used(formula, values, target, layer), "expected": _entries(expected[0]),
                      "formula": _entries(user), "shape": list(np.shape(_array(user)))}
    return Verdict("incorrect", formula, notation, quantity, "numeric", diagnosis, counterexample,
                   matches=tuple(matches))


def _target_name(lhs: A.Node, formula: str) -> str:
    if isinstance(lhs, A.Name):
        return lhs.name
    if isinstance(lhs, A.Script) and isinstance(lhs.base, A.Name) and isinstance(lhs.sub, A.Name) and lhs.sup is None:
        return f"{lhs.base.name}_{lhs.sub.name}"      # dA_prev, dW_Q: the grammar reads the underscore as a subscript
    raise ParseError("the left-hand side names the gradient, e.g. dx, dgamma, dQ (d + the array's name), "
                     "or dx[n, d] in the index form", formula, getattr(lhs, "column", 0))


def _describe(target: str, layer, subject: str = "") -> str:
    name = target[1:]
    kind = layer.arrays[name].kind if name in layer.arrays else "array"
    return f"{target} = ∂C/∂{name}, the gradient of the {kind} {name} of {subject or 'the layer ' + layer.name}"


def _subject_name(subject: str, layer) -> str:
    """What the gradients belong to, for a message: the layer NAME, or the model (without its cost)."""
    return subject.split(" (")[0] if subject else f"the layer {layer.name}"


def _sizes_used(formula: str, values: dict, target: str, layer) -> dict:
    """The sizes a counterexample names: those of the gradient's axes, of the arrays the formula reads (dout:
    the upstream gradient), and those it writes (N)."""
    words = set(re.findall(r"[A-Za-z_]\w*", formula)) | {target}
    if "dout" in words:
        words |= {"d" + name for name in layer.outputs}
    labels = {label for word in words if isinstance(values.get(word), Labelled) for label in values[word].labels}
    sizes = concrete_sizes(layer)
    return {name: n for name, n in sizes.items() if name in labels or name in words} or sizes


def _sizes_text(layer) -> str:
    return ", ".join(f"{k} = {v}" for k, v in concrete_sizes(layer).items())


def _aligned_user(user, want):
    user = _squeezed(user)
    if isinstance(user, Labelled) and isinstance(want, Labelled) and user.labels == want.labels:
        return user.array
    if not isinstance(user, Labelled) and not isinstance(want, Labelled):
        return np.asarray(user)
    return None


def _close(user, want) -> bool:
    array = _aligned_user(user, want)
    target = want.array if isinstance(want, Labelled) else np.asarray(want)
    return array is not None and array.shape == target.shape and bool(
        np.all(np.isfinite(array)) and np.allclose(array, target, rtol=RTOL, atol=ATOL))


def _shape_problem(user, want, target) -> str:
    def shape(value):
        return f"[{', '.join(value.labels)}]" if isinstance(value, Labelled) else "a scalar"
    if isinstance(user, Labelled) and isinstance(want, Labelled) and set(user.labels) == set(want.labels) \
            and user.labels != want.labels:
        if np.allclose(user.array.T, want.array, rtol=RTOL, atol=ATOL):
            return f"this is {target} transposed: the formula is {shape(user)}, {target} is {shape(want)}"
        return f"the formula is {shape(user)}, but {target} is {shape(want)}: transpose it"
    if _aligned_user(user, want) is None:
        return f"shapes do not fit: the formula is {shape(user)}, but {target} is {shape(want)}"
    return ""


def _users_names(formula: str, derivation) -> dict:
    """The derivation's names the formula writes otherwise: CS231n's ``dout`` for the upstream gradient dy."""
    written = set(re.findall(r"[A-Za-z_]\w*", formula))
    upstream = derivation.upstream[0] if derivation.upstream else None
    return {upstream: "dout"} if upstream and upstream not in written and "dout" in written else {}


def _nearby(layer, target, trials, rng, names=None) -> tuple:
    """Descriptions of the derived nearby formulas the user's values equal at every draw, and what was left
    untried for lack of time ('' when nothing was)."""
    found = []
    quantities = [q for q in layer.quantities if q not in layer.outputs]
    singles = [(q,) for q in quantities]
    pairs = [(a, b) for i, a in enumerate(quantities) for b in quantities[i + 1:]]
    found += _missing_term(layer, target, trials, names or {})
    start, tried = time.perf_counter(), 0
    for held_set in singles + (pairs if len(singles) > 0 else []):
        if len(held_set) == 2 and found:
            break                    # pairs only when no single quantity held constant matched
        if time.perf_counter() - start > HELD_BUDGET_SECONDS:
            skipped = len(singles) + len(pairs) - tried
            return found + _scaled(layer, target, trials), \
                f"; not every quantity held constant: {skipped} of them were left untried after {HELD_BUDGET_SECONDS:.0f} s"
        found += _held_match(layer, target, trials, held_set)
        tried += 1
    return found + _scaled(layer, target, trials), ""


def _held_match(layer, target, trials, quantities) -> list:
    """[the description] when the user's values are the gradient with ``quantities`` held constant."""
    held = _held_constant(layer, quantities)
    if held is None or target[1:] not in {g.of for g in held.gradients.values()}:
        return []
    sizes = {k: int(v) for k, v in concrete_sizes(layer).items()}
    gradient = held.gradient(target[1:])
    array = held.layer.arrays[gradient.of]
    wants = [_table(gradient.final, gradient.indices, array.sizes, _with_gradients(held, values), sizes)
             for values, _ in trials]
    if not all(_close(user, want) for (_, user), want in zip(trials, wants)) or \
            all(_close(want, values[target]) for (values, _), want in zip(trials, wants)):
        return []
    which = " and ".join(_role(layer, q) for q in quantities)
    one = len(quantities) == 1
    return [f"{target} with {which} treated as {'a constant' if one else 'constants'} ({'its' if one else 'their'} "
            f"dependence on {target[1:]} left out of the chain rule)"]


def _role(layer, quantity: str) -> str:
    """``quantity``, or 'the normaliser s' when it is a sum that another quantity is divided by (softmax's s)."""
    definition = layer.definition(quantity)
    if not isinstance(definition.rhs, sp.Sum):
        return quantity
    for other in layer.definitions:
        for power in other.rhs.atoms(sp.Pow):
            if power.exp.is_negative and isinstance(power.base, sp.Indexed) and str(power.base.base) == quantity:
                return f"the normaliser {quantity}"
    return quantity


def _missing_term(layer, target, trials, names) -> list:
    """[the description] when the user's values are the derived gradient with one of its terms left out.

    The terms are those of the derivation's own expression: of a sum at its top, or of a sum that is a
    factor of a product at its top (``A (dA - Σ_k A dA)``: the term ``-Σ_k A dA`` of the bracket)."""
    derivation = _derivation(layer)
    gradient = next((g for g in derivation.gradients.values() if g.name == target), None)
    if gradient is None:
        return []
    final = gradient.final
    candidates = []
    for add in ([final] if isinstance(final, sp.Add) else
                [f for f in final.args if isinstance(f, sp.Add)] if isinstance(final, sp.Mul) else []):
        for term in add.args:
            candidates.append((term, final.xreplace({add: add - term})))
    sizes = {k: int(v) for k, v in concrete_sizes(layer).items()}
    array = layer.arrays[gradient.of]
    for term, without in candidates[:8]:
        wants = [_table(without, gradient.indices, array.sizes, values, sizes) for values, _ in trials]
        if all(_close(user, want) for (_, user), want in zip(trials, wants)):
            text = _matrix_text(_renamed(term, names), gradient.indices)
            kind = "the rowsum term" if "rowsum" in text else "the term"
            return [f"{target} with {kind} {text} left out ({kind} is missing)"]
    return []


def _renamed(expr, names: dict):
    """``expr`` with its arrays named as the user names them (dy -> dout)."""
    bases = {base: sp.IndexedBase(names[str(base)]) for base in expr.atoms(sp.IndexedBase) if str(base) in names}
    return expr.xreplace(bases) if bases else expr


def _matrix_text(expr, indices) -> str:
    """A term of a gradient over ``indices`` in the matrix words of the checker (A ⊙ dA, rowsum(...), Xᵀ);
    the index form as derive prints it (``xhat[n, d]*Σ_k (dy[k, d]*xhat[k, d])``) where those words do not fit."""
    def text(e):
        if isinstance(e, sp.Indexed):
            if tuple(e.indices) == tuple(indices) or tuple(e.indices) == tuple(indices[:len(e.indices)]):
                return str(e.base)
            if len(indices) == 2 and tuple(e.indices) == tuple(indices[::-1]):
                return f"{e.base}ᵀ"
            return None
        if isinstance(e, sp.Sum) and len(e.limits) == 1 and len(indices) >= 1:
            k = e.limits[0][0]
            row = tuple(indices[:-1]) + (k,)
            factors = sp.Mul.make_args(e.function)
            if all(isinstance(f, sp.Indexed) and tuple(f.indices) == row for f in factors):
                return "rowsum(" + " ⊙ ".join(str(f.base) for f in factors) + ")"
            return None
        if isinstance(e, sp.Mul):
            coefficient, rest = e.as_coeff_Mul()
            parts = [text(f) for f in sp.Mul.make_args(rest)]
            if None in parts:
                return None
            body = " ⊙ ".join(parts)
            if coefficient == -1:
                return "−" + body
            return body if coefficient == 1 else f"{coefficient}·{body}"
        return None
    return text(expr) or index_text(expr)


def _transposed_operand(formula, evaluate, draws, target) -> list:
    """[the description] when the formula gives the derived gradient with one of its arrays transposed
    (dK = dS Q/√d for dSᵀ Q/√d): the user's own formula, evaluated with that array's transpose."""
    names = dict.fromkeys(re.findall(r"[A-Za-z_]\w*", formula))
    found = []
    for name in names:
        if name == target or not all(isinstance(v.get(name), Labelled) and v[name].array.ndim == 2 for v in draws):
            continue
        swapped = []
        for values in draws:
            changed = dict(values)
            changed[name] = Labelled(values[name].array.T, values[name].labels[::-1])
            try:
                swapped.append(evaluate(changed))
            except (FormulaShapeError, ParseError):
                break
        if len(swapped) == len(draws) and all(_close(user, values[target]) for user, values in zip(swapped, draws)):
            found.append(f"{target} with {name} transposed: the formula is right with {name}ᵀ in place of {name}")
    return found


def _window_axes(layer) -> dict:
    """Array name -> the axes it is read along by a window index: an index of a bare subscript of that array
    that also appears inside an arithmetic subscript (``h*S + i``) of the same equation (a kernel's i, j)."""
    axes = {}
    for definition in layer.definitions:
        refs = list(definition.rhs.atoms(sp.Indexed))
        shifted = {s for ref in refs for sub in ref.indices if not sub.is_Symbol for s in sub.free_symbols}
        for ref in refs:
            found = tuple(axis for axis, sub in enumerate(ref.indices) if sub.is_Symbol and sub in shifted)
            if found:
                axes.setdefault(ref.base.label.name, found)
    return axes


def _unflipped_kernel(formula, evaluate, draws, target, layer) -> list:
    """[the description] when the formula gives the derived gradient with a kernel flipped in its window axes
    (dA_prev = conv(pad(dZ), W) for conv(pad(dZ), rot180(W))): the user's formula, evaluated with the flip."""
    found = []
    names = set(re.findall(r"[A-Za-z_]\w*", formula))
    for name, axes in _window_axes(layer).items():
        if name == target or name not in names or len(axes) < 2:
            continue
        flipped = []
        for values in draws:
            value = values.get(name)
            if not isinstance(value, Labelled):
                break
            changed = dict(values)
            changed[name] = Labelled(np.flip(value.array, axis=axes), value.labels)
            try:
                flipped.append(evaluate(changed))
            except (FormulaShapeError, ParseError):
                break
        if len(flipped) == len(draws) and all(_close(user, values[target]) for user, values in zip(flipped, draws)):
            found.append(f"{target} with the kernel {name} not flipped: the formula is right with {name} flipped in "
                         f"both window axes (rot180({name})) in place of {name}")
    return found


def _with_gradients(held, values) -> dict:
    """``values`` with the held-constant derivation's own intermediate gradients (dxhat, dvar, ...)."""
    sizes = {k: int(v) for k, v in concrete_sizes(held.layer).items()}
    out = {k: v for k, v in values.items()}
    for gradient in held.gradients.values():
        if gradient.kind in ("output",):
            continue
        array = held.layer.arrays[gradient.of]
        out[gradient.name] = _table(gradient.final, gradient.indices, array.sizes, out, sizes)
    return out


def _scaled(layer, target, trials) -> list:
    """The correct gradient times a constant: which constant, in the layer's sizes."""
    ratios = []
    for values, user in trials:
        array = _aligned_user(user, values[target])
        want = values[target].array if isinstance(values[target], Labelled) else np.asarray(values[target])
        if array is None or array.shape != want.shape:
            return []
        mask = np.abs(want) > 1e-6
        if not mask.any():
            return []
        ratio = array[mask] / want[mask]
        if not np.allclose(ratio, ratio[0], rtol=1e-6) or not np.allclose(array, ratio[0] * want, rtol=1e-6,
                                                                          atol=ATOL):
            return []             # also where the gradient is 0 (relu's x <= 0): not a multiple there
        ratios.append(float(ratio[0]))
    if not np.allclose(ratios, ratios[0], rtol=1e-6):
        return []
    c = ratios[0]
    sizes = concrete_sizes(layer)
    names = {"-1": -1.0, "2": 2.0, "1/2": 0.5}        # a number first; a size of that length is said beside it
    for size, n in sizes.items():
        names.update({f"√{size}": math.sqrt(n), f"1/√{size}": 1 / math.sqrt(n), size: float(n), f"1/{size}": 1 / n})
    found = [_scale_text(target, name, sizes) for name, value in names.items() if math.isclose(c, value, rel_tol=1e-6)]
    if not found:
        return [f"{target} times {_distinct(c)}"]
    if len(found) > 1:        # the sizes are small numbers: 2 is also H here
        return [f"{found[0]} (or {found[1]}: this check's sizes are {_sizes_text(layer)})"]
    return found


def _scale_text(target: str, name: str, sizes) -> str:
    if name.startswith("√"):
        return f"{target} times {name}: the factor 1/{name} is missing"
    if name.startswith("1/√"):
        return f"{target} times {name}: the factor {name} is doubled (there twice)"
    if name == "-1":
        return f"-{target}: the sign is wrong"
    if name in sizes:
        return f"{target} times {name}: the factor 1/{name} is missing"
    return f"{target} times {name}"


def _distinct(c: float) -> str:
    """c with as many digits as it takes not to read as a round number (1.000003, never "1")."""
    for digits in range(6, 17):
        text = f"{c:.{digits}g}"
        if float(text) == round(c, 15) or not math.isclose(float(text), round(float(text))) or abs(c) > 1e6:
            return text
    return repr(c)


def _array(value) -> np.ndarray:
    return value.array if isinstance(value, Labelled) else np.asarray(value, dtype=float)


def _entries(value, limit: int = 4) -> list:
    """The first rows and columns of a value, as a list of rows (a vector is one row, a scalar [[v]])."""
    array = _array(value)
    array = np.atleast_2d(array.reshape(array.shape[0], -1) if array.ndim > 2 else array)
    return [[round(float(v), 9) for v in row[:limit]] for row in array[:limit]]


# --- the index form, read by the layer language ---------------------------------------------------------
def _ranged(indices: str, layer, target) -> str:
    """The left-hand side's indices with the range of each (``a in Hp``) where the layer has derived sizes: an
    index that the right reads only with index arithmetic (a convolution's dA_prev[m, a, r, k]) gets its
    range from the gradient's own array."""
    if not getattr(layer, "derived_sizes", None) or target[1:] not in layer.arrays:
        return indices
    parts = [part.strip() for part in indices.split(",")]
    sizes = layer.arrays[target[1:]].sizes
    if len(parts) != len(sizes) or any(" in " in part or not part.isidentifier() for part in parts):
        return indices
    return ", ".join(f"{part} in {size}" for part, size in zip(parts, sizes))


def _index_form_evaluator(formula, layer, target, match):
    """``dx[n, d] = ...``: the layer language reads the equation, with every gradient the formula names
    (dout, dA, dS) declared as an input under a private name."""
    from ..layers import Layer
    derivation = _derivation(layer)
    gradients = {g.name: g for g in derivation.gradients.values()}
    output = layer.outputs[0]
    aliases = {"dout": "d" + output}
    names = set(re.findall(r"[A-Za-z_]\w*", match.group(3))) - {target}
    declared = []
    rename = {}
    for name in sorted(names):
        real = aliases.get(name, name)
        if real in gradients or real == "d" + output:
            private = f"grad_{real[1:]}"
            rename[name] = private
            array = layer.arrays[real[1:]]
            pad = " pad 0" if getattr(layer, "derived_sizes", None) else ""   # a window's gradient: reads outside are 0
            declared.append(f"input {private}[{', '.join(f'{size}{pad}' for size in array.sizes)}]")
    rhs = re.sub(r"[A-Za-z_]\w*", lambda m: rename.get(m.group(0), m.group(0)), match.group(3))
    lhs = f"checked_{target[1:]}[{_ranged(match.group(2), layer, target)}]"
    text = layer.text.rstrip("\n") + "\n" + "\n".join(declared) + f"\n{lhs} = {rhs.strip()}\noutput checked_{target[1:]}\n"
    try:
        augmented = Layer.parse(text, f"{layer.name}-check")
    except SymbackpropError as exc:     # the layer language's message, in the user's names
        message = re.sub(r"^line \d+: ", "", str(exc).splitlines()[0])
        back = {private: name for name, private in rename.items()}
        back[f"checked_{target[1:]}"] = target
        message = re.sub(r"\b(checked_\w+|grad_\w+)\b", lambda m: back.get(m.group(0), m.group(0)), message)
        raise ParseError(message, formula, 0) from None
    definition = augmented.definition(f"checked_{target[1:]}")
    array = augmented.arrays[definition.name]

    def evaluate(values):
        sizes = {k: int(v) for k, v in concrete_sizes(layer).items()}
        env = dict(values)
        for name, private in rename.items():
            env[private] = values[aliases.get(name, name)]
        result = _table(definition.rhs, definition.indices, array.sizes, env, sizes)
        want = layer.arrays[target[1:]]
        if tuple(map(str, want.sizes)) != result.labels:
            raise FormulaShapeError(f"the left-hand side {target}[{match.group(2)}] runs over "
                                    f"[{', '.join(result.labels)}], but {target} is [{', '.join(map(str, want.sizes))}]")
        return result
    return evaluate
