r"""The steps of a window's backward pass: shifted deltas solved, the stride's dilation, the flipped kernel.

For ``y[n, p, q, f] = Σ_{i,j,c} x[n, pS + i − P, qS + j − P, c] W[i, j, c, f] + b[f]`` the chain rule
gives ``dx[n, h, w, c] = Σ dy[n, p, q, f] Σ_{i,j} W[i, j, c, f] δ(h, pS + i − P) δ(w, qS + j − P)``.

1. *shifted deltas solved* (:func:`._windows.contract_shifted`): the window index is pinned,
   i = h + P − pS, and its range becomes the Iverson bracket [0 ≤ h + P − pS ≤ K − 1], kept.
2. *dilated upstream gradient* (stride S > 1 only): the sum over p of terms in pS is a sum over
   t = pS of the upstream gradient with S − 1 zeros between its entries,
   dy⁽ˢ⁾[n, t, ...] = Σ_p dy[n, p, ...] δ(t, pS).
3. *full convolution with the flipped kernel*: a bracket [0 ≤ c + h − t ≤ K − 1] on a summed t with
   coefficient −1 is a convolution. With u = K − 1 − (c + h − t) the bracket is the range of u and
   W[c + h − t] is W[K − 1 − u], the kernel flipped; t's own range becomes a bracket on the read of
   dy at h + u + c − K + 1: zero padding of dy by K − 1 − c.

Each is found in the algebra (the coefficient −1 of a summed index in a bracket's value), not looked
up by layer name; a layer without shifted deltas never reaches this module.
"""
from __future__ import annotations

import sympy as sp

from ..derivation import Rule, Step
from ..errors import LayerSpecError
from . import _calculus as C
from . import _windows as Win
from ._derivation import gradient_name


