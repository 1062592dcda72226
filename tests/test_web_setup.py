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


def _module(source: str):
    import types
    module = types.ModuleType("downloaded")
    exec(compile(source, "downloaded.py", "exec"), module.__dict__)   # the project's own generated code
    return module


def test_a_layer_downloads_for_torch_and_jax_and_agrees_with_numpy():
    """The page offers the NumPy, JAX and torch modules of a layer (not NumPy only): their backward passes agree
    with the NumPy module's, which tests/test_layers_export.py compares with torch autograd."""
    import numpy as np
    from optional_libraries import require
    torch = require("torch", "the downloaded torch module")
    setup = {"mode": "layer", "layer": "batchnorm"}
    modules = {what: _module(_jobs.run("export", {"setup": setup, "what": what})["text"]) for what in ("numpy", "torch")}
    rng = np.random.default_rng(0)
    x, gamma, beta, dout = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=(5, 3))
    _, cache = modules["numpy"].forward(x, gamma, beta)
    want = modules["numpy"].backward(dout, cache)
    as_torch = lambda a: torch.tensor(a, dtype=torch.float64)
    _, cache = modules["torch"].forward(as_torch(x), as_torch(gamma), as_torch(beta))
    got = modules["torch"].backward(as_torch(dout), cache)
    for g, w in zip(got, want):
        assert np.allclose(g.numpy(), w, rtol=1e-12, atol=1e-12)
    assert "import jax" in _jobs.run("export", {"setup": setup, "what": "jax"})["text"]
