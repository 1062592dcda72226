"""The page's setup follows the CLI's rules for options left out: an empty loss, λ or bias follows the notation's
course (ex4's network without one), and options given win."""
from symbackprop.web import _jobs

def test_an_empty_page_is_ex4_and_a_notation_brings_its_course():
    ex4 = _jobs.run("check", {"setup": {}, "formula": "delta^(L) = a^(L) - y"})
    assert ex4["result"]["verdict"] == "correct"
    # the DLS course's own line: separate b, no L2 (under ex4's lambda = 1 it is missing the L2 term)
    dls = _jobs.run("check", {"setup": {"notation": "ng-dls"}, "formula": "dW1 = 1/m * np.dot(dZ1, X.T)"})
    assert dls["result"]["verdict"] == "correct"
    given = _jobs.run("check", {"setup": {"notation": "ng-dls", "l2": "1"}, "formula": "dW1 = 1/m * np.dot(dZ1, X.T)"})
    assert given["result"]["verdict"] == "incorrect"

def test_a_bad_bias_is_named_with_what_is_accepted():
    answer = _jobs.run("derive", {"setup": {"bias": "sideways"}})
    assert answer["field"] == "bias" and "separate, column" in answer["error"]