class WindowMixin:
    """Adds :meth:`_window_contraction` and :meth:`_window_target` to the layer engine."""

    def _window_target(self, indices) -> tuple:
        """The indices ∂C/∂x is written with when x's first use reads it with index arithmetic: the bare
        letters kept, a fresh letter (h, w, ...) for each arithmetic slot."""
        if all(isinstance(i, sp.Symbol) for i in indices):
            return indices
        taken = {str(s) for i in indices for s in sp.sympify(i, strict=True).free_symbols}
        taken |= {str(s) for d in self.layer.definitions for s in C.all_symbols(d.rhs) | set(d.indices)}
        out = []
        for index in indices:
            if isinstance(index, sp.Symbol):
                out.append(index)
                continue
            new = C.index(next((x for x in "hwabrsvz" if x not in taken), "")) if any(
                x not in taken for x in "hwabrsvz") else C.fresh(taken)
            taken.add(str(new))
            out.append(new)
        return tuple(out)

    def _window_contraction(self, name, expr):
        gradients = {gradient_name(n) for n in self.layer.arrays}
        auxiliary = []
        solved = self._solve_shifted(name, expr, gradients, auxiliary)
        if solved == expr:
            return expr
        self.step(name, solved, Rule.WINDOW,
                  "each sum over a window index pinned by a Kronecker delta of shifted indices keeps one term, "
                  "the index solved from the delta; the sum's limits become an Iverson bracket [lo ≤ · ≤ hi] on "
                  "the solved value, kept")
        terms = [_flatten(term) for term in sp.Add.make_args(solved)]
        if any(term is None for term in terms):
            return solved
        if not all(_shared_kernel(body, limits) for body, limits in terms):
            # the weight each window gives a position depends on the window (max pooling's routing): no
            # convolution; the solved form, a sum over the windows that contain the position, is the result
            self.window_auxiliary[name] = ()
            if solved.has(Win.FirstMax):
                self.step(name, solved, Rule.ROUTING,
                          "each window that contains the position passes its upstream gradient on only if the "
                          "position is the window's first maximum (row-major order on ties, as torch)")
            return solved
        dilated, predilated = [], {a[0] for a in auxiliary}
        for position, (body, limits) in enumerate(terms):
            body, limits, made = self._dilate(name, body, limits, auxiliary)
            terms[position] = (body, limits)
            dilated += made
        current = sp.Add(*[sp.Sum(body, *limits) if limits else body for body, limits in terms])
        if dilated:
            self._dilation_steps(name, current, [a for a in auxiliary if a[0] not in predilated],
                                 "a sum over p of terms in S·p is a sum over t = S·p of the dilated upstream gradient")
        flipped, any_flip, kernels = [], False, set()
        for body, limits in terms:
            body, limits, done, names = _flip(body, limits)
            any_flip |= done
            kernels |= names
            flipped.append(sp.Sum(body, *limits) if limits else body)
        if any_flip:
            current = sp.Add(*flipped)
            what = (f"the kernel {', '.join(sorted(kernels))} flipped in every window axis (W[K − 1 − u])"
                    if kernels else "a constant kernel (flipping changes nothing)")
            self.step(name, current, Rule.FLIP,
                      f"a bracket [0 ≤ c + h − t ≤ K − 1] with t summed is a convolution: with u = K − 1 − (c + h − t) "
                      f"it is the range of u, and the sum is a full convolution of the upstream gradient (zero-padded: "
                      f"the bracket on its read is its range) with {what}")
        current = self._reversed(name, current, gradients | {a[0] for a in auxiliary})
        self.window_auxiliary[name] = tuple(auxiliary)
        return current

    def _solve_shifted(self, name, expr, gradients, auxiliary):
        """``expr`` with every Kronecker delta of shifted indices solved, the upstream gradient dilated first
        where a stride and a dilation leave no index of coefficient ±1; LayerSpecError for a delta left."""
        solved = Win.contract_shifted(expr, gradients)
        if solved.has(sp.KroneckerDelta):
            # δ(h, S·p + R·i − P) with stride and dilation > 1: no index has coefficient ±1 until the upstream
            # gradient is dilated (t = S·p), after which t is pinned
            predilated = self._predilate(solved, gradients, auxiliary)
            if predilated is not None:
                self._dilation_steps(name, predilated, auxiliary,
                                     "a sum over p of a Kronecker delta in S·p is a sum over t = S·p of the dilated "
                                     "upstream gradient")
                solved = Win.contract_shifted(predilated, gradients | {a[0] for a in auxiliary})
        if solved.has(sp.KroneckerDelta):
            (delta, *_) = sorted(solved.atoms(sp.KroneckerDelta), key=sp.default_sort_key)
            raise LayerSpecError(f"{gradient_name(name)}: the Kronecker delta δ({delta.args[0]}, {delta.args[1]}) of a "
                                 f"read with index arithmetic cannot be solved: no summed index has coefficient ±1 in "
                                 f"it; a strided read derives with a window index beside the strided one, read once "
                                 f"per term (x[n, S*p + R*i - P])")
        return solved

    def _reversed(self, name, current, upstream):
        """``current`` with every window index the upstream gradient reads backwards (h − R·i) reversed."""
        terms, any_reversed = [], False
        for term in sp.Add.make_args(current):
            flat = _flatten(term)
            body, limits, done = _reverse(*flat, upstream) if flat is not None else (term, [], False)
            any_reversed |= done
            terms.append(sp.Sum(body, *limits) if limits else body)
        if not any_reversed:
            return current
        current = sp.Add(*terms)
        self.step(name, current, Rule.FLIP,
                  "a window index read backwards in the upstream gradient (h − R·i, R the dilation) runs forwards "
                  "with u = K − 1 − i: the upstream gradient is read in a window of step R, zero-padded (the "
                  "bracket on its read is its range), and the kernel is flipped in that axis")
        return current

    def _dilation_steps(self, name, current, auxiliary, what):
        for aux in auxiliary:
            definition = sp.Eq(sp.IndexedBase(aux[0], real=True)[aux[1]], aux[2], evaluate=False)
            self.steps.append(Step(name, definition, Rule.DILATION,
                                   f"{aux[0]}: the upstream gradient {aux[6]} with S − 1 zeros between its "
                                   f"entries along the strided axes (the dilated δ)"))
        self.step(name, current, Rule.DILATION,
                  f"{what} ({', '.join(a[0] for a in auxiliary)}), zero where S does not divide t")

    def _predilate(self, expr, gradients, auxiliary):
        """Each summed p that a Kronecker delta holds as S·p (S > 1) and an upstream gradient reads bare
        becomes t = S·p over the dilated upstream gradient; None when no term has one."""
        terms, changed = [], False
        for term in sp.Add.make_args(expr):
            flat = _flatten(term)
            if flat is None:
                return None
            body, limits = flat
            for position, (var, lo, hi) in enumerate(limits):
                deltas = [d for d in body.atoms(sp.KroneckerDelta) if var in d.free_symbols]
                strides = {abs(sp.expand(d.args[0] - d.args[1]).coeff(var)) for d in deltas}
                refs = [r for r in body.atoms(sp.Indexed) if var in r.free_symbols]
                if (lo != 0 or len(strides) != 1 or len(refs) != 1 or list(refs[0].indices).count(var) != 1
                        or refs[0].base.label.name not in gradients | {a[0] for a in auxiliary}):
                    continue
                (stride,) = strides
                window = {v for v, _, _ in limits} - {var}
                if not (stride.is_Integer and stride > 1) or not all(window & d.free_symbols for d in deltas):
                    continue     # a strided read with no window index (x[n, 2*p]) would read dy_dil bare: refused
                ref = refs[0]
                axis = list(ref.indices).index(var)
                if any(var in other.free_symbols for other in sp.Mul.make_args(body)
                       if other is not ref and not isinstance(other, sp.KroneckerDelta)):
                    continue
                t = C.fresh(C.all_symbols(body) | {v for v, _, _ in limits}, "t")
                dilated = {a[0]: a for a in auxiliary}
                source = dilated[ref.base.label.name][6] if ref.base.label.name in dilated else ref.base.label.name
                base_name = f"{source}_dil"
                steps = dict(dilated[base_name][4]) if base_name in dilated else {}
                steps[axis] = (stride, lo, hi)
                new_ref = sp.IndexedBase(base_name, real=True)[tuple(t if k == axis else i
                                                                       for k, i in enumerate(ref.indices))]
                body = body.xreplace({ref: new_ref}).xreplace({var: t / stride})
                limits = [*limits[:position], (t, 0, stride * hi), *limits[position + 1:]]
                auxiliary[:] = [a for a in auxiliary if a[0] != base_name] + [_dilation(base_name, source, steps,
                                                                                     self.layer)]
                changed = True
            terms.append(sp.Sum(body, *limits) if limits else body)
        return sp.Add(*terms) if changed else None

    def _dilate(self, name, body, limits, auxiliary):
        """Each summed p read as S·p (S > 1) by a bracket becomes t = S·p over the dilated upstream gradient."""
        made = []
        for bracket in sorted(body.atoms(Win.InRange), key=sp.default_sort_key):
            value = sp.expand(bracket.args[0])
            for position, (var, lo, hi) in enumerate(limits):
                stride = -value.coeff(var)
                if not (stride.is_Integer and stride > 1):
                    continue
                refs = [r for r in body.atoms(sp.Indexed) if var in r.indices]
                dilated = {a[0]: a for a in auxiliary}
                upstream = {gradient_name(o) for o in self.layer.arrays}
                if len(refs) != 1 or refs[0].base.label.name not in upstream | set(dilated):
                    continue
                ref = refs[0]
                axis = list(ref.indices).index(var)
                t = C.fresh(C.all_symbols(body) | {v for v, _, _ in limits}, "t")
                rest = body.xreplace({ref: sp.Symbol("_ref")}).xreplace({var: t / stride})
                values = [sp.expand(e) for r in rest.atoms(sp.Indexed) for e in r.indices]
                values += [sp.expand(b.args[0]) for b in rest.atoms(Win.InRange)]
                if any(not e.coeff(t).is_integer for e in values if t in e.free_symbols):
                    continue                          # p is read other than as S·p: no dilation
                source = dilated[ref.base.label.name][6] if ref.base.label.name in dilated else ref.base.label.name
                base_name = f"{source}_dil"
                strides = dict(dilated[base_name][4]) if base_name in dilated else {}
                strides[axis] = (stride, lo, hi)
                new_ref = sp.IndexedBase(base_name, real=True)[tuple(t if k == axis else i
                                                                       for k, i in enumerate(ref.indices))]
                body = rest.xreplace({sp.Symbol("_ref"): new_ref})
                limits = [*limits[:position], (t, 0, stride * (hi - lo)), *limits[position + 1:]]
                auxiliary[:] = [a for a in auxiliary if a[0] != base_name] + [_dilation(base_name, source, strides,
                                                                                     self.layer)]
                made.append(var)
                break
        return body, limits, made


