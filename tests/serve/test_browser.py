"""The poster page end to end in a real headless Chromium, through ``skposter serve``.

Needs Debian's ``chromium`` and playwright (``pip install -e ".[serve-test]"``); run
with ``python -m pytest -m browser``. Without the browser or playwright the test skips,
except in CI (``CI`` set), where it fails: CI must never skip it silently. The
screenshot goes to ``$SKPOSTER_ARTEFACTS`` when set.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import skposter
from skposter.cli._models import build_model
from skposter.datasets import load_posters, split_by_id

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, and this closed
# network refuses those connections.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
N_TRAIN = 150
TIMEOUT_MS = 120_000


@pytest.fixture
def chromium():
    """Path of Debian's chromium; a skip without it, a failure in CI."""
    if not Path(CHROMIUM).is_file():
        message = f"{CHROMIUM} not found (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the browser test")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def sync_playwright():
    """Playwright's entry point; a skip without it, a failure in CI."""
    if os.environ.get("CI"):
        from playwright.sync_api import sync_playwright
        return sync_playwright
    return pytest.importorskip("playwright.sync_api").sync_playwright


@pytest.fixture
def cnn_model(shared_posters, tmp_path):
    """The CLI's cnn-features model on a few train-part posters, saved; a test poster.

    Returns the model file, one test-part poster copied to ``tmp_path`` and the genres
    the model predicts for it.
    """
    data = load_posters(shared_posters, as_frame=True)
    train, test = split_by_id(data.ids)
    rows = train[:N_TRAIN]
    model = build_model("cnn-features", random_state=0)
    model.set_params(estimator__columntransformer__poster__cache=tmp_path / "features",
                     estimator__columntransformer__poster__input_size=192)
    # 150 posters leave rare genres too few positives: both fallbacks warn.
    with pytest.warns(UserWarning, match="min_support"):
        model.fit(pd.DataFrame({"poster": data.paths[rows]}), data.target.iloc[rows])
    path = tmp_path / "cnn.skposter"
    skposter.save(model, path, format="skops")
    poster = tmp_path / Path(data.paths[test[0]]).name
    shutil.copyfile(data.paths[test[0]], poster)
    chosen = model.predict(pd.DataFrame({"poster": [str(poster)]}))[0]
    return path, poster, [g for g, c in zip(model.classes_, chosen) if c]


@pytest.fixture
def served(cnn_model, tmp_path):
    """``skposter serve`` on a free port in a subprocess; the page's URL."""
    log = open(tmp_path / "serve.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "skposter", "serve", "--model", str(cnn_model[0]), "--port", "0"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = process.stdout.readline()
        assert " at http://" in line, (tmp_path / "serve.log").read_text()
        yield line.split(" at ")[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def artefact_folder(tmp_path):
    folder = Path(os.environ.get("SKPOSTER_ARTEFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_poster_page_in_chromium(chromium, sync_playwright, cnn_model, served, tmp_path):
    _, poster, expected = cnn_model
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(served)
            page.wait_for_function("document.getElementById('model').textContent"
                                   ".includes('25 genres')")

            page.set_input_files("#file", str(poster))
            page.wait_for_selector("#heatmaps img")
            assert page.locator("#predicted li").all_inner_texts() == expected
            assert page.locator("#bars .bar").count() == 25
            assert page.locator("#bars .bar .tick").count() == 25
            assert page.locator("#heatmaps figure").count() == 3
            assert page.eval_on_selector_all(
                "#heatmaps img", "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
            assert page.locator("#note").is_hidden() and page.locator("#error").is_hidden()
            screenshot = artefact_folder(tmp_path) / "poster_page.png"
            page.screenshot(path=screenshot, full_page=True)
            print(f"screenshot of the poster page: {screenshot}")

            text = tmp_path / "x.jpg"
            text.write_text("this is not a poster\n")
            page.set_input_files("#file", str(text))
            page.wait_for_selector("#error", state="visible")
            error = page.inner_text("#error")
            assert error.startswith("x.jpg: this file is not an image") and "415" in error
            page.screenshot(path=artefact_folder(tmp_path) / "poster_page_error.png")

            page.set_input_files("#file", str(poster))
            page.wait_for_selector("#error", state="hidden")
            page.wait_for_selector("#heatmaps img")
            assert page.locator("#predicted li").all_inner_texts() == expected
        finally:
            browser.close()
