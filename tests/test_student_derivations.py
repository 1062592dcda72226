"""Issue 12: derivations a student can follow line by line, in all five notations and three formats.

Each test is one point of the issue: no λ when λ = 0; every symbol defined before it is used; the
Kronecker delta never written with δ; each notation's own letters and one batch layout; Ng's own
Δ/D form and the course's code lines (checked numerically against torch autograd); the cost in a
textbook's order; typeset notes; the command line's -o, defaults and refusals.
"""
from __future__ import annotations

import ast
import html
import json
import re

import numpy as np
import pytest

from symbackprop import Network, derive
from symbackprop import symbols as S
from symbackprop.cli import main
from symbackprop.export import export_module
from symbackprop.rendering import compare, render
from symbackprop.rendering._naming import Namer
from symbackprop.rendering.notations import PRESETS
from symbackprop.rendering.steps import layout
from optional_libraries import require

NOTATIONS = [preset.name for preset in PRESETS]
FORMATS = ("text", "latex", "tex", "html")

NETWORKS = {
    "ex4": dict(sizes=(400, 25, 10), l2=1, bias="column"),
    "nielsen-l2-0": dict(sizes=(784, 30, 10), loss="quadratic", bias="separate", l2=0),
    "tanh-softmax-l2-0": dict(sizes=(5, 4, 3), hidden="tanh", output="softmax", loss="categorical-cross-entropy",
                              bias="column", l2=0),
    "relu-deep": dict(sizes=(4, 5, 3, 2), hidden="relu", loss="cross-entropy", bias="separate", l2=0.5),
}


@pytest.fixture(scope="module")
def derivations():
    out = {}
    for name, spec in NETWORKS.items():
        spec = dict(spec)
        out[name] = derive(Network(spec.pop("sizes"), **spec))
    return out


def _rendered(derivations, network, notation, fmt):
    return render(derivations[network], fmt, notation)


# --- 1. λ = 0 removes λ everywhere ------------------------------------------------------------------
_LAMBDA = re.compile(r"λ|\\lambda|lambda|&lambda;|\bl2\b.*penalty")


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("fmt", FORMATS + ("json",))
@pytest.mark.parametrize("network", ["nielsen-l2-0", "tanh-softmax-l2-0"])
def test_no_lambda_when_l2_is_zero(derivations, network, notation, fmt):
    text = _rendered(derivations, network, notation, fmt)
    if fmt == "json":
        data = json.loads(text)
        assert data["network"]["l2"] == 0      # the network's setting itself is reported, as a number
        text = json.dumps({k: v for k, v in data.items() if k != "network"}, ensure_ascii=False)
    assert not _LAMBDA.search(text), _LAMBDA.search(text)
    text = text.replace("no L2 penalty", "").replace("not regularised", "")   # the network says it has none
    assert "penalty" not in text and "regularis" not in text


def test_lambda_still_written_when_l2_is_not_zero(derivations):
    for notation in NOTATIONS:
        text = _rendered(derivations, "ex4", notation, "text")
        assert "λ" in text.split("\n1. The cost")[0], notation          # defined in the header
        assert "(λ/m)" in text.split("\nResult")[1], notation            # and in the batch gradient


def test_no_lambda_in_compare_or_export_docstring_when_l2_is_zero(derivations, tmp_path):
    ng = derive(Network((4, 3, 2), loss="cross-entropy", l2=0))
    nielsen = derive(Network((4, 3, 2), loss="quadratic", l2=0))
    comparison = compare(ng, nielsen, notation="ng-ml", right_notation="nielsen")
    for fmt in ("text", "latex", "html"):
        assert not _LAMBDA.search(comparison.render(fmt)), fmt
    for layout_name, bias in (("rows", "separate"), ("ng", "column")):
        source = export_module(Network((4, 3, 2), l2=0, bias=bias), layout=layout_name)
        docstring = ast.get_docstring(ast.parse(source))
        assert "lambda" not in docstring and "λ" not in docstring
        assert "threadpoolctl" in docstring                                   # item 11
    source = export_module(Network((4, 3, 2), l2=1))
    assert "(lambda/m) W^l" in ast.get_docstring(ast.parse(source))