def _dilation(name, source, strides, layer):
    """The record of the dilated upstream gradient ``name``: (name, indices, definition, sizes, strides,
    axes, source), its definition Σ_p dy[..., p, ...] δ(t, S·p) over every dilated axis."""
    sizes = list(layer.arrays[source[1:]].sizes)
    dims = [C.index(letter) for letter in "abcdefg"[:len(sizes)]]
    inner = {axis: C.index(f"p{axis}") for axis in strides}
    ref = sp.IndexedBase(source, real=True)[tuple(inner.get(k, d) for k, d in enumerate(dims))]
    body = ref * sp.Mul(*[sp.KroneckerDelta(dims[axis], stride * inner[axis]) for axis, (stride, _, _) in strides.items()])
    definition = sp.Sum(body, *[(inner[axis], lo, hi) for axis, (_, lo, hi) in sorted(strides.items())])
    new_sizes = tuple(strides[k][0] * (s - 1) + 1 if k in strides else s for k, s in enumerate(sizes))
    return (name, tuple(dims), definition, new_sizes, tuple(sorted(strides.items())), tuple(sorted(strides)), source)


def _shared_kernel(body, limits) -> bool:
    """Whether every factor that depends on a summed index is a reference or a bracket (a kernel shared by the
    windows, as a convolution's W): a routing mask that depends on the window (FirstMax) is not."""
    summed = {var for var, _, _ in limits}
    return all(isinstance(f, (sp.Indexed, Win.InRange)) or not (f.free_symbols & summed)
               for f in sp.Mul.make_args(body))


