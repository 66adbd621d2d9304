"""A real class on JupyterHub (scripts/setup-hub), lived end to end: PAM sign-in on the hub's
login page, nbgrader's formgrader as the course's hub service, learners' own servers with the
course's environment, a memory cgroup each and no way to the grader.

The module starts the hub with the project's script and stops it at the end. Its browser test
(Debian's chromium driven by Playwright) keeps a screenshot of every step in its temporary
directory and prints where. Needs root (accounts, passwords, the hub's spawner), as CI has; it
shares the accounts and the exchange with tests/test_exchange.py, hence the "exchange" group.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import COURSE_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("exchange"),
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix accounts and runs a hub: needs root, as CI has"),
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium"),
              pytest.mark.skipif(shutil.which("npm") is None, reason="the hub's proxy comes from npm")]
COURSE = Path("/home/gc-instructor/course")
SLUG = "01_the_problem"
BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
WRONG_NORMS = '''import tensorflow as tf


def layer_gradient_norms(model, x, y, loss_fn):
    kernels = [layer.kernel for layer in model.layers if getattr(layer, "kernel", None) is not None]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)][::-1]
'''
WRONG_ACTIVATIONS = '''def deep_linear_activations(x, scale, depth):
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or depth < 1:
        raise ValueError("bad input")
    return np.array([np.linalg.norm(x) * scale ** layer for layer in range(depth)])
'''


def _script(*arguments, timeout=900):
    done = subprocess.run([str(COURSE_ROOT / "scripts" / "setup-hub"), *arguments], capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"setup-hub {' '.join(arguments)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def hub():
    """The class's hub, as scripts/setup-hub starts it, over a fresh 01_the_problem life."""
    import hub_life

    if Path(hub_life.SETTINGS).exists():
        _script("--stop")  # servers of an earlier run: their files are reset below
    exchange = Path("/srv/nbgrader/exchange/gradient-clinic")
    for stale in [exchange / "outbound" / SLUG, *exchange.glob(f"inbound/*+{SLUG}+*"), *exchange.glob("feedback/*"),
                  *(Path(f"/home/gc-learner{i}/{SLUG}") for i in (1, 2)),
                  *(path for i in (1, 2) for path in  # the learner's record of what they submitted
                    Path(f"/home/gc-learner{i}/.local/share/jupyter/nbgrader_cache").glob(f"*/*+{SLUG}+*")),
                  *(COURSE / d for d in ("gradebook.db", "submitted", "autograded", "feedback", ".autograder"))]:
        subprocess.run(["rm", "-rf", str(stale)], check=True)
    started = time.perf_counter()
    log = _script("--learners", "2")
    seconds = time.perf_counter() - started
    print(f"\nsetup-hub: ready in {seconds:.0f} s\n{log.strip().splitlines()[-1]}")
    yield {"hub": hub_life.Hub(), "url": hub_life.hub_url(), "passwords": hub_life.passwords(),
           "settings": hub_life.settings(), "start_seconds": seconds}
    _script("--stop")


@pytest.fixture(scope="module")
def learner1_kernel(hub):
    from hub_life import Kernel

    hub["hub"].start_server("gc-learner1")
    kernel = Kernel("gc-learner1", hub["hub"].user_token("gc-learner1"))
    yield kernel
    kernel.close()


# -- a learner's own kernel on the hub ----------------------------------------------------------
def test_a_learners_kernel_cannot_reach_the_grader(learner1_kernel):
    probe = learner1_kernel.run("import os, sys, gradclinic; print(os.getuid(), sys.prefix, gradclinic.__file__)")
    assert probe["error"] is None and "/opt/gradclinic/venv" in probe["stdout"], probe
    print(f"\nlearner's kernel: {probe['stdout'].strip()}")
    imported = learner1_kernel.run("import autograder")
    assert imported["error"] == "ModuleNotFoundError: No module named 'autograder'", imported
    print(f"import autograder → {imported['error']}")
    for target in [COURSE / "solutions" / SLUG / f"{SLUG}.py", COURSE / "autograder" / "graders" / "l01_the_problem.py",
                   COURSE / "nbgrader_config.py", COURSE / "gradebook.db",
                   COURSE_ROOT / "solutions" / SLUG / f"{SLUG}.py", COURSE_ROOT / "autograder" / "__init__.py",
                   Path("/home/gc-learner2/.jupyter/nbgrader_config.py"), Path("/etc/gradclinic/hub-passwords")]:
        read = learner1_kernel.run(f"open({str(target)!r}).read()")
        assert read["error"] and read["error"].startswith("PermissionError"), (target, read)
    listed = learner1_kernel.run("import os; os.listdir('/srv/nbgrader/exchange/gradient-clinic/inbound')")
    assert listed["error"] and listed["error"].startswith("PermissionError"), listed  # others' submissions


