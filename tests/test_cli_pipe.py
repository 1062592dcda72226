"""Exit codes survive a closed stdout (``symbackprop check ... | head -1``): a verdict never turns into 0."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NIELSEN = ["--notation", "nielsen", "--layers", "3,4,2", "--loss", "quadratic", "--bias", "separate", "--l2", "0"]


def _closed_pipe_exit(args) -> tuple[int, str]:
    """Run the CLI with a stdout pipe that is closed before the command writes, as `| head -0` does."""
    read, write = os.pipe()
    os.close(read)                      # nobody will ever read: the first write raises EPIPE
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        process = subprocess.run([sys.executable, "-m", "symbackprop", *args], stdout=write,
                                 stderr=subprocess.PIPE, env=env, timeout=300)
    finally:
        os.close(write)
    return process.returncode, process.stderr.decode()


@pytest.mark.parametrize("args, code", [
    (["check", "delta^L = a^L - y", *NIELSEN], 1),                          # incorrect: 1, even unread
    (["check", "delta^L = (a^L - y) .* sigma'(z^L)", *NIELSEN], 0),
    (["check", "delta^L = a^L - y", *NIELSEN, "--json"], 1),
    (["check", "delta^L = (a^L - y", *NIELSEN, "--json"], 2),
    (["derive", "--layers", "3,4,2"], 0),
    (["compare", "--layers", "3,4,2"], 0),
    (["gradcheck", "--layers", "3,4,2"], 0),
    (["gradcheck", "--layers", "3,4,2", "--threshold", "1e-300"], 1),            # a negative answer: 1
])
def test_exit_code_survives_a_closed_pipe(args, code):
    returncode, stderr = _closed_pipe_exit(args)
    assert returncode == code, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_file_of_formulas_keeps_its_worst_code(tmp_path):
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("delta^L = (a^L - y) .* sigma'(z^L)\ndelta^L = a^L - y\n", encoding="utf-8")
    returncode, stderr = _closed_pipe_exit(["check", "--file", str(formulas), *NIELSEN])
    assert returncode == 1, stderr