# --- 2. every symbol is defined before it is used ------------------------------------------------------
def _letters(expr, namer: Namer) -> set:
    """The letters (with accent) a printed statement uses, as the notation writes them."""
    out = set()
    for atom in expr.atoms(S.LayerArray):
        name = namer.array(atom)
        out.add(name.letter.text + ("\u0303" if name.accent == "tilde" else ""))
    for atom in expr.atoms(__import__("sympy").Indexed):
        label = str(atom.base.label)
        if label in ("n", "C"):
            continue
        out.add(namer.indexed(atom).letter.text)
    names = {S.lam: "λ", S.m: "m", S.C: namer.notation.cost.text, S.J: namer.notation.batch_cost.text}
    out |= {names[symbol] for symbol in expr.free_symbols if symbol in names}
    return out - {"1"}


def _ALL_LETTERS(page) -> set:
    """Every letter the page's statements and results use."""
    namer = page.latex_printer.namer
    out = set()
    for section in page.sections:
        for step in section.steps:
            out |= _letters(step.step.statement, namer)
    return out


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_every_symbol_is_defined_before_its_first_use(derivations, network, notation):
    page = layout(derivations[network], notation)
    namer = page.latex_printer.namer
    # the letters the header's formulas write (not its words: the article 'a' defines nothing)
    header = " ".join(piece.text for line in page.header for piece in line if not isinstance(piece, str))
    defined = {letter for letter in _ALL_LETTERS(page) if re.search(r"(?<![^\W\d_])%s(?![^\W\d_])" % re.escape(letter),
                                                                    header)}
    for section in page.sections:
        for step in section.steps:
            statement = step.step.statement
            used = _letters(statement, namer)
            if step.step.rule.value in ("definition", "bias row dropped") or step.quantity == "ng_form":
                defined |= _letters(statement.lhs, namer)
            missing = used - defined
            assert not missing, (notation, step.number, step.statement.text, missing)


@pytest.mark.parametrize("notation", NOTATIONS)
def test_named_intermediates_are_defined_where_they_appear(derivations, notation):
    text = _rendered(derivations, "ex4", notation, "text")
    header, body = text.split("\n1. The cost")
    # the weights without the bias column: defined in the header, then used
    tilde = re.search(r"([Θw W])\u0303", body)
    assert tilde and tilde.group(0) in header
    # e^(l), the back-propagated error with the bias row dropped: its first appearance defines it
    steps = re.findall(r"^  \((\d+)\) (.*)$", body, re.MULTILINE)
    uses = [statement for _, statement in steps if re.search(r"(?<![\w^])e\^(\(l\)|\[l\]|l\b|\(k\))", statement)]
    assert uses and re.match(r"e\^\S+ = ", uses[0]), uses[:1]
    assert len(uses) >= 2, "e^(l) is introduced only if the next step uses it"
    # Nielsen's C̄ and every notation's batch cost are introduced in the header
    batch_cost = {"nielsen": "C̄", "bishop": "E"}.get(notation, "J")
    assert batch_cost in header


# --- 3. the Kronecker delta is never written with δ -------------------------------------------------------
@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_kronecker_delta_is_not_the_error_letter(derivations, notation, fmt):
    text = _rendered(derivations, "tanh-softmax-l2-0", notation, fmt)
    assert not re.search(r"δ_\{?[ijkpqr]{2}|δ_\{[a-z],[a-z]\}", text)
    assert not re.search(r"\\delta_\{[a-z],?[a-z]\}", text)
    if fmt == "html":
        assert not re.search(r"<mi>δ</mi>\s*<mrow>\s*<mi>[a-z]</mi>\s*<mi>[a-z]</mi>", text)
    if fmt == "text":
        said = text.count("and 0 otherwise")
        assert said == 1, "the bracket's meaning is said once"
        assert ("Iverson" in text) == (notation != "bishop")


