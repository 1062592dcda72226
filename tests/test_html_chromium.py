"""The HTML pages in a real browser: headless Chromium renders the MathML and the page is not blank.

Needs Chromium (Debian: chromium). Without it the test skips, except under CI=true, where it fails.
"""
import os
import re
import shutil
import struct
import subprocess
import zlib

import pytest

from symbackprop import Network, derive
from symbackprop.rendering import compare, render
from symbackprop.rendering._accumulator import accumulator_steps

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio"]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    reason = "Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; CI=true requires it")
    pytest.skip(reason)


def browse(page: str, tmp_path, size="1280,1800"):
    html = tmp_path / "page.html"
    html.write_text(page, encoding="utf-8")
    profile = tmp_path / "profile"
    common = [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}"]
    dom = subprocess.run([*common, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    run = subprocess.run([*common, f"--screenshot={shot}", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    return dom.stdout, shot.read_bytes()


def png_pixels(data: bytes) -> bytes:
    """The decompressed scanlines of a PNG (enough to tell a blank page from a rendered one)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            idat += data[position + 8:position + 8 + length]
        position += 12 + length
    return zlib.decompress(idat)


def assert_rendered(dom: str, png: bytes):
    assert dom.count("<math") >= 5
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|title)>.*?</\1>", "", dom, flags=re.S))
    assert "\\" not in visible, "raw LaTeX visible as text"
    assert not re.search(r"\b(frac|mathbf|partial|operatorname|left|right)\{", visible)
    pixels = png_pixels(png)
    counts = {}
    for byte in pixels[::7]:
        counts[byte] = counts.get(byte, 0) + 1
    dominant = max(counts.values()) / sum(counts.values())
    assert len(counts) > 32 and dominant < 0.97, "the screenshot is blank"


@pytest.mark.parametrize("notation, spec", [
    ("ng-ml", dict(sizes=(400, 25, 10), l2=1, bias="column")),
    ("goodfellow", dict(sizes=(4, 5, 3), hidden="relu", output="softmax", loss="categorical-cross-entropy")),
])
def test_derivation_page(notation, spec, tmp_path):
    chromium()
    derivation = derive(Network(spec.pop("sizes"), **spec))
    dom, png = browse(render(derivation, "html", notation), tmp_path)
    assert_rendered(dom, png)
    extra = len(accumulator_steps(derivation)) if notation == "ng-ml" else 0   # Ng's own Δ/D form
    assert dom.count('class="step"') == len(derivation.steps) + extra


def test_comparison_page_on_a_phone(tmp_path):
    chromium()
    ng = derive(Network((4, 3, 2), loss="cross-entropy"))
    nielsen = derive(Network((4, 3, 2), loss="quadratic"))
    dom, png = browse(compare(ng, nielsen).render("html"), tmp_path, size="390,844")
    assert_rendered(dom, png)
