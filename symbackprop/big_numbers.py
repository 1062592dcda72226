"""Numbers too long to print whole (an exact kink such as z = (314159/100000)^1000, with thousands of digits).

Python refuses to turn an integer of more than 4300 digits into text, and a derivation would be unreadable
with one in it anyway. A number past :data:`MAX_DIGITS` is printed as an exact power when it is one
(``(314159/100000)^{1000}``), otherwise by its leading digits and an ellipsis (``1.4742…·10^{497}``), so a
display never passes for a shorter exact value.
"""
from __future__ import annotations

import math

import sympy as sp
from sympy.printing.str import StrPrinter

MAX_DIGITS = 60        #: integers longer than this (numerator or denominator) are printed in a short form
_LEADING = 6


def _digits(n: int) -> int:
    return max(1, math.floor(abs(n).bit_length() * math.log10(2)) + 1)


def is_big(number) -> bool:
    return isinstance(number, sp.Rational) and max(_digits(number.p), _digits(number.q)) > MAX_DIGITS


def _power_of(n: int):
    """(root, exponent) with n = root**exponent and exponent > 1 maximal, or None (n > 1)."""
    found = sp.perfect_power(n)
    return found if found else None


def short_form(number: sp.Rational, latex: bool) -> str:
    """The printed form of a number for which :func:`is_big` holds."""
    sign = "-" if number < 0 else ""
    p, q = abs(number.p), number.q
    p_power = _power_of(p) if p > 1 else (1, 0)
    q_power = _power_of(q) if q > 1 else (1, 0)
    if p_power and q_power:
        exponent = math.gcd(p_power[1], q_power[1]) if p > 1 and q > 1 else max(p_power[1], q_power[1])
        if exponent > 1:
            base = sp.Rational(sp.integer_nthroot(p, exponent)[0], sp.integer_nthroot(q, exponent)[0])
            if base ** exponent == abs(number) and not is_big(base):
                if latex:
                    body = (f"\\frac{{{base.p}}}{{{base.q}}}" if base.q != 1 else str(base.p))
                    return f"{sign}\\left({body}\\right)^{{{exponent}}}"
                return f"{sign}{base if base.q == 1 else f'({base})'}^{exponent}"
    mantissa, exponent = _scientific(p, q)
    if latex:
        return f"{sign}{mantissa}\\ldots \\cdot 10^{{{exponent}}}"
    return f"{sign}{mantissa}…·10^{exponent}"


def _scientific(p: int, q: int) -> tuple:
    """The leading digits and the power of ten of p/q (both positive), without converting either to text."""
    exponent = _digits(p) - _digits(q)
    if p * 10 ** max(0, -exponent) < q * 10 ** max(0, exponent):
        exponent -= 1
    scaled = (p * 10 ** max(0, _LEADING - 1 - exponent)) // (q * 10 ** max(0, exponent - _LEADING + 1))
    text = str(scaled)[:_LEADING]
    return f"{text[0]}.{text[1:]}", exponent


def code_form(number: sp.Rational, power: str) -> str:
    """A number for which :func:`is_big` holds, as a code literal: the exact power when it is one
    (``(314159/100000)**1000``, ``power`` the language's operator), else its float64 value to 17 digits
    (what the code would compute with anyway)."""
    text = short_form(number, latex=False)
    if "…" not in text:
        return "(" + text.replace("^", power) + ")"
    try:
        value = float(number)
    except OverflowError:
        value = math.inf
    if math.isfinite(value):
        return repr(value)
    return ("-" if number < 0 else "") + "1e999"     # beyond float64: inf in Python, NumPy and Octave alike


class _SafeStrPrinter(StrPrinter):
    """SymPy's str printer with :func:`code_form` for numbers too long for Python's int-to-text limit."""

    def _print_Rational(self, expr):
        return code_form(expr, "**") if is_big(expr) else super()._print_Rational(expr)

    def _print_Integer(self, expr):
        return code_form(expr, "**") if is_big(expr) else super()._print_Integer(expr)


def sstr(expr) -> str:
    """``sympy.sstr`` that never fails on a very long number (see :func:`code_form`)."""
    return _SafeStrPrinter().doprint(expr)
