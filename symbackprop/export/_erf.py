"""The error function for exported NumPy modules, which import NumPy only (NumPy has no erf).

Method: W. J. Cody, "Rational Chebyshev approximations for the error function", Mathematics of
Computation 23 (1969), pp. 631-638, as in his SPECFUN routine CALERF (Argonne, 1990):

* |x| <= 0.46875: erf(x) = x R1(x^2), R1 a rational function of degree (4, 4);
* 0.46875 < |x| <= 4: erfc(|x|) = exp(-x^2) R2(|x|), R2 of degree (8, 8);
* |x| > 4: erfc(|x|) = exp(-x^2)/|x| (1/sqrt(pi) + x^-2 R3(x^-2)), R3 of degree (5, 5);

and erf = 1 - erfc, erfc(-x) = 2 - erfc(x). exp(-x^2) is formed as exp(-s^2) exp(-(x - s)(x + s))
with s = x rounded down to a multiple of 1/16, so that x^2 is not rounded before exp (Cody's
device, which keeps the relative error of erfc in the far tail at a few ulp). The coefficients are
Cody's, to the 18 digits he published; in double precision the relative error is a few units in
the last place over the real line (tests/test_erf.py compares with math.erf and math.erfc at
10^5 points, tails included). Every branch is evaluated on arguments clamped to its interval, so
nothing overflows or warns on the branches np.where discards.

:data:`NUMPY_HELPERS` holds the source text copied into an exported module that calls erf/erfc.
"""
from __future__ import annotations

ERFC_SOURCE = '''
def cody_erfc(x):
    """erfc(x) = 1 - erf(x), elementwise, by W. J. Cody's rational Chebyshev approximations
    (Math. Comp. 23, 1969, 631-638; SPECFUN CALERF): a few ulp of relative error on the real line."""
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    # |x| <= 0.46875: 1 - x R1(x^2)
    s = np.minimum(y, 0.46875)
    s2 = s * s
    num = 1.85777706184603153e-1 * s2
    den = s2
    for a, b in ((3.16112374387056560e00, 2.36012909523441209e01), (1.13864154151050156e02, 2.44024637934444173e02),
                 (3.77485237685302021e02, 1.28261652607737228e03)):
        num = (num + a) * s2
        den = (den + b) * s2
    near = 1.0 - s * (num + 3.20937758913846947e03) / (den + 2.84423683343917062e03)
    # 0.46875 < |x| <= 4: exp(-x^2) R2(|x|)
    m = np.clip(y, 0.46875, 4.0)
    num = 2.15311535474403846e-8 * m
    den = m
    for c, d in ((5.64188496988670089e-1, 1.57449261107098347e01), (8.88314979438837594e00, 1.17693950891312499e02),
                 (6.61191906371416295e01, 5.37181101862009858e02), (2.98635138197400131e02, 1.62138957456669019e03),
                 (8.81952221241769090e02, 3.29079923573345963e03), (1.71204761263407058e03, 4.36261909014324716e03),
                 (2.05107837782607147e03, 3.43936767414372164e03)):
        num = (num + c) * m
        den = (den + d) * m
    middle = _exp_minus_square(m) * (num + 1.23033935479799725e03) / (den + 1.23033935480374942e03)
    # |x| > 4: exp(-x^2)/|x| (1/sqrt(pi) + x^-2 R3(x^-2)); beyond 26.6 erfc underflows to 0
    t = np.clip(y, 4.0, 27.0)
    u = 1.0 / (t * t)
    num = 1.63153871373020978e-2 * u
    den = u
    for p, q in ((3.05326634961232344e-1, 2.56852019228982242e00), (3.60344899949804439e-1, 1.87295284992346047e00),
                 (1.25781726111229246e-1, 5.27905102951428412e-1), (1.60837851487422766e-2, 6.05183413124413191e-2)):
        num = (num + p) * u
        den = (den + q) * u
    ratio = u * (num + 6.58749161529837803e-4) / (den + 2.33520497626869185e-3)
    far = _exp_minus_square(t) * (5.6418958354775628695e-1 - ratio) / t
    far = np.where(y >= 26.7, 0.0, far)
    positive = np.where(y <= 0.46875, near, np.where(y <= 4.0, middle, far))
    return np.where(x < 0, 2.0 - positive, positive)


def _exp_minus_square(y):
    """exp(-y^2) without rounding y^2 first: y = s + r with s a multiple of 1/16 (Cody)."""
    s = np.trunc(y * 16.0) / 16.0
    return np.exp(-s * s) * np.exp(-(y - s) * (y + s))
'''

ERF_SOURCE = '''
def cody_erf(x):
    """erf(x), elementwise: x R1(x^2) for |x| <= 0.46875, else sign(x) (1 - erfc(|x|)), with
    W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969): a few ulp relative error."""
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    s = np.minimum(y, 0.46875)
    s2 = s * s
    num = 1.85777706184603153e-1 * s2
    den = s2
    for a, b in ((3.16112374387056560e00, 2.36012909523441209e01), (1.13864154151050156e02, 2.44024637934444173e02),
                 (3.77485237685302021e02, 1.28261652607737228e03)):
        num = (num + a) * s2
        den = (den + b) * s2
    near = x * (num + 3.20937758913846947e03) / (den + 2.84423683343917062e03)
    return np.where(y <= 0.46875, near, np.sign(x) * (1.0 - cody_erfc(y)))
'''

#: Helper name -> source text, for the NumPy backend's helper table.
NUMPY_HELPERS = {"cody_erf": ERF_SOURCE, "cody_erfc": ERFC_SOURCE}
#: cody_erf calls cody_erfc. (Named apart from erf, which a kernel's docstring formula writes.)
NEEDS = {"cody_erf": ("cody_erfc",)}