# --- 4. each notation's own letters; one batch layout ------------------------------------------------------
FOREIGN = {
    "ng-ml": ("b^", "∂C", "C̄", "w^", "W^", "σ", "⊙", "[l]", "h^(", "dz"),
    "ng-dls": ("δ", "Θ", "∂C", "⊙", "σ", "^(l)", "C̄", "h^("),
    "nielsen": ("Θ", "[l]", "∂J", ".*", "∂cost", "h^(", "^(l)"),
    "goodfellow": ("δ", "Θ", "z^", "σ", "∂C", "C̄", "[l]", ".*"),
    "bishop": ("Θ", "σ", "∂C", "∂J", "C̄", "[l]", ".*", "g'("),
}


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_no_letter_of_another_notation(derivations, network, notation):
    text = _rendered(derivations, network, notation, "text")
    body = text.split("\n", 2)[2]          # the first two lines name the network and the book
    for token in FOREIGN[notation]:
        assert token not in body, (notation, token, body[max(0, body.find(token) - 80):body.find(token) + 40])


FOREIGN_LATEX = {
    "ng-ml": ("b^{", r"\partial C", r"\overline{C}", "w^{", "W^{", r"\sigma", r"\odot", "^{[", "h^{(", "dz"),
    "ng-dls": (r"\delta", r"\Theta", r"\partial C", r"\odot", r"\sigma", "^{(l)}", r"\overline{C}"),
    "nielsen": (r"\Theta", "^{[", r"\partial J", ".*", r"\operatorname{cost}", "h^{(", "^{(l)}"),
    "goodfellow": (r"\delta", r"\Theta", "z^{", r"\sigma", r"\partial C", r"\overline{C}", "^{[", ".*"),
    "bishop": (r"\Theta", r"\sigma", r"\partial C", r"\partial J", r"\overline{C}", "^{[", ".*"),
}
#: single letters of another notation, as they appear in MathML
FOREIGN_HTML = {"ng-ml": ("σ", "⊙", "C̄"), "ng-dls": ("δ", "Θ", "σ", "⊙"), "nielsen": ("Θ",),
                "goodfellow": ("δ", "Θ", "σ"), "bishop": ("Θ", "σ", "C̄")}


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_no_letter_of_another_notation_in_latex_and_html(derivations, network, notation):
    tex = _rendered(derivations, network, notation, "tex").split(r"\begin{itemize}", 1)[1]
    for token in FOREIGN_LATEX[notation]:
        assert token not in tex, (notation, token, tex[max(0, tex.find(token) - 80):tex.find(token) + 40])
    page = _rendered(derivations, network, notation, "html").split('<ul class="remarks">', 1)[1]
    letters = set(re.findall(r"<mi>([^<]*)</mi>|<mo>([^<]*)</mo>", page))
    letters = {html.unescape(a or b) for a, b in letters}
    for token in FOREIGN_HTML[notation]:
        assert token not in letters, (notation, token)


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("fmt", ("text", "tex", "html"))
def test_batch_layout_stated_once_and_never_contradicted(derivations, notation, fmt):
    text = _rendered(derivations, "ex4", notation, fmt)
    rows = next(p for p in PRESETS if p.name == notation).examples == "rows"
    assert text.count("one example per row" if rows else "one example per column") == 1
    assert "one example per column" not in text if rows else "one example per row" not in text
    assert "examples as columns" not in text and "examples as rows" not in text


# --- 5. Ng's own form; Octave and numpy lines that compute the gradient -------------------------------------
def test_ng_ml_gives_ngs_own_form(derivations):
    text = _rendered(derivations, "ex4", "ng-ml", "text")
    assert "Δ^(l) := Δ^(l) + δ^(l+1) (a^(l))^T" in text
    assert "D^(l)_ij = Δ^(l)_ij/m + λ Θ^(l)_ij/m" in text and "for j ≥ 1" in text
    assert "D^(l)_i0 = Δ^(l)_i0/m" in text and "for j = 0" in text
    assert "∂J/∂Θ^(l)_ij = D^(l)_ij" in text
    tex = _rendered(derivations, "ex4", "ng-ml", "tex")
    assert r"\Delta^{(l)} &:= \Delta^{(l)} + \delta^{(l+1)} \left(a^{(l)}\right)^{T}" in tex


