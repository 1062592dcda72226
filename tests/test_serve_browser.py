"""The `symbackprop serve` page in a real browser: Debian's Chromium, driven by selenium through Debian's
chromedriver (/usr/bin/chromedriver; Selenium Manager never runs, nothing is downloaded).

Typing a network, switching the notation, a bad entry, a wrong ex4 line and its verdict, downloading a module and
importing it, cancelling a slow derivation, and the mathematics laid out (fractions stacked). Without chromium,
chromedriver or selenium the tests skip, except under CI=true, where they fail.
"""
import importlib.util
import os
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from serve_helpers import running_server

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1400,1000"]
SMALL = "?layers=3,4,2&hidden=tanh&output=identity&loss=quadratic&l2=0&bias=separate"


def _requirements():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    missing += [name for name in ("selenium", "starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        reason = (f"missing {', '.join(missing)} (Debian: apt-get install chromium chromium-driver; "
                  f"pip install 'symbackprop[test]')")
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI=true requires them")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    _requirements()
    os.environ.setdefault("SE_OFFLINE", "true")     # Selenium Manager, were it ever asked, must not fetch anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('profile')}"]:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    with running_server(time_limit=60) as (url, _):
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        try:
            yield driver, url
        finally:
            driver.quit()


def _until(driver, script, within=90):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {within} s: {script}")


def _open(driver, url):
    driver.get(url)
    _until(driver, "return document.body.dataset.derived === 'yes' && !document.body.dataset.busy")


def _derived_after(driver, action):
    driver.execute_script("delete document.body.dataset.derived")
    action()
    _until(driver, "return document.body.dataset.derived === 'yes' && !document.body.dataset.busy")


def _meta(driver) -> str:
    return driver.execute_script("return Array.from(document.querySelectorAll('#derivation .meta'))"
                                 ".map(p => p.textContent).join(' | ')")


def test_type_a_network_switch_the_notation_and_share_the_link(browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    driver, url = browser
    _open(driver, url)
    assert "400-25-10 network, hidden sigmoid" in _meta(driver) and "ng-ml" in _meta(driver)   # ex4 by default
    fields = {"layers": "4,5,3", "hidden": "relu", "output": "softmax", "loss": "categorical-cross-entropy", "l2": "0"}
    for name, value in fields.items():
        box = driver.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    Select(driver.find_element(By.NAME, "bias")).select_by_value("separate")
    _derived_after(driver, lambda: driver.find_element(By.ID, "derive").click())
    assert "4-5-3 network, hidden relu, output softmax, loss categorical-cross-entropy" in _meta(driver)
    nielsen = driver.find_element(By.ID, "derivation").get_attribute("innerHTML")
    _derived_after(driver, lambda: Select(driver.find_element(By.ID, "notation")).select_by_value("goodfellow"))
    assert "Notation: goodfellow" in _meta(driver)
    assert driver.find_element(By.ID, "derivation").get_attribute("innerHTML") != nielsen
    query = parse_qs(urlsplit(driver.current_url).query)
    assert query["layers"] == ["4,5,3"] and query["notation"] == ["goodfellow"] and query["bias"] == ["separate"]
    _open(driver, driver.current_url)                  # the link reproduces the page
    assert "4-5-3 network, hidden relu" in _meta(driver) and "Notation: goodfellow" in _meta(driver)
    step = driver.find_element(By.CSS_SELECTOR, "li.step.expandable")
    step.click()
    box = driver.execute_script("const e = arguments[0].querySelector('.expansion math');"
                                "const r = e.getBoundingClientRect(); return [r.width, r.height];", step)
    assert box[0] > 50 and box[1] > 10 and step.get_attribute("aria-expanded") == "true"


def test_a_bad_entry_is_marked_at_its_field(browser):
    from selenium.webdriver.common.by import By
    driver, url = browser
    _open(driver, url + SMALL)
    box = driver.find_element(By.NAME, "hidden")
    box.clear()
    box.send_keys("tanh(z")
    driver.find_element(By.ID, "derive").click()
    error = driver.find_element(By.CSS_SELECTOR, '.field-error[data-for="hidden"]')
    _until(driver, "return !document.querySelector('.field-error[data-for=hidden]').hidden")
    lines = error.text.splitlines()
    assert lines[0].startswith("--hidden 'tanh(z': '(' at column 5 is never closed")
    assert lines[2].index("^") == lines[1].index("(") and box.get_attribute("aria-invalid") == "true"


def test_a_wrong_ex4_line_gets_its_verdict(browser):
    from selenium.webdriver.common.by import By
    driver, url = browser
    _open(driver, url)
    pasted = "d3 = a3 - y;\nd2 = (Theta2(:,2:end)' * d3) .* a2;\nd3 = (a3 - y;"
    driver.find_element(By.ID, "formulas").send_keys(pasted)
    driver.execute_script("delete document.body.dataset.checked")
    driver.find_element(By.ID, "check").click()
    _until(driver, "return document.body.dataset.checked === 'yes'")
    items = driver.find_elements(By.CSS_SELECTOR, "#verdicts li.verdict")
    assert [item.get_attribute("class").split()[1] for item in items] == ["correct", "incorrect", "unreadable"]
    assert "in place of its derivative" in items[1].text and "counterexample at" in items[1].text
    caret = items[2].find_element(By.CSS_SELECTOR, "pre.caret").text.splitlines()
    assert caret[-1].index("^") == caret[-2].index("(")
    assert "check=" in driver.current_url


def test_download_the_numpy_module_and_import_it(browser, downloads):
    from selenium.webdriver.common.by import By
    driver, url = browser
    _open(driver, url + SMALL)
    driver.find_element(By.CSS_SELECTOR, '[data-export="numpy"]').click()
    target = downloads / "gradients_numpy.py"
    deadline = time.monotonic() + 60
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    spec = importlib.util.spec_from_file_location("downloaded_gradients", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(1)
    params = [rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2)]
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    _, gradients = module.cost_and_gradients([p.copy() for p in params], X, Y)
    step = 1e-6          # central differences of the module's own cost, entry by entry
    for index, param in enumerate(params):
        for position in np.ndindex(param.shape):
            up, down = [p.copy() for p in params], [p.copy() for p in params]
            up[index][position] += step
            down[index][position] -= step
            numeric = (module.cost_and_gradients(up, X, Y)[0] - module.cost_and_gradients(down, X, Y)[0]) / (2 * step)
            assert gradients[index][position] == pytest.approx(numeric, abs=1e-6)


def test_a_slow_derivation_shows_progress_and_can_be_cancelled(browser):
    from selenium.webdriver.common.by import By
    driver, url = browser
    _open(driver, url + SMALL)
    box = driver.find_element(By.NAME, "layers")
    box.clear()
    box.send_keys(",".join(["2"] * 400))
    driver.find_element(By.ID, "derive").click()
    progress = driver.find_element(By.ID, "progress")
    deadline = time.monotonic() + 10
    while not progress.is_displayed() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert progress.is_displayed() and "deriving" in progress.text
    driver.find_element(By.ID, "cancel").click()
    _until(driver, "return !document.body.dataset.busy", within=10)
    assert not progress.is_displayed()
    assert "3-4-2 network" in _meta(driver)                # the last derivation stays on the page


def test_the_mathematics_is_laid_out(browser, tmp_path):
    driver, url = browser
    _open(driver, url)
    boxes = driver.execute_script("""
        const math = document.querySelector('#derivation math[display=block]');
        const fraction = Array.from(document.querySelectorAll('#derivation mfrac'))
            .find(f => f.getBoundingClientRect().width > 0);
        const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
        return {math: box(math), numerator: box(fraction.children[0]), denominator: box(fraction.children[1])};""")
    left, top, right, bottom = boxes["math"]
    assert right - left > 20 and bottom - top > 10
    numerator, denominator = boxes["numerator"], boxes["denominator"]
    assert numerator[3] <= denominator[1] + 1                       # the numerator sits above the denominator
    assert min(numerator[2], denominator[2]) > max(numerator[0], denominator[0])    # and they overlap horizontally
    shot = Path(tmp_path) / "serve.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
