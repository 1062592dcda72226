"""The erf and erfc that exported NumPy modules carry (W. J. Cody's approximations), against the C
library's, through math.erf and math.erfc, at 10^5 points of the real line, tails included."""
import math

import numpy as np
import pytest

from symbackprop.export import _erf


@pytest.fixture(scope="module")
def cody():
    namespace = {"np": np}
    exec(_erf.ERFC_SOURCE + _erf.ERF_SOURCE, namespace)   # the text an exported module carries
    return namespace["cody_erf"], namespace["cody_erfc"]


def _points():
    rng = np.random.default_rng(1969)
    parts = [
        rng.uniform(-6, 6, 40_000),                    # all three intervals of the approximation, both signs
        rng.normal(scale=1.0, size=20_000),
        rng.uniform(-27, 27, 20_000),                  # the far tails, to where erfc underflows
        np.geomspace(1e-300, 0.46875, 5_000) * rng.choice([-1, 1], 5_000),   # tiny arguments
        np.array([0.46875, 4.0, -0.46875, -4.0, 26.0, 26.5, -26.5]) + rng.uniform(-1e-9, 1e-9, (2_000, 7)).ravel()[:7],
        np.nextafter(np.repeat([0.46875, 4.0], 2), [0, 0, 10, 10]),   # the interval ends, on both sides
    ]
    points = np.concatenate(parts)
    points = np.concatenate([points, rng.uniform(-8, 8, 100_000 - points.size)])
    assert points.size == 100_000
    return points


def test_erf_is_within_a_few_ulp_of_math_erf(cody):
    erf, _ = cody
    x = _points()
    got = erf(x)
    expected = np.array([math.erf(v) for v in x])
    nonzero = expected != 0
    relative = np.abs(got[nonzero] - expected[nonzero]) / np.abs(expected[nonzero])
    assert relative.max() <= 1e-15, (relative.max(), x[nonzero][relative.argmax()])
    assert np.all(got[~nonzero] == 0)


def test_erfc_is_within_a_few_ulp_of_math_erfc_down_to_the_smallest_normal_number(cody):
    _, erfc = cody
    x = _points()
    got = erfc(x)
    expected = np.array([math.erfc(v) for v in x])
    normal = expected >= np.finfo(float).tiny      # below it the result is subnormal: absolute error only
    relative = np.abs(got[normal] - expected[normal]) / expected[normal]
    assert relative.max() <= 1e-15, (relative.max(), x[normal][relative.argmax()])
    assert np.all(np.abs(got[~normal] - expected[~normal]) <= 1e-300)


def test_limits_and_special_values(cody):
    erf, erfc = cody
    with np.errstate(over="raise", divide="raise", invalid="raise"):   # none on the values a branch discards
        assert list(erf(np.array([np.inf, -np.inf, 0.0, -0.0]))) == [1.0, -1.0, 0.0, 0.0]
        assert list(erfc(np.array([np.inf, -np.inf, 30.0, -30.0, 0.0]))) == [0.0, 2.0, 0.0, 2.0, 1.0]
    assert np.isnan(erf(np.array([np.nan]))[0]) and np.isnan(erfc(np.array([np.nan]))[0])
    assert erf(0.5).shape == ()