def _octave_to_numpy(line: str) -> str:
    """The few Octave forms the printed lines use, as numpy (a test's transliteration, not the product's)."""
    line = line.rstrip(";")
    line = re.sub(r"\[zeros\(size\((\w+), 1\), 1\), \1\(:, 2:end\)\]",
                  r"np.hstack([np.zeros((\1.shape[0], 1)), \1[:, 1:]])", line)
    line = line.replace("(:, 2:end)", "[:, 1:]")
    line = re.sub(r"(\w)'", r"\1.T", line)
    line = re.sub(r"\((1|lambda)/m\) \* ", r"(\1/m) * ", line).replace("lambda", "lam")
    parts = re.split(r"(\(1/m\) \* |\(lam/m\) \* )", line)
    parts = [p if p.startswith("(") and p.endswith("* ") else p.replace(" * ", " @ ") for p in parts]
    line = "".join(parts)
    return line.replace(".*", "*").replace("./", "/").replace(".^", "**")


def _torch_reference(weights, X, Y, hidden, lam, bias_column):
    import torch
    activation = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    a = torch.tensor(X)
    for position, W in enumerate(params):
        if bias_column:
            a = torch.cat([torch.ones(a.shape[0], 1, dtype=a.dtype), a], dim=1)
        z = a @ W.T
        a = torch.sigmoid(z) if position == len(params) - 1 else activation[hidden](z)
    y = torch.tensor(Y)
    m = X.shape[0]
    J = -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum() / m
    J = J + lam / (2 * m) * sum(((W[:, 1:] if bias_column else W) ** 2).sum() for W in params)
    J.backward()
    return [p.grad.numpy() for p in params]


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
def test_octave_lines_compute_the_gradient(hidden):
    require("torch", "the torch autograd reference gradient")
    sizes, lam, m = (4, 5, 3, 2), 0.7, 6
    derivation = derive(Network(sizes, hidden=hidden, loss="cross-entropy", l2=lam, bias="column"))
    code = layout(derivation, "ng-ml").code
    assert code.language == "octave"
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(sizes[n + 1], sizes[n] + 1)) * 0.5 for n in range(len(sizes) - 1)]
    X, Y = rng.normal(size=(m, sizes[0])), rng.uniform(0.1, 0.9, size=(m, sizes[-1]))
    names = {"np": np, "m": m, "lam": lam, "y_matrix": Y}
    act = {"sigmoid": lambda t: 1 / (1 + np.exp(-t)), "tanh": np.tanh, "relu": lambda t: np.maximum(t, 0)}
    a = X
    for n, W in enumerate(weights, start=1):
        names[f"Theta{n}"] = W
        names[f"a{n}"] = np.hstack([np.ones((m, 1)), a])
        z = names[f"a{n}"] @ W.T
        names[f"z{n + 1}"] = z
        a = act["sigmoid"](z) if n == len(weights) else act[hidden](z)
    names[f"a{len(sizes)}"] = a
    for line in code.lines:
        if not line.startswith("%"):
            exec(_octave_to_numpy(line), names)
    expected = _torch_reference(weights, X, Y, hidden, lam, bias_column=True)
    for n, grad in enumerate(expected, start=1):
        assert np.allclose(names[f"Theta{n}_grad"], grad, rtol=1e-10, atol=1e-12), n


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
def test_numpy_lines_compute_the_gradient(hidden):
    require("torch", "the torch autograd reference gradient")
    sizes, lam, m = (4, 5, 3, 2), 0.3, 7
    derivation = derive(Network(sizes, hidden=hidden, loss="cross-entropy", l2=lam, bias="separate"))
    code = layout(derivation, "ng-dls").code
    assert code.language == "numpy"
    rng = np.random.default_rng(2)
    Ws = [rng.normal(size=(sizes[n + 1], sizes[n])) * 0.5 for n in range(len(sizes) - 1)]
    bs = [rng.normal(size=(sizes[n + 1], 1)) * 0.5 for n in range(len(sizes) - 1)]
    X, Y = rng.normal(size=(sizes[0], m)), rng.uniform(0.1, 0.9, size=(sizes[-1], m))
    names = {"np": np, "m": m, "lambd": lam, "Y": Y, "A0": X}
    act = {"sigmoid": lambda t: 1 / (1 + np.exp(-t)), "tanh": np.tanh, "relu": lambda t: np.maximum(t, 0)}
    for n, (W, b) in enumerate(zip(Ws, bs), start=1):
        names[f"W{n}"], names[f"b{n}"] = W, b
        names[f"Z{n}"] = W @ names[f"A{n - 1}"] + b
        names[f"A{n}"] = (act["sigmoid"] if n == len(Ws) else act[hidden])(names[f"Z{n}"])
    for line in code.lines:
        if not line.startswith("#"):
            exec(line, names)
    # torch reference on the bias-column form: Theta = [b | W], rows as examples
    expected = _torch_reference([np.hstack([b, W]) for W, b in zip(Ws, bs)], X.T, Y.T, hidden, lam, True)
    for n, grad in enumerate(expected, start=1):
        assert np.allclose(names[f"dW{n}"], grad[:, 1:], rtol=1e-10, atol=1e-12), n
        assert np.allclose(names[f"db{n}"], grad[:, :1], rtol=1e-10, atol=1e-12), n