def test_a_learners_server_has_threads_and_a_memory_limit_that_holds(hub, learner1_kernel):
    threads = str(hub["settings"]["threads"])
    shown = learner1_kernel.run("import os; print([os.environ.get(k) for k in "
                                "('OMP_NUM_THREADS', 'TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS')])")
    assert shown["stdout"].strip() == str([threads] * 3), shown
    v1 = Path("/sys/fs/cgroup/memory/gradclinic-hub/gc-learner1")
    cgroup = v1 if v1.is_dir() else Path("/sys/fs/cgroup/gradclinic-hub/gc-learner1")
    assert cgroup.is_dir(), "the learner's server runs in its own memory cgroup"
    limit = int((cgroup / ("memory.limit_in_bytes" if cgroup == v1 else "memory.max")).read_text())
    assert limit <= 4 * 2**30
    oom_kills = _oom_kills(cgroup)
    # A kernel that allocates past the limit is ended by the kernel's OOM killer; the server stays.
    hog = learner1_kernel.run(f"import numpy as np; block = np.ones({limit + 2**29} // 8); print('survived')", timeout=120)
    assert hog["died"] and "survived" not in hog["stdout"], hog
    assert _oom_kills(cgroup) > oom_kills
    status, _ = hub["hub"].request("GET", "/hub/api/users/gc-learner1")
    assert status == 200 and hub["hub"].api("GET", "/users/gc-learner1")["servers"][""]["ready"]
    print(f"\nmemory limit {limit / 2**30:.1f} GiB held: the allocating kernel was OOM-killed, its server stayed up")


def _oom_kills(cgroup):
    """How many times the OOM killer acted in this cgroup (v1: memory.oom_control, v2: memory.events)."""
    source = cgroup / "memory.oom_control" if (cgroup / "memory.oom_control").exists() else cgroup / "memory.events"
    fields = dict(line.split() for line in source.read_text().splitlines())
    return int(fields.get("oom_kill", 0))


def test_learners_get_no_formgrader_and_the_idle_culler_runs(hub):
    from hub_life import Hub

    hub["hub"].start_server("gc-learner2")
    learner = Hub(hub["hub"].user_token("gc-learner2"), hub["url"])
    status, _ = learner.request("GET", "/services/gradient-clinic/formgrader/manage_assignments")
    assert status in (302, 403), status  # the course service is the formgrade group's only
    status, _ = learner.request("GET", "/user/gc-learner2/formgrader/api/assignments")
    assert status == 404, status  # and the learner's own server has no formgrader
    page = (Path("/home/gc-learner2/.jupyter/labconfig/page_config.json")).read_text()
    assert '"@jupyter/nbgrader:formgrader": true' in page and '"@jupyter/nbgrader:create-assignment": true' in page
    services = hub["hub"].api("GET", "/services")
    assert "idle-culler" in services and "jupyterhub_idle_culler" in " ".join(services["idle-culler"]["command"])
    # The culler is at work: it lists the users' servers as soon as it starts.
    assert "GET /hub/api/users?state=[secret] (idle-culler@127.0.0.1)" in Path("/var/log/gradclinic-hub.log").read_text()


