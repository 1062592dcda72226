"""`symbackprop serve` over HTTP: the page's API answers every request, within its budget, with a message
and never a traceback; a derivation past its budget is stopped; memory stays flat; loopback only.

Needs the serve extra (starlette, uvicorn); without it the tests skip, except under CI=true, where they fail.
Every request goes to 127.0.0.1, bounded in number and in time.
"""
import concurrent.futures
import contextlib
import importlib.util
import io
import os
import socket
import threading
import time

import numpy as np
import pytest

from serve_helpers import listening_addresses, process_tree, request, rss_mib, running_server
from symbackprop.cli import main

#: the budget of the server the robustness tests load (a tiny derivation takes 0.2 s on an idle core; the machine may
#: be shared); the functional tests' server has the default, 30 s
TIME_LIMIT = 10
# about 4x the 10 s limit even on a quiet machine (200 layers took 8 s of CPU there: too close to the limit)
SLOW = {"layers": ",".join(["2"] * 800), "hidden": "tanh(z)"}
SMALL = {"layers": "3,4,2", "hidden": "tanh", "output": "identity", "loss": "quadratic", "l2": "0", "bias": "separate"}


def _needs_serve_extra():
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        reason = f"the serve extra is not installed ({', '.join(missing)}): pip install 'symbackprop[serve]'"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI=true requires it")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server():
    _needs_serve_extra()
    with running_server(time_limit=30) as (url, process):
        yield url, process


@pytest.fixture(scope="module")
def strict_server():
    """A server with a short budget, for slow, malformed and many requests."""
    _needs_serve_extra()
    with running_server(time_limit=TIME_LIMIT) as (url, process):
        yield url, process