def test_code_lines_are_printed_not_stored():
    # a loss the catalogue has no stored code for: the δ line follows the derivation
    d = derive(Network((3, 2), output="identity", loss="(a-y)^4/4", bias="separate"))
    (line,) = [line for line in layout(d, "ng-dls").code.lines if line.startswith("dZ1")]
    assert line.replace(" ", "") == "dZ1=(A1-Y)**3"


# --- 6. textbook order; tanh stays tanh -------------------------------------------------------------------
def test_cost_in_textbook_order(derivations):
    assert "cost = Σ_p (-y_p ln(a^(L)_p) - (1 - y_p) ln(1 - a^(L)_p))" in _rendered(derivations, "ex4", "ng-ml", "text")
    assert r"- y_{p} \log" in _rendered(derivations, "ex4", "ng-ml", "latex").replace(r"\ln", r"\log") or \
        r"- y_{p} \ln" in _rendered(derivations, "ex4", "ng-ml", "latex")
    # the mean over the examples before the penalty
    assert re.search(r"J = Σ_\{x=1\.\.m\} cost\^\(x\)/m \+ λ", _rendered(derivations, "ex4", "ng-ml", "text"))


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("output", ["tanh", "log(cosh(z))"])
def test_tanh_stays_tanh(notation, output):
    # d/dz log(cosh z) is sinh/cosh: printed as the shorter tanh, in the index and the vector forms
    d = derive(Network((3, 4, 2), hidden="tanh", output=output, loss="quadratic", bias="separate"))
    for fmt in ("text", "latex", "html"):
        body = render(d, fmt, notation).split("\n", 1)[1]     # the first line names the output as typed
        assert "tanh" in body and "sinh" not in body
        assert "cosh" not in body.replace("cosh(z))", "")


# --- 7. notes are typeset; nothing wraps alone ------------------------------------------------------------
_RAW = re.compile(r"\^|\\\^\{\}|ˆ|Σ|∂|\ba_0\b|\\_|_\{|[a-zδ]_[0-9a-z]\b")


def _latex_prose(tex: str):
    """The text-mode pieces of every note, header item and explanation of a LaTeX document."""
    pieces = re.findall(r"\\intertext\{(.*)\}$", tex, re.MULTILINE)
    pieces += re.findall(r"^\\item (.*)$", tex, re.MULTILINE)
    pieces += re.findall(r"\\textbf\{Why\}: (.*)$", tex, re.MULTILINE)
    return [re.sub(r"\$[^$]*\$", " ", piece) for piece in pieces]


def _html_prose(page: str):
    pieces = re.findall(r'<div class="why">(.*?)</div>', page, re.DOTALL)
    pieces += re.findall(r"<li>(.*?)</li>", page, re.DOTALL)
    pieces += re.findall(r"<h2>Why they differ</h2><p>(.*?)</p>", page, re.DOTALL)
    return [html.unescape(re.sub(r"<math.*?</math>|<[^>]+>", " ", piece, flags=re.DOTALL)) for piece in pieces]


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_no_raw_caret_in_notes(derivations, network, notation):
    d = derivations[network]
    latex_pieces = _latex_prose(render(d, "tex", notation))
    html_pieces = _html_prose(render(d, "html", notation))
    assert latex_pieces and html_pieces
    for piece in latex_pieces + html_pieces:
        assert not _RAW.search(piece), (notation, piece)


