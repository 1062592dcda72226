"""The README's commands run and still print what the README shows.

Every ```console block of README.md is a sequence of ``$ symbackprop ...`` commands, each followed by lines of
its output: each command runs (in a temporary directory) and must print those lines, in that order, as lines
of its standard output or error. A line that is only ``…`` stands for lines left out; a line ending in ``…``
for a line trimmed there. Every ```python block runs. A README example that no longer works fails here.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from symbackprop.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
ELLIPSIS = "…"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README.read_text(encoding="utf-8"), re.M | re.S)


def _commands() -> list[tuple[str, list[str]]]:
    """(command, expected lines) for every ``$`` line of every console block."""
    found = []
    for block in _blocks("console"):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                assert found, f"a console block starts with output, not a $ command: {line!r}"
                found[-1][1].append(line.rstrip())
    return found


COMMANDS = _commands()


def _matches(expected: str, actual: str) -> bool:
    if expected.endswith(ELLIPSIS):
        return actual.startswith(expected[:-1].rstrip())
    return actual == expected


def test_the_readme_has_runnable_blocks():
    assert len(COMMANDS) >= 8 and len(_blocks("python")) >= 2


@pytest.mark.parametrize("command, expected", COMMANDS, ids=[command[:70] for command, _ in COMMANDS])
def test_readme_command_prints_what_the_readme_shows(command, expected, tmp_path, monkeypatch, capsys):
    words = shlex.split(command)
    assert words[0] == "symbackprop", f"only symbackprop commands are run: {command}"
    monkeypatch.chdir(tmp_path)
    code = main(words[1:])
    captured = capsys.readouterr()
    actual = [line.rstrip() for line in (captured.out + captured.err).splitlines()]
    assert code in (0, 1), f"{command} exited {code}:\n{captured.err}"
    position = 0
    for line in expected:
        if line == ELLIPSIS:
            continue
        while position < len(actual) and not _matches(line, actual[position]):
            position += 1
        assert position < len(actual), f"{command} no longer prints (in this order):\n{line}\n\nIt printed:\n" + \
            "\n".join(actual)
        position += 1


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_s_links_lead_somewhere():
    text = README.read_text(encoding="utf-8")
    anchors = {_slug(heading) for heading in re.findall(r"^#+ (.+)$", text, re.M)}
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("http"):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert (README.parent / path).exists(), f"README links to {path}, which does not exist"
        elif anchor:
            assert anchor in anchors, f"README links to #{anchor}, which is no heading of it"


@pytest.mark.parametrize("number", range(len(_blocks("python"))))
def test_readme_python_block_runs(number, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks("python")[number], f"README.md python block {number + 1}", "exec"), {"__name__": "readme"})