def _cli_error(*args) -> str:
    """What the CLI prints after 'error: ' for ``args``, which must be bad input (exit code 2)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(list(args))
    assert code == 2, stderr.getvalue()
    return stderr.getvalue().strip().split(": error: ", 1)[1]


def test_the_page_and_ex4s_derivation_by_default(server):
    url, _ = server
    status, page = request(url, "/")
    assert status == 200 and '<script src="/static/page.js"' in page
    for path in ("/", "/static/page.js", "/static/page.css"):     # offline: nothing is fetched from elsewhere
        text = request(url, path)[1]
        assert "http:" not in text and "https:" not in text and "@import" not in text and "url(" not in text
    status, answer = request(url, "/api/derive", {"setup": {}})
    assert status == 200
    assert answer["title"].startswith("400-25-10 network, hidden sigmoid, output sigmoid, loss cross-entropy, lambda = 1")
    assert answer["notation"] == "ng-ml"
    assert answer["html"].count('<li class="step"') >= 30 and answer["html"].count("<math") >= 30
    # the chain rule of step 5 sums over the output units k: its expansion writes out the terms k = 1, 2, ..., s_L
    assert "5" in answer["expansions"] and "<mo>&#x022EF;</mo>" in answer["expansions"]["5"]
    status, answer = request(url, "/api/derive", {"setup": {"mode": "layer", "layer": "batchnorm", "notation": "cs231n"}})
    assert status == 200 and answer["title"] == "Backward pass of the layer batchnorm, derived step by step"
    assert answer["expansions"] and "dout" in answer["html"]


def test_a_bad_entry_has_the_clis_message_its_caret_and_its_field(server):
    url, _ = server
    status, answer = request(url, "/api/derive", {"setup": {"hidden": "tanh(z"}})
    assert status == 400 and answer["field"] == "hidden"
    first, text, caret = answer["error"].split("\n")
    assert first == _cli_error("derive", "--hidden", "tanh(z")
    assert text.strip() == "tanh(z" and caret.index("^") == text.index("(")
    status, answer = request(url, "/api/derive", {"setup": {"layers": "400,-25,10"}})
    assert status == 400 and answer["field"] == "layers"
    assert answer["error"] == _cli_error("derive", "--layers", "400,-25,10")
    layer = "input x[N, D]\ny[n, d] = x[n, d] *\n"
    status, answer = request(url, "/api/derive", {"setup": {"mode": "text", "text": layer}})
    assert status == 400 and answer["field"] == "text" and answer["error"].startswith("line 2: ")
    assert answer["error"].splitlines()[-1].strip() == "^"


def test_each_pasted_line_is_judged(server):
    url, _ = server
    lines = ["% ex4's backward pass, one example at a time",
             "d3 = a3 - y;",                                               # Ng's ex4: delta3 = a3 - y
             "d2 = (Theta2(:,2:end)' * d3) .* sigmoidGradient(z2);",       # Ng's ex4: the hidden delta
             "d2 = (Theta2(:,2:end)' * d3) .* a2;",                        # a2 in place of sigmoid's a2 .* (1 - a2)
             "d3 = (a3 - y;"]
    status, answer = request(url, "/api/check", {"setup": {}, "text": "\n".join(lines)})
    assert status == 200
    verdicts = {r["line"]: r for r in answer["results"]}
    assert sorted(verdicts) == [2, 3, 4, 5]
    assert [verdicts[n]["verdict"] for n in (2, 3, 4, 5)] == ["correct", "correct", "incorrect", "unreadable"]
    wrong = verdicts[4]
    example = wrong["counterexample"]
    assert not np.allclose(example["expected"], example["formula"])
    unreadable = verdicts[5]["error"].splitlines()
    assert unreadable[-2].strip() == "d3 = (a3 - y;" and unreadable[-1].index("^") == unreadable[-2].index("(")
    assert answer["summary"] == {"correct": 2, "incorrect": 1, "undecided": 0, "unreadable": 1, "failed": 0}


def test_the_exported_module_computes_the_gradient_of_its_cost(server):
    url, _ = server
    status, answer = request(url, "/api/export", {"setup": SMALL, "what": "numpy"})
    assert status == 200 and answer["filename"] == "gradients_numpy.py"
    namespace = {}
    exec(compile(answer["text"], answer["filename"], "exec"), namespace)    # the module, as a user imports it
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2)]
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    cost, gradients = namespace["cost_and_gradients"]([p.copy() for p in params], X, Y)
    for index, param in enumerate(params):          # central finite differences of the module's own cost
        numeric = np.zeros_like(param)
        for position in np.ndindex(param.shape):
            shifted = [p.copy() for p in params]
            shifted[index][position] += 1e-6
            up = namespace["cost_and_gradients"](shifted, X, Y)[0]
            shifted[index][position] -= 2e-6
            down = namespace["cost_and_gradients"](shifted, X, Y)[0]
            numeric[position] = (up - down) / 2e-6
        assert np.allclose(gradients[index], numeric, atol=1e-6)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_the_torch_and_jax_modules_compute_the_gradient_of_their_cost(server, backend):
    library = pytest.importorskip(backend, reason=f"{backend} is not installed (the autodiff extra)")
    url, _ = server
    status, answer = request(url, "/api/export", {"setup": SMALL, "what": backend})
    assert status == 200 and answer["filename"] == f"gradients_{backend}.py"
    if backend == "jax":
        library.config.update("jax_enable_x64", True)
        array = library.numpy.asarray
    else:
        array = lambda values: library.tensor(values, dtype=library.float64)
    namespace = {}
    exec(compile(answer["text"], answer["filename"], "exec"), namespace)
    cost_and_gradients = namespace["cost_and_gradients"]
    rng = np.random.default_rng(2)
    params = [rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2)]
    X, Y = array(rng.normal(size=(5, 3))), array(rng.normal(size=(5, 2)))
    cost = lambda values: float(cost_and_gradients([array(v) for v in values], X, Y)[0])
    gradients = [np.asarray(g) for g in cost_and_gradients([array(p) for p in params], X, Y)[1]]
    for index, param in enumerate(params):          # central finite differences of the module's own cost
        for position in np.ndindex(param.shape):
            up, down = [p.copy() for p in params], [p.copy() for p in params]
            up[index][position] += 1e-6
            down[index][position] -= 1e-6
            assert gradients[index][position] == pytest.approx((cost(up) - cost(down)) / 2e-6, abs=1e-6)


def test_tex_and_pdf(server):
    url, _ = server
    status, answer = request(url, "/api/export", {"setup": SMALL, "what": "tex"})
    assert status == 200 and "\\begin{document}" in answer["text"]
    _, options = request(url, "/api/options")
    if "pdf" in options["exports"]:
        import base64
        status, answer = request(url, "/api/export", {"setup": SMALL, "what": "pdf"})
        assert status == 200 and base64.b64decode(answer["base64"])[:5] == b"%PDF-"


def _concurrent(url, calls, within):
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(request, url, *call) for call in calls]
        done, pending = concurrent.futures.wait(futures, timeout=within)
        assert not pending, f"{len(pending)} requests unanswered after {within} s"
        return [f.result() for f in futures]


def test_twenty_concurrent_requests_slow_and_malformed_all_answered(strict_server):
    url, _ = strict_server
    tiny = lambda n: ("/api/derive", {"setup": {"layers": f"{n},2", "l2": str(n)}})
    calls = [("/api/derive", {"setup": SLOW})] * 2 + [("/api/check", {"setup": {"layers": "2,2"}, "text": "delta^L = a^L - y"}),
        ("/api/derive", None, b"{not json"), ("/api/derive", None, b"[1, 2]"), ("/api/derive", {"setup": {"l2": 1}}),
        ("/api/derive", {"setup": {"colour": "red"}}), ("/api/derive", None, b"x" * 400_000),
        ("/api/export", {"setup": {}, "what": "fortran"}), ("/api/check", {"setup": {}, "text": "d3 = (a3 - y"}),
        ("/api/derive", {"setup": {"hidden": "__import__('os').system('echo hi')"}}),
        *[tiny(n) for n in range(2, 11)],
    ]
    assert len(calls) == 20
    started = time.monotonic()
    answers = _concurrent(url, calls, within=150)
    statuses = [status for status, _ in answers]
    assert statuses[:2] == [504] * 2 and all(a["error"].startswith("took too long: ") for _, a in answers[:2])
    assert statuses[2] == 200
    assert statuses[3:11] == [400, 400, 400, 400, 413, 400, 200, 400]
    assert answers[9][1]["results"][0]["verdict"] == "unreadable"
    assert statuses[11:] == [200] * 9
    assert all(isinstance(a, dict) and "Traceback" not in str(a) for _, a in answers)
    assert time.monotonic() - started < 150
    status, answer = request(url, "/api/derive", {"setup": SMALL})      # still serving, with fresh workers
    assert status == 200 and "3-4-2 network" in answer["title"]


def test_cancel_stops_a_running_derivation(strict_server):
    url, _ = strict_server
    result = {}
    thread = threading.Thread(target=lambda: result.update(answer=request(url, "/api/derive",
                                                                          {"setup": SLOW, "job": "job-to-cancel"})))
    started = time.monotonic()
    thread.start()
    for _ in range(100):      # until the job runs on a worker
        time.sleep(0.2)
        if request(url, "/api/cancel", {"job": "job-to-cancel"})[1]["cancelled"]:
            break
    thread.join(60)
    status, answer = result["answer"]
    assert status == 409 and answer["error"] == "cancelled"
    assert time.monotonic() - started < TIME_LIMIT + 20
    assert request(url, "/api/derive", {"setup": SMALL})[0] == 200


def test_memory_is_flat_over_500_requests(strict_server):
    url, process = strict_server
    calls = [("/api/derive", {"setup": {"layers": f"{2 + n % 5},2", "l2": str(n)}}) if n % 25 == 0 else
             ("/api/check", {"setup": SMALL, "text": f"delta^L = (a^L - y{n}"}) if n % 25 < 10 else
             ("/api/derive", {"setup": {"layers": f"{n},x-1"}}) if n % 25 < 18 else
             ("/api/derive", None, b"{" * (n % 50 + 1))
             for n in range(560)]

    def batch(part):
        answers = _concurrent(url, part, within=300)
        assert all(status in (200, 400) for status, _ in answers), {status for status, _ in answers}

    batch(calls[:60])                 # warm up: both workers have derived and checked
    before = rss_mib(process_tree(process.pid))
    for start in range(60, 560, 20):
        batch(calls[start:start + 20])
    after = rss_mib(process_tree(process.pid))
    print(f"RSS of the server and its workers: {before:.0f} MiB before, {after:.0f} MiB after 500 requests")
    assert after < before + 64, (before, after)


def test_it_listens_on_loopback_only(strict_server):
    url, _ = strict_server
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert listening_addresses(port) == {"127.0.0.1"}
    status, _ = request(url, "/", headers={"Host": "attacker.example"})   # DNS rebinding: a foreign Host is refused
    assert status == 400


def test_bad_options_exit_2_with_one_line():
    _needs_serve_extra()
    assert _cli_error("serve", "--port", "70000", "--no-browser").startswith("--port 70000: not a port")
    assert _cli_error("serve", "--time-limit", "soon", "--no-browser").startswith("--time-limit 'soon': not a number")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert _cli_error("serve", "--port", str(port), "--no-browser").startswith(f"--port {port}: cannot listen")


def test_a_steps_expansion_writes_out_the_terms_of_its_sum():
    """The three terms shown (the first two and the last) are the whole sum when it has three terms, as SymPy's
    own Sum.doit says; the contraction keeps the term its Kronecker delta pins (k = i)."""
    import sympy as sp

    from symbackprop import Network, derive
    from symbackprop.derivation import Rule
    from symbackprop.web._expand import _pinned, _sums, _terms, expansions
    steps = derive(Network((3, 2), loss="quadratic", bias="separate", l2=0)).steps
    chain = next(step for step in steps if step.rule is Rule.CHAIN_RULE and _sums(step.statement.rhs))
    total = _sums(chain.statement.rhs)[0]
    (index, low, high), = total.limits
    three = {high: 3}
    shown = [term.subs(three) for term in _terms(total)]
    assert sp.simplify(sum(shown) - total.subs(three).doit()) == 0
    contraction = next(step for step in steps if step.rule is Rule.KRONECKER)
    known = {s.statement.lhs: s.statement.rhs for s in steps if s.statement.has(sp.KroneckerDelta)}
    assert str(_pinned(total.function.xreplace(known), index)) == "i"
    found = expansions(list(enumerate(steps, start=1)), lambda number: sp.latex)
    numbered = {number: step for number, step in enumerate(steps, start=1)}
    assert {numbered[n].rule for n in found} <= {Rule.CHAIN_RULE, Rule.KRONECKER}
    assert any(numbered[n] is contraction for n in found)
