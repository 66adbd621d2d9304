"""JupyterLab in a real browser (Debian's chromium driven by Playwright), as a learner uses it.

Opens lessons/01_the_problem in a scratch workspace, implements an exercise wrongly and then
rightly in the editor, reads the self-check's teaching message and its pass, runs the notebook,
moves the explorer's depth slider and checks that the figure changed, and clicks nbgrader's
Validate. Screenshots go to the test's temporary directory, printed at the end.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from autograder.solution import solution_cells
from bench.browser import course_launcher
from conftest import COURSE_ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")]
TOKEN = "gradient-clinic-test"
WRONG = ("def deep_linear_activations(x, scale, depth):\n"
         "    return np.array([np.linalg.norm(x) * scale ** l for l in range(depth + 1)])\n")
BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, over a scratch copy of lessons/."""
    scratch = tmp_path_factory.mktemp("browser")
    workspace = scratch / "workspace"
    shutil.copytree(COURSE_ROOT / "lessons", workspace)
    settings = scratch / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (JupyterLab 4 only renders cells on screen by default).
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    # The learner's configuration, as the launcher writes it, and no news feed.
    config = course_launcher().write_learner_config(scratch / "config")
    page_config = json.loads((config / "labconfig" / "page_config.json").read_text())
    page_config["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] = True
    (config / "labconfig" / "page_config.json").write_text(json.dumps(page_config))
    port = _free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(scratch / "settings"),
           "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_CONFIG_PATH": str(config), "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)  # a learner's environment: gradclinic installed, autograder not importable
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                               f"--port={port}", f"--IdentityProvider.token={TOKEN}",
                               f"--ServerApp.root_dir={workspace}", "--allow-root"],
                              env=env, stdout=subprocess.DEVNULL, stderr=open(scratch / "lab.log", "w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail(f"JupyterLab did not start: {(scratch / 'lab.log').read_text()[-2000:]}")
    yield {"url": url, "shots": scratch / "screenshots", "workspace": workspace}
    server.terminate()
    server.wait(timeout=30)


def _api(url, name):
    with urllib.request.urlopen(f"{url}/api/{name}?token={TOKEN}", timeout=30) as answer:
        return json.loads(answer.read())


def _replace_cell_source(page, cell, source):
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(source)
    page.keyboard.press("Escape")


def _run_all(page):
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    page.wait_for_timeout(1000)
    page.wait_for_function("() => ![...document.querySelectorAll('.jp-InputPrompt')]"
                           ".some(p => p.textContent.includes('[*]'))", timeout=300_000)


def _explorer_image(page):
    return page.locator(".widget-image").first.get_attribute("src")


def test_learner_works_lesson_01_in_jupyterlab(jupyterlab):
    from playwright.sync_api import sync_playwright

    shots = jupyterlab["shots"]
    shots.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    right = solution_cells("01_the_problem")["deep_linear_activations"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{jupyterlab['url']}/lab/tree/01_the_problem/01_the_problem.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_selector("text=| Idle", timeout=180_000)
        page.screenshot(path=shots / "1-opened.png")
        # The page's request started the lesson's kernel (gradclinic.early_kernel): JupyterLab took
        # that session for the notebook rather than starting a second kernel.
        sessions, kernels = (_api(jupyterlab["url"], name) for name in ("sessions", "kernels"))
        assert [s["path"] for s in sessions] == ["01_the_problem/01_the_problem.ipynb"], sessions
        assert [k["id"] for k in kernels] == [sessions[0]["kernel"]["id"]], kernels

        exercise = page.locator(".jp-CodeCell", has_text="def deep_linear_activations").first
        _replace_cell_source(page, exercise, WRONG)
        _run_all(page)  # stops at the first failing cell: the self-check
        check = page.locator(".jp-CodeCell", has_text="Self-check: deep_linear_activations").first
        check.scroll_into_view_if_needed()
        page.screenshot(path=shots / "2-self-check-teaches.png")
        message = check.locator(".jp-OutputArea").inner_text()
        assert "Self-check failed" in message and "Hint:" in message and "input's 5 is not in the list" in message

        _replace_cell_source(page, exercise, right)
        _run_all(page)  # now runs through the explorer, stopping at the next unimplemented exercise
        assert "self-checks passed" in check.locator(".jp-OutputArea").inner_text()
        slider = page.locator(".widget-slider", has_text="depth L").first
        slider.scroll_into_view_if_needed()
        page.wait_for_selector(".widget-image", timeout=60_000)
        before = _explorer_image(page)
        page.screenshot(path=shots / "3-explorer-depth-30.png")
        readout = slider.locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text("80")
        page.keyboard.press("Enter")
        page.wait_for_function("(before) => { const img = document.querySelector('.widget-image');"
                               " return img && img.src !== before; }", arg=before, timeout=60_000)
        after = _explorer_image(page)
        page.screenshot(path=shots / "4-explorer-depth-80.png")
        frame_bytes = page.evaluate("async src => (await (await fetch(src)).blob()).size", after)
        assert after != before and frame_bytes > 1000

        page.locator(".jp-Toolbar button, .jp-ToolbarButtonComponent", has_text="Validate").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=300_000)
        page.wait_for_function("() => !document.querySelector('.jp-Dialog').innerText.includes('Validating')",
                               timeout=300_000)
        result = dialog.inner_text()
        page.screenshot(path=shots / "5-validate.png")
        browser.close()
    # deep_linear_activations now passes; layer_gradient_norms is still a stub, so Validate says so.
    assert "layer_gradient_norms" in result and "NotImplementedError" in result
    assert "deep_linear_activations(np.array([3.0, 4.0])" not in result
    print(f"\nbrowser test: {time.perf_counter() - started:.0f} s; screenshots in {shots}:")
    for shot in sorted(shots.glob("*.png")):
        print(f"  {shot.name}")


def _wait_for_server(url, process, log):
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            return
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    process.kill()
    pytest.fail(f"JupyterLab did not start: {Path(log).read_text()[-2000:]}")


@pytest.mark.xdist_group("exchange")
@pytest.mark.skipif(os.geteuid() != 0, reason="runs JupyterLab as the instructor account: needs root")
def test_instructor_sees_the_class_in_the_formgrader(course_life, tmp_path):
    """After the exchange test's course life: the formgrader lists both learners' submissions."""
    from playwright.sync_api import sync_playwright

    port, log = _free_port(), tmp_path / "instructor-lab.log"
    server = subprocess.Popen(
        ["runuser", "-u", "gc-instructor", "--", "env", "HOME=/home/gc-instructor", "USER=gc-instructor",
         "/opt/gradclinic/bin/course-env", "python", "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={TOKEN}", "--ServerApp.root_dir=/home/gc-instructor/course"],
        cwd="/home/gc-instructor/course", stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(url, server, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
            # The token as a header on every request: the formgrader page's own API calls carry no
            # ?token= and, without a login cookie, are redirected to the login page.
            page = browser.new_page(viewport={"width": 1400, "height": 900},
                                    extra_http_headers={"Authorization": f"token {TOKEN}"})
            page.goto(f"{url}/formgrader/manage_submissions/01_the_problem")
            page.wait_for_selector("text=gc-learner2", timeout=120_000)
            text = page.inner_text("body")
            page.screenshot(path=tmp_path / "6-formgrader-submissions.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "gc-learner1" in text and "gc-learner2" in text
    assert "6 / 6" in text and "3 / 6" in text  # the exchange test's right and partly wrong learners
    print(f"\nformgrader screenshot: {tmp_path / '6-formgrader-submissions.png'}")