def _ignores_sigint(pid):
    """Whether process ``pid`` ignores SIGINT (its bit in /proc's SigIgn mask)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return bool(int(fields["SigIgn"], 16) & 1 << signal.SIGINT - 1)


def test_the_hub_and_the_servers_it_starts_stop_on_sigint(hub, learner1_kernel):
    """JupyterHub stops a service or a learner's server with SIGINT and waits 10 s before trying
    SIGTERM: one that ignored SIGINT (as a shell's background job does, and hands on) would hold up
    every stop and restart of the hub by 10 s a process."""
    from autograder.caps import _process_table  # the sandbox watchdog's /proc reader

    hub_pid = int(Path("/var/lib/gradclinic/hub/jupyterhub.pid").read_text())
    started = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
               for pid, (parent, _, _) in _process_table("/proc").items() if parent == hub_pid}
    assert any("jupyterhub_idle_culler" in command for command in started.values()), started
    assert sum("jupyterhub-singleuser" in command for command in started.values()) >= 2, started  # formgrader, learner1
    assert not _ignores_sigint(hub_pid)
    assert not [command for pid, command in started.items() if _ignores_sigint(pid)]


# -- the class's life in a browser ------------------------------------------------------------
class Shots:
    def __init__(self, folder):
        self.folder, self.count = folder, 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name):
        self.count += 1
        page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png")


def _sign_in(browser, url, user, password, next_url=None):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{url}/hub/login" + (f"?next={next_url}" if next_url else ""))
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    return page


def _formgrader_action(page, row, cell):
    """Click a formgrader action in a table row; return the modal's text (after closing it)."""
    page.locator("tr", has=page.locator("td", has_text=row)).locator(f"td.{cell} a").first.click()
    modal = page.locator("#success-modal, #error-modal").first
    modal.wait_for(state="visible", timeout=600_000)
    text = modal.inner_text()
    modal.locator(".modal-footer button").first.click()
    modal.wait_for(state="detached", timeout=30_000)
    page.wait_for_timeout(500)
    return text


def _open_lab(page, user):
    page.wait_for_url(f"**/user/{user}/lab**", timeout=300_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=180_000)


def _assignments(page):
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(".lm-Menu-item", has_text="Assignment List").first.click()
    page.wait_for_selector("#released_assignments_list", timeout=60_000)


def _assignment_button(page, listing, label):
    item = page.locator(f"#{listing} .list_item", has_text=SLUG).first
    item.wait_for(timeout=120_000)
    return item.locator("button", has_text=label).first


def _open_notebook(page, url, user):
    page.goto(f"{url}/user/{user}/lab/tree/{SLUG}/{SLUG}.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector("text=| Idle", timeout=240_000)


def _replace_cell_source(page, text_in_cell, source):
    cell = page.locator(".jp-CodeCell", has_text=text_in_cell).first
    cell.scroll_into_view_if_needed()
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


def _save(page):
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)


def _wait_for_file(folder, name, timeout=120):
    for _ in range(timeout * 2):
        found = sorted(folder.rglob(name)) if folder.is_dir() else []
        if found:
            return found[-1]
        time.sleep(0.5)
    raise AssertionError(f"no {name} in {folder} after {timeout} s")


def _render_every_cell(user):
    """The learner's own JupyterLab setting: render every cell (JupyterLab 4 renders those on screen)."""
    folder = Path(f"/home/{user}/.jupyter/lab/user-settings/@jupyterlab/notebook-extension")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    subprocess.run(["chown", "-R", f"{user}:{user}", f"/home/{user}/.jupyter/lab"], check=True)


def test_the_class_lives_a_lesson_on_the_hub(hub, tmp_path):
    from playwright.sync_api import sync_playwright

    url, passwords, shots = hub["url"], hub["passwords"], Shots(tmp_path / "screenshots")
    from autograder.solution import solution_cells

    right = solution_cells(SLUG)
    for user in ("gc-learner1", "gc-learner2"):
        _render_every_cell(user)
    started = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        # The instructor signs in and releases 01 from the course's formgrader.
        instructor = _sign_in(browser, url, "gc-instructor", passwords["gc-instructor"],
                              "/services/gradient-clinic/formgrader/manage_assignments")
        instructor.wait_for_selector(f"td.name >> text={SLUG}", timeout=180_000)
        shots(instructor, "instructor-formgrader")
        assert "Successfully" in _formgrader_action(instructor, SLUG, "assign")
        assert "Successfully released" in _formgrader_action(instructor, SLUG, "release")
        shots(instructor, "instructor-released-01")

        # Learner 1: fetch, open, one exercise right and one wrong, the explorer, Validate, submit.
        one = _sign_in(browser, url, "gc-learner1", passwords["gc-learner1"])
        _open_lab(one, "gc-learner1")
        _assignments(one)
        _assignment_button(one, "released_assignments_list", "Fetch").click()
        _assignment_button(one, "fetched_assignments_list", "Submit").wait_for(timeout=120_000)
        shots(one, "learner1-fetched")
        _open_notebook(one, url, "gc-learner1")
        _replace_cell_source(one, "def deep_linear_activations", right["deep_linear_activations"])
        _replace_cell_source(one, "def layer_gradient_norms", WRONG_NORMS)
        _run_all(one)  # stops at the failing self-check of layer_gradient_norms, after the explorer
        slider = one.locator(".widget-slider", has_text="depth L").first
        slider.scroll_into_view_if_needed()
        one.wait_for_selector(".widget-image", timeout=120_000)
        before = one.locator(".widget-image").first.get_attribute("src")
        shots(one, "learner1-explorer-before")
        slider.locator(".widget-readout").click()
        one.keyboard.press("Control+a")
        one.keyboard.insert_text("80")
        one.keyboard.press("Enter")
        one.wait_for_function("(before) => { const img = document.querySelector('.widget-image');"
                              " return img && img.src !== before; }", arg=before, timeout=120_000)
        shots(one, "learner1-explorer-after")
        one.locator(".jp-Toolbar button, .jp-ToolbarButtonComponent", has_text="Validate").first.click()
        dialog = one.locator(".jp-Dialog")
        dialog.wait_for(timeout=300_000)
        one.wait_for_function("() => !document.querySelector('.jp-Dialog').innerText.includes('Validating')",
                              timeout=300_000)
        validated = dialog.inner_text()
        shots(one, "learner1-validate")
        assert "layer_gradient_norms" in validated and "deep_linear_activations(np.array" not in validated, validated
        one.keyboard.press("Escape")
        _save(one)
        _assignments(one)
        _assignment_button(one, "fetched_assignments_list", "Submit").click()
        _assignment_button(one, "submitted_assignments_list", "Fetch Feedback").wait_for(timeout=120_000)
        shots(one, "learner1-submitted")

        # Learner 2: a different mix (activations off by one layer, norms not done), saved and submitted.
        two = _sign_in(browser, url, "gc-learner2", passwords["gc-learner2"])
        _open_lab(two, "gc-learner2")
        _assignments(two)
        _assignment_button(two, "released_assignments_list", "Fetch").click()
        _assignment_button(two, "fetched_assignments_list", "Submit").wait_for(timeout=120_000)
        _open_notebook(two, url, "gc-learner2")
        _replace_cell_source(two, "def deep_linear_activations", WRONG_ACTIVATIONS)
        _save(two)
        shots(two, "learner2-worked")
        _assignments(two)
        _assignment_button(two, "fetched_assignments_list", "Submit").click()
        _assignment_button(two, "submitted_assignments_list", "Fetch Feedback").wait_for(timeout=120_000)
        shots(two, "learner2-submitted")

        # The instructor collects, autogrades (the sandboxed grader), makes and releases feedback.
        instructor.reload()
        instructor.wait_for_selector(f"td.name >> text={SLUG}")
        assert "Successfully collected" in _formgrader_action(instructor, SLUG, "collect")
        instructor.goto(f"{url}/services/gradient-clinic/formgrader/manage_submissions/{SLUG}")
        for learner in ("gc-learner1", "gc-learner2"):
            instructor.wait_for_selector(f"text={learner}")
            outcome = _formgrader_action(instructor, learner, "autograde")
            assert "Successfully autograded" in outcome, outcome
        instructor.reload()
        instructor.wait_for_selector("text=gc-learner2")
        graded = instructor.inner_text("body")
        shots(instructor, "instructor-autograded")
        instructor.goto(f"{url}/services/gradient-clinic/formgrader/manage_assignments")
        instructor.wait_for_selector(f"td.name >> text={SLUG}")
        assert "Successfully generated feedback" in _formgrader_action(instructor, SLUG, "generate-feedback")
        assert "Successfully released feedback" in _formgrader_action(instructor, SLUG, "release-feedback")
        shots(instructor, "instructor-feedback-released")

        # Each learner fetches their feedback: their own score, no hidden test's code.
        pages = {}
        for user, page in (("gc-learner1", one), ("gc-learner2", two)):
            _assignments(page)
            _assignment_button(page, "submitted_assignments_list", "Fetch Feedback").click()
            feedback = _wait_for_file(Path(f"/home/{user}/{SLUG}/feedback"), f"{SLUG}.html")
            page.locator("#submitted_assignments_list .list_item", has_text=SLUG).first.locator(
                "text=view feedback").wait_for(timeout=60_000)
            page.goto(f"{url}/user/{user}/files/{feedback.relative_to(f'/home/{user}')}")
            page.wait_for_selector("text=Score", timeout=60_000)
            pages[user] = page.inner_text("body")
            shots(page, f"{user.replace('gc-', '')}-feedback")

        # Learner 2 cannot open learner 1's files through the hub.
        two.goto(f"{url}/user/gc-learner1/files/{SLUG}/{SLUG}.ipynb")
        two.wait_for_load_state()
        trespass = two.inner_text("body")
        shots(two, "learner2-denied-learner1")
        browser.close()
    seconds = time.perf_counter() - started
    print(f"\nbrowser life: {seconds:.0f} s; screenshots in {shots.folder}:")
    for shot in sorted(shots.folder.glob("*.png")):
        print(f"  {shot.name}")
    assert "gc-learner1" in graded and "gc-learner2" in graded
    assert "3.0 / 6.0" in pages["gc-learner1"], pages["gc-learner1"][:2000]
    assert "0.0 / 6.0" in pages["gc-learner2"] and "off by one layer" in pages["gc-learner2"], pages["gc-learner2"][:2000]
    for text in pages.values():
        assert "BEGIN HIDDEN TESTS" not in text and "from autograder import check" not in text
    assert "403" in trespass or "Forbidden" in trespass, trespass[:500]


def test_setup_exchange_updates_only_what_the_instructor_left_alone(hub, tmp_path):
    """A course update reaches the files the instructor never changed; their edits stay (the
    course's version put aside for them); the grader's code always follows the course, an edit
    to it saved first; nothing else in the course directory is touched."""
    source = tmp_path / "course-v2"
    for item in ("solutions", "lessons", "autograder", "gradclinic"):
        shutil.copytree(COURSE_ROOT / item, source / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", source)
    untouched, edited, grader = (Path("solutions/00_welcome/00_welcome.py"), Path(f"solutions/{SLUG}/{SLUG}.py"),
                                 Path("autograder/plan.py"))
    originals = {path: (COURSE / path).read_text() for path in (untouched, edited, grader)}
    for path in (untouched, edited, grader):
        (source / path).write_text((source / path).read_text() + "# course v2\n")
    for path in (edited, grader):
        (COURSE / path).write_text(originals[path] + "# the instructor's own line\n")
    (COURSE / "notes.txt").write_text("mine")
    env = {**os.environ, "GRADCLINIC_COURSE_SOURCE": str(source)}
    try:
        done = subprocess.run([str(COURSE_ROOT / "scripts" / "setup-exchange")], env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        print(f"\n{done.stdout.strip()}")
        assert (COURSE / untouched).read_text().endswith("# course v2\n")
        assert (COURSE / edited).read_text().endswith("# the instructor's own line\n")
        assert (COURSE / grader).read_text().endswith("# course v2\n")
        updates = sorted(Path("/home/gc-instructor/course-updates").iterdir())[-1]
        assert (updates / "new" / edited).read_text().endswith("# course v2\n")
        assert (updates / "yours" / grader).read_text().endswith("# the instructor's own line\n")
        assert (COURSE / "notes.txt").read_text() == "mine"
        assert f"kept your version of {edited}" in done.stdout
    finally:  # back to the course as it is, the instructor's edit undone by the instructor
        (COURSE / edited).write_text(originals[edited])
        (COURSE / "notes.txt").unlink()
        subprocess.run([str(COURSE_ROOT / "scripts" / "setup-exchange")], capture_output=True, check=True, timeout=600)
    for path in (untouched, edited, grader):
        assert (COURSE / path).read_text() == (COURSE_ROOT / path).read_text()


def test_running_setup_hub_again_keeps_everyones_work(hub):
    """setup-hub run again (here: one more learner) restarts the hub and its proxy, not the learners'
    servers: a kernel keeps its state, its channels reconnect (as JupyterLab's do)."""
    from hub_life import Kernel

    hub["hub"].start_server("gc-learner1")
    kernel = Kernel("gc-learner1", hub["hub"].user_token("gc-learner1"))
    kernel.run("kept_in_memory = 1234")
    note = Path("/home/gc-learner1/my-notes.txt")
    note.write_text("mine")
    _script("--learners", "3")
    kernel.connect()
    assert kernel.run("print(kept_in_memory)")["stdout"].strip() == "1234"
    kernel.close()
    assert note.read_text() == "mine"
    assert "gc-learner3 " in Path("/etc/gradclinic/hub-passwords").read_text()
    assert "gc-learner3" in hub["hub"].api("GET", "/groups/nbgrader-gradient-clinic")["users"]
    note.unlink()