def test_no_raw_caret_in_compare_explanation():
    pairs = [(dict(loss="cross-entropy"), dict(loss="quadratic")),
             (dict(hidden="tanh", loss="quadratic"), dict(hidden="relu", loss="quadratic")),
             (dict(l2=1), dict(l2=0)), (dict(bias="column"), dict(bias="separate"))]
    for a, b in pairs:
        comparison = compare(derive(Network((4, 3, 2), **a)), derive(Network((4, 3, 2), **b)), notation="ng-ml",
                             right_notation="nielsen")
        for piece in _latex_prose(comparison.render("latex")) + _html_prose(comparison.render("html")):
            assert not _RAW.search(piece), piece
        assert "Piecewise" not in comparison.reason and "*" not in comparison.reason.replace(".*", "")


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_no_lone_bracket_or_operator_on_a_line(derivations, network, notation):
    text = _rendered(derivations, network, notation, "text")
    for line in text.splitlines():
        stripped = line.strip()
        assert not re.fullmatch(r"[\[\]()=+\-⊙*.,;:]+", stripped or "x"), (notation, line)
        assert not re.match(r"[)=⊙]|\.\*|[+\-] ", stripped.lstrip("[")), (notation, line)
    page = render(derivations[network], "html", notation)
    # every inline formula of a note is kept on one line with the brackets that touch it
    for note in re.findall(r'<div class="why">(.*?)</div>', page, re.DOTALL):
        outside = re.sub(r'<span class="nw">.*?</span>', "", note, flags=re.DOTALL)
        assert "<math" not in outside


# --- 8-10. the command line ------------------------------------------------------------------------------
def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_short_and_long_output_file(capsys, tmp_path):
    for flag in ("-o", "--output-file"):
        target = tmp_path / f"d{flag}.html"
        code, out, _ = _run(capsys, "derive", "--layers", "3,2,2", "--format", "html", flag, str(target))
        assert code == 0 and target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        assert f"wrote {target}" in out


def test_output_with_a_file_name_says_what_output_is(capsys, tmp_path):
    code, out, err = _run(capsys, "derive", "--format", "html", "--output", str(tmp_path / "d.html"))
    assert code == 2 and out == ""
    assert "--output is the output activation" in err and "-o " in err
    assert not (tmp_path / "d.html").exists()


def test_defaults_follow_the_network(capsys, tmp_path):
    code, out, _ = _run(capsys, "derive", "--layers", "3,2,2")
    assert code == 0 and "Notation: ng-ml" in out            # the default ex4 network has the bias column
    code, out, _ = _run(capsys, "derive", "--layers", "3,2,2", "--bias", "separate")
    assert code == 0 and "Notation: nielsen" in out
    target = tmp_path / "g.py"
    code, out, _ = _run(capsys, "export", "--layers", "3,2,2", "-o", str(target))
    assert code == 0 and "layout ng" in out and "Layout 'ng'" in target.read_text(encoding="utf-8")
    target = tmp_path / "r.py"
    code, out, _ = _run(capsys, "export", "--layers", "3,2,2", "--bias", "separate", "-o", str(target))
    assert code == 0 and "layout rows" in out
    for command in ("derive", "compare"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        assert "ng-ml for a network with --bias column" in help_text
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "ng for a network with --bias column" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("notation, letter", [(p.name, letter) for p in PRESETS
                                              for letter in sorted({p.activation.text, p.preactivation.text,
                                                                    p.target.text, "m", "L", "l", "x"})])
def test_size_named_like_a_letter_is_refused(capsys, notation, letter):
    code, out, err = _run(capsys, "derive", "--notation", notation, "--layers", f"3,{letter},2")
    assert code == 2 and out == ""
    assert f"layer size {letter!r}" in err and notation in err
    assert "Traceback" not in err


def test_check_refuses_a_size_named_like_a_letter(capsys):
    code, out, err = _run(capsys, "check", "--notation", "nielsen", "--layers", "3,a,2", "delta^L = a^L - y")
    assert code == 2 and "layer size 'a'" in err


@pytest.mark.parametrize("notation", NOTATIONS)
def test_other_symbolic_sizes_are_fine(capsys, notation):
    code, out, err = _run(capsys, "derive", "--notation", notation, "--layers", "n_in,n_hid,n_out", "--format", "json")
    assert code == 0, err
