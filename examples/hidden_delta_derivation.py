"""The error of the hidden layers, δ^(2) and δ^(3), derived step by step for Ng's 4-layer lecture network.

Andrew Ng's backpropagation lecture (Machine Learning, week 5) draws a 4-layer network with
sigmoid units, the cross-entropy cost and the bias as column 0 of Θ (here 3-5-5-4), and writes
δ^(4) = a^(4) - y, δ^(3) = (Θ^(3))^T δ^(4) .* g'(z^(3)), δ^(2) = (Θ^(2))^T δ^(3) .* g'(z^(2)).
This example derives that network, prints every step of the derivation in Ng's notation, the
results for layers 3 and 2 in Ng's and in Nielsen's notation, checks Ng's two lecture formulas,
and writes the derivation in both notations as a PDF-ready .tex and an HTML page. When pdflatex
is on the PATH the .tex files are compiled to PDF.

    python examples/hidden_delta_derivation.py [--out DIR] [--no-pdf]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import symbackprop as sb
from symbackprop.checker import check
from symbackprop.rendering import render

NETWORK = sb.Network((3, 5, 5, 4), hidden="sigmoid", output="sigmoid", loss="cross-entropy", bias="column")
NOTATIONS = ("ng-ml", "nielsen")
# Ng's lecture formulas, as he writes them (g'(z) for the sigmoid's derivative, no bias row dropped).
LECTURE = {3: r"\delta^{(3)} = (\Theta^{(3)})^T \delta^{(4)} .* g'(z^{(3)})",
           2: r"\delta^{(2)} = (\Theta^{(2)})^T \delta^{(3)} .* g'(z^{(2)})"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="directory for the .tex, .html and .pdf files "
                                                                    "(default: out/)")
    parser.add_argument("--no-pdf", action="store_true", help="do not run pdflatex even when it is installed")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    derivation = sb.derive(NETWORK)
    print(render(derivation, "text", "ng-ml"))

    print("For the lecture network the recursion runs twice, l = 3 and l = 2:")
    for notation in NOTATIONS:
        data = json.loads(render(derivation, "json", notation))
        print(f"  {notation:8s} {data['output_delta']['vector']}    (L = {NETWORK.depth})")
        for quantity in reversed(data["hidden_deltas"]):
            print(f"  {notation:8s} {quantity['vector']}")
    print()

    print("Ng's lecture formulas, checked against the derivation:")
    all_correct = True
    for formula in LECTURE.values():
        verdict = check(formula, NETWORK, notation="ng-ml")
        print(f"  {formula}: {verdict.verdict} ({verdict.method})")
        for note in verdict.to_dict()["notes"]:
            print(f"      {note}")
        all_correct &= verdict.verdict == "correct"
    print()

    written = []
    for notation in NOTATIONS:
        for format, suffix in (("tex", ".tex"), ("html", ".html")):
            path = args.out / f"hidden_delta_{notation}{suffix}"
            path.write_text(render(derivation, format, notation), encoding="utf-8")
            written.append(path)
    for path in written:
        print(f"wrote {path}")

    pdf_ok = True
    pdflatex = shutil.which("pdflatex")
    if args.no_pdf:
        print("PDF: not compiled (--no-pdf)")
    elif pdflatex is None:
        print("PDF: pdflatex is not on the PATH, so the .tex files were not compiled "
              "(Debian: apt-get install texlive-latex-base)")
    else:
        for path in written:
            if path.suffix == ".tex":
                pdf_ok &= _compile(pdflatex, path)
    if not all_correct:
        print("UNEXPECTED: Ng's lecture formulas should be correct for his network", file=sys.stderr)
    return 0 if all_correct and pdf_ok else 1


def _compile(pdflatex: str, tex: Path) -> bool:
    run = subprocess.run([pdflatex, "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape", tex.name],
                         cwd=tex.parent, check=False, capture_output=True, text=True, timeout=300)
    pdf = tex.with_suffix(".pdf")
    if run.returncode != 0 or not pdf.exists():
        print(f"PDF: pdflatex failed on {tex}; see {tex.with_suffix('.log')}", file=sys.stderr)
        return False
    print(f"PDF: compiled {pdf} with {pdflatex}")
    return True


if __name__ == "__main__":
    sys.exit(main())