def _flatten(term):
    """(body, limits) of a product of factors and sums (nested anyhow) as one sum over all its bound indices;
    None when a sum sits inside something other than a product (bound indices are distinct, from the
    engine's renaming, so Σ_h (A Σ_w B) is Σ_h Σ_w A B)."""
    if isinstance(term, sp.Sum):
        inner = _flatten(term.function)
        if inner is None:
            return None
        return inner[0], inner[1] + list(term.limits)
    if isinstance(term, sp.Mul):
        body, limits = [], []
        for factor in term.args:
            inner = _flatten(factor)
            if inner is None:
                return None
            body.append(inner[0])
            limits += inner[1]
        return sp.Mul(*body), limits
    if term.has(sp.Sum):
        return None
    return term, []


def _flip(body, limits):
    """Every bracket [0 ≤ c + h − t ≤ K − 1] with t summed (coefficient −1) becomes the range of u = K − 1 −
    (c + h − t); t's own range becomes a bracket on the value t takes."""
    done, kernels = False, set()
    for bracket in sorted(body.atoms(Win.InRange), key=sp.default_sort_key):
        value, lo, hi = bracket.args
        if lo != 0:
            continue
        value = sp.expand(value)
        for position, (var, vlo, vhi) in enumerate(limits):
            if value.coeff(var) != -1:
                continue
            rest = value + var                        # value = rest - var
            u = C.fresh(C.all_symbols(body) | {v for v, _, _ in limits}, "u")
            replacement = sp.expand(u + rest - hi)     # var = u + rest - hi
            body = body.xreplace({bracket: sp.Integer(1)}).xreplace({var: replacement})
            body = body * Win.InRange(replacement, vlo, vhi)
            limits = [*limits[:position], (u, 0, hi), *limits[position + 1:]]
            kernels |= {r.base.label.name for r in body.atoms(sp.Indexed)
                        if any(sp.expand(i).coeff(u) == -1 for i in r.indices)}
            done = True
            break
    return body, limits, done, kernels


def _reverse(body, limits, upstream):
    """Every summed window index i (from 0) that an upstream gradient reads with a negative coefficient
    (dy[h − R·i], the dilated convolution's backward) replaced by K − 1 − u, so that it reads forwards."""
    done = False
    for position, (var, lo, hi) in enumerate(limits):
        refs = [r for r in body.atoms(sp.Indexed) if r.base.label.name in upstream]
        if lo != 0 or not any(sp.expand(i).coeff(var).is_negative for r in refs for i in r.indices):
            continue
        u = C.fresh(C.all_symbols(body) | {v for v, _, _ in limits}, "u")
        body = body.xreplace({var: hi - u}).replace(
            lambda e: isinstance(e, Win.InRange), lambda e: Win.InRange(sp.expand(e.args[0]), *e.args[1:]))
        limits = [*limits[:position], (u, 0, hi), *limits[position + 1:]]
        done = True
    return body, limits, done
