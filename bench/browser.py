"""What a learner feels in the browser: slider moves and drags end to end, and each lesson's first figure.

JupyterLab on 127.0.0.1 and Debian's chromium driven by Playwright (headless). Times are taken in
the page, on ``performance.now()``'s clock: from the input event (the key or pointer event's
``timeStamp``) to the first animation frame after the explorer's new image was decoded (painted).

- ``explorers``: one scratch notebook per explorer (made as ``bench/explorers.py`` makes it). For
  every slider: single moves (one arrow key each, alternating direction), p50/p95; then a 2-second
  drag across the slider at a hand's event rate (60 pointer moves a second): how long after the
  pointer is released the last frame lands, frames painted during the drag, stale frames (painted
  after release, before the last), bytes per frame.
- ``first_figure``: each lesson as a learner who has done its exercises has it (the release with
  the solutions filled in), run from the top (Run All as soon as the kernel is idle): seconds from
  opening it to the notebook's first image, split into opening (until the notebook shows), kernel
  start and the cells before the figure. Opened two ways: fresh (a new browser profile loads
  JupyterLab with the lesson: a session's first lesson, JupyterLab's own scripts loaded first)
  and in a running JupyterLab (double-clicked in its file browser: every later lesson).
- ``encodings``: what a frame would weigh and cost to encode in other formats or at a smaller size.
"""

import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "gradient-clinic-bench"
BROWSER_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
SINGLE_MOVES = 12
DRAG_SECONDS, DRAG_EVENTS_PER_SECOND = 2.0, 60
QUIET_SECONDS = 1.5  # no new frame for this long after a move: the kernel has caught up

# Recorded in the page: every new image in an explorer's output, stamped at the next animation
# frame (when it is painted), with its size; the last input event's timestamp; and until the
# notebook's first image is painted (gcFirstImage), when each cell finished (its prompt shows a
# number), with its first line.
WATCH_FRAMES = """() => {
  window.gcFrames = []; window.gcInput = null; window.gcFirstImage = null; window.gcCellsDone = [];
  for (const kind of ['keydown', 'pointerdown', 'pointerup'])
    document.addEventListener(kind, e => { window.gcInput = {kind, t: e.timeStamp}; }, true);
  const seen = new WeakSet(), done = new WeakSet();
  new MutationObserver(() => {
    if (window.gcFirstImage === null) {
      for (const cell of document.querySelectorAll('.jp-Notebook .jp-CodeCell')) {
        const prompt = cell.querySelector('.jp-InputPrompt');
        if (done.has(cell) || !prompt || !/\[\d+\]/.test(prompt.textContent)) continue;
        done.add(cell);
        const line = (cell.querySelector('.cm-line') || {}).textContent || '';
        window.gcCellsDone.push({t: performance.now(), line: line.slice(0, 60)});
      }
      const first = document.querySelector('.jp-OutputArea-output img');
      if (first) {
        window.gcFirstImage = -1;
        // Run All does not scroll: bring the figure on screen, as a learner reading the cell that
        // made it would, and time its paint there.
        first.scrollIntoView({block: 'center'});
        first.decode().then(() => requestAnimationFrame(() => { window.gcFirstImage = performance.now(); }));
      }
    }
    for (const img of document.querySelectorAll('.widget-output img, .widget-image')) {
      if (seen.has(img) && img.dataset.gcSrc === img.src) continue;
      seen.add(img); img.dataset.gcSrc = img.src;
      // An Output's image is a base64 data URL; an Image widget's a blob URL (binary, fetched locally).
      const frame = {t: null, bytes: null};
      if (img.src.startsWith('data:')) frame.bytes = Math.round((img.src.length - img.src.indexOf(',') - 1) * 3 / 4);
      else if (img.src.startsWith('blob:')) fetch(img.src).then(r => r.blob()).then(b => { frame.bytes = b.size; }, () => {});
      // Painted at the first animation frame after the image is decoded; an image replaced before
      // it decoded was never painted (decode() rejects) and is not counted.
      img.decode().then(() => requestAnimationFrame(() => { frame.t = performance.now(); window.gcFrames.push(frame); }),
                        () => {});
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAUNCHER_PATH = COURSE_ROOT / "scripts" / "open.py"


def course_launcher():
    """scripts/open.py, the learner's launcher (a script, not a package), as a module: the bench and
    the tests start JupyterLab with the configuration it writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_launcher", LAUNCHER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def jupyterlab(workspace, log_path):
    """JupyterLab on loopback over ``workspace`` with the course importable; yield its URL."""
    settings = Path(tempfile.mkdtemp(prefix="lab-settings-")) / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')  # render every cell
    port = _free_port()
    # The learner's configuration, as scripts/open writes it (the instructor's extensions off); the
    # course on PYTHONPATH too, where a learner's server has none: the explorer bench imports bench/.
    config = course_launcher().write_learner_config(settings.parent.parent.parent / "learner-config")
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings.parent.parent),
           "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_CONFIG_PATH": str(config),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(COURSE_ROOT), os.environ.get("PYTHONPATH")]))}
    # A learner's kernel: explorers make widgets, and matplotlib's inline backend draws every figure
    # (this process's Agg would leave the lessons' plt.show() figures undrawn and untimed).
    for name in ("GRADCLINIC_HEADLESS", "MPLBACKEND"):
        env.pop(name, None)
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                                   f"--port={port}", f"--IdentityProvider.token={TOKEN}",
                                   f"--ServerApp.root_dir={workspace}", "--allow-root"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start:\n{Path(log_path).read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _explorer_notebook(path, name):
    import nbformat

    from autograder.build import KERNELSPEC

    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    notebook.cells = [nbformat.v4.new_code_cell(
        "import gradclinic\n\ngradclinic.setup(0)\nfrom bench.explorers import EXPLORERS\n\n"
        f"explorer = EXPLORERS[{name!r}]()\nexplorer")]
    nbformat.write(notebook, path)


def _open_and_run(page, url, notebook):
    # A workspace of its own: the default one would reopen the previous notebook, whose kernel is
    # gone, and its "select a kernel" dialog would block this one.
    page.goto(f"{url}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    page.evaluate(WATCH_FRAMES)
    notebook_shown = page.evaluate("performance.now()")
    return notebook_shown, _run_all_when_idle(page)


def _run_all_when_idle(page):
    """Run All in the notebook shown, once its kernel is idle (a learner's Run All runs then);
    returns when the kernel was idle, on the page's clock."""
    page.wait_for_selector("text=| Idle", timeout=180_000)
    kernel_idle = page.evaluate("performance.now()")
    page.locator(".lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    return kernel_idle


def _frames(page):
    return page.evaluate("window.gcFrames.length")


def _wait_quiet(page, since, timeout=30.0):
    """Wait until more frames than ``since`` were painted and none for QUIET_SECONDS; return the count."""
    deadline, last_count, last_change = time.monotonic() + timeout, since, time.monotonic()
    while time.monotonic() < deadline:
        count = _frames(page)
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif count > since and time.monotonic() - last_change >= QUIET_SECONDS:
            return count
        time.sleep(0.05)
    return last_count


def _single_moves(page, handle):
    latencies = []
    for move in range(SINGLE_MOVES):
        before = _frames(page)
        handle.focus()
        page.keyboard.press("ArrowRight" if move % 2 == 0 else "ArrowLeft")
        try:
            page.wait_for_function(f"window.gcFrames.length > {before}", timeout=20_000)
        except Exception:
            continue  # no new frame (the move changed nothing drawn): not a latency
        latencies.append(page.evaluate(f"window.gcFrames[{before}].t - window.gcInput.t"))
        _wait_quiet(page, before + 1, timeout=5)
    return latencies


def _drag(page, handle, track):
    box, handle_box = track.bounding_box(), handle.bounding_box()
    y = handle_box["y"] + handle_box["height"] / 2
    start_x = handle_box["x"] + handle_box["width"] / 2
    before = _frames(page)
    page.mouse.move(start_x, y)
    page.mouse.down()
    events = int(DRAG_SECONDS * DRAG_EVENTS_PER_SECOND)
    for step in range(1, events + 1):  # there and back, so the drag ends away from where it began
        fraction = step / events
        x = box["x"] + box["width"] * (fraction * 2 if fraction <= 0.5 else 2 - fraction * 2) * 0.98 + 1
        page.mouse.move(x, y)
        time.sleep(1 / DRAG_EVENTS_PER_SECOND)
    page.mouse.up()
    released = page.evaluate("window.gcInput.t")
    count = _wait_quiet(page, before, timeout=60)
    frames = page.evaluate(f"window.gcFrames.slice({before})")
    after_release = [f for f in frames if f["t"] >= released]
    return {"lag_ms": round(frames[-1]["t"] - released, 1) if after_release else 0.0,
            "frames": len(frames), "stale_frames": max(0, len(after_release) - 1),
            "bytes": [f["bytes"] for f in frames if f["bytes"]]}, count


def bench_explorers(names=None):
    from bench.explorers import EXPLORERS

    names = names or sorted(EXPLORERS)
    results = {}
    with tempfile.TemporaryDirectory() as scratch, chromium() as browser:
        scratch = Path(scratch)
        for name in names:
            _explorer_notebook(scratch / f"{name}.ipynb", name)
        with jupyterlab(scratch, scratch / "lab.log") as url:
            for name in names:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                try:
                    results[name] = _bench_one_explorer(page, url, f"{name}.ipynb")
                except Exception as error:  # one explorer's failure is reported, the others still run
                    results[name] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
                finally:
                    page.close()
                    _stop_kernels(url)
                print(f"  {name}: {explorer_line(results[name])}", flush=True)
    return results


def _bench_one_explorer(page, url, notebook):
    _open_and_run(page, url, notebook)
    page.wait_for_function("window.gcFrames.length > 0", timeout=180_000)
    _wait_quiet(page, 0)
    sliders = page.locator(".widget-slider")
    single, drags, sizes = [], [], []
    for index in range(sliders.count()):
        slider = sliders.nth(index)
        handle, track = slider.locator(".noUi-handle").first, slider.locator(".noUi-base, .noUi-target").first
        single += _single_moves(page, handle)
        drag, _ = _drag(page, handle, track)
        drags.append(drag)
        sizes += drag.pop("bytes")
    if not single:
        raise RuntimeError("no slider move produced a new frame")
    return {"sliders": sliders.count(), "single_p50_ms": round(statistics.median(single), 1),
            "single_p95_ms": round(_percentile(single, 95), 1),
            "drag_lag_ms": max(d["lag_ms"] for d in drags), "drag_frames": sum(d["frames"] for d in drags),
            "stale_frames": sum(d["stale_frames"] for d in drags),
            "bytes_per_frame": int(statistics.median(sizes)) if sizes else None}


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _stop_kernels(url):
    import json

    with urllib.request.urlopen(f"{url}/api/kernels?token={TOKEN}") as answer:
        kernels = json.loads(answer.read())
    for kernel in kernels:
        request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}?token={TOKEN}", method="DELETE")
        urllib.request.urlopen(request).close()


def explorer_line(figures):
    if "error" in figures:
        return figures["error"]
    return (f"single move p50 {figures['single_p50_ms']} ms, p95 {figures['single_p95_ms']} ms; "
            f"after a drag {figures['drag_lag_ms']} ms, {figures['stale_frames']} stale of "
            f"{figures['drag_frames']} frames; {figures['bytes_per_frame']} bytes a frame")


def bench_first_figure(slugs=None):
    """Seconds from opening each lesson (worked with its solutions) to its first image on screen, and
    where they went: opening until the notebook shows, then until its kernel is idle, then each
    cell run before the figure (the figure's cell last, until its image is painted). Two ways:
    ``fresh`` and ``in_lab`` (see the module's docstring). Returns {way: (seconds, parts)}."""
    import nbformat

    from autograder.build import lesson_slugs
    from autograder.solution import worked_notebook

    slugs = slugs or lesson_slugs()
    fresh, in_lab = ({}, {}), ({}, {})
    with tempfile.TemporaryDirectory() as scratch, chromium() as browser:
        scratch = Path(scratch)
        for slug in slugs:
            # What a learner who has done the exercises opens: the release with its solutions filled
            # in (no hidden tests, which only the grader runs), written to the scratch folder.
            nbformat.write(worked_notebook(slug), scratch / f"{slug}.ipynb")
        with jupyterlab(scratch, scratch / "lab.log") as url:
            for slug in slugs:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                try:
                    # performance.now() counts from the page's navigation: the learner opening the lesson.
                    _measured(fresh, slug, lambda: _first_figure(page, 0, *_open_and_run(page, url, f"{slug}.ipynb")))
                finally:
                    page.close()
                    _stop_kernels(url)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                page.goto(f"{url}/lab/workspaces/bench-in-lab?reset&token={TOKEN}")  # as the launcher opens it
                page.wait_for_selector(".jp-DirListing-item", timeout=120_000)
                page.evaluate(WATCH_FRAMES)
                page.evaluate("() => document.addEventListener('dblclick', e => { window.gcOpened = e.timeStamp; }, true)")
                for slug in slugs:  # each stops its own kernel
                    _measured(in_lab, slug, lambda: _first_figure_from_the_file_browser(page, url, slug))
            finally:
                page.close()
    return {"fresh": fresh, "in_lab": in_lab}


def _measured(into, slug, measure):
    seconds, parts = into
    try:
        seconds[slug], went = measure()
        if went:
            parts[slug] = went
    except Exception as error:
        seconds[slug] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    print(f"  {slug}: first figure {seconds[slug]} (seconds), {parts.get(slug)}", flush=True)


def _first_figure_from_the_file_browser(page, url, slug):
    """Open ``slug`` by double-clicking it in the running JupyterLab's file browser, time its first
    figure from the double-click, then shut its kernel down and close it unsaved."""
    page.evaluate("() => { window.gcFirstImage = null; window.gcCellsDone = []; window.gcOpened = null; }")
    page.locator(".jp-DirListing-item").filter(has_text=f"{slug}.ipynb").dblclick()
    try:
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=120_000)
        notebook_shown = page.evaluate("performance.now()")
        return _first_figure(page, page.evaluate("window.gcOpened"), notebook_shown, _run_all_when_idle(page))
    finally:
        _stop_kernels(url)
        _close_unsaved(page)


def _close_unsaved(page):
    """Close the notebook in front without saving it (Run All changed it): JupyterLab's Close Tab
    (Alt+W), then "Discard" in the dialog that asks."""
    if page.locator(".jp-NotebookPanel").count():
        page.keyboard.press("Alt+w")
        page.locator(".jp-Dialog-button", has_text="Discard").click(timeout=30_000)
        page.wait_for_selector(".jp-NotebookPanel", state="detached", timeout=30_000)


def _first_figure(page, opened, notebook_shown, kernel_idle):
    """Wait for the notebook's first image painted, or every cell run without one (a lesson may have
    no figure); returns (seconds from ``opened``, where they went), every time on the page's clock."""
    page.wait_for_function("window.gcFirstImage > 0 || window.gcFirstImage === null && window.gcCellsDone.length === "
                           "document.querySelectorAll('.jp-Notebook .jp-CodeCell').length", timeout=300_000)
    figure, cells = page.evaluate("[window.gcFirstImage, window.gcCellsDone]")
    if not figure or figure < 0:
        return f"no figure; every cell had run after {(cells[-1]['t'] - opened) / 1000:.1f} s", None
    return round((figure - opened) / 1000, 1), _where_the_time_went(
        notebook_shown - opened, kernel_idle - opened, [dict(cell, t=cell["t"] - opened) for cell in cells], figure - opened)


def _where_the_time_went(notebook_shown, kernel_idle, cells, figure):
    """Seconds until JupyterLab shows the notebook, then until its kernel is idle, then per cell
    (by its first line) until the figure; cells that took under 0.3 s are summed as "other cells"."""
    went = {"until the notebook shows": round(notebook_shown / 1000, 1),
            "then until the kernel is idle": round((kernel_idle - notebook_shown) / 1000, 1)}
    other, previous = 0.0, kernel_idle
    for end, line in [(cell["t"], cell["line"]) for cell in cells if cell["t"] > kernel_idle] + [(figure, "the figure's cell")]:
        took, previous = (end - previous) / 1000, end
        if took < 0.3:
            other += took
        else:
            went[line] = round(went.get(line, 0) + took, 1)
    went["other cells"] = round(other, 1)
    return went


def _encoded(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _three_quarters(image):
    return image.resize((image.width * 3 // 4, image.height * 3 // 4), resample=0)  # nearest: cheap, as a lower dpi


# What a frame could be sent as instead of the explorers' PNG (zlib level 1): name → encoder of an RGB image.
ENCODINGS = {
    "png level 1 (now)": lambda image: _encoded(image, "png", compress_level=1),
    "png level 9": lambda image: _encoded(image, "png", compress_level=9),
    "png 256-colour palette": lambda image: _encoded(image.quantize(256), "png", compress_level=1),
    "webp lossless": lambda image: _encoded(image, "webp", lossless=True, method=0),
    "jpeg quality 85": lambda image: _encoded(image, "jpeg", quality=85),
    "png level 1, 3/4 size": lambda image: _encoded(_three_quarters(image), "png", compress_level=1),
}


def bench_encodings(names=None, frames=4):
    """Bytes and encoding time of one frame per encoding in ``ENCODINGS``, medians over ``frames``
    frames of each explorer's slider sweep (in this process, no browser)."""
    from PIL import Image

    from bench.explorers import EXPLORERS, sweep

    results = {}
    for name in names or sorted(EXPLORERS):
        explorer = EXPLORERS[name]()
        moves = sweep(explorer)
        sizes, milliseconds = {e: [] for e in ENCODINGS}, {e: [] for e in ENCODINGS}
        for move in moves[:: max(1, len(moves) // frames)][:frames]:
            explorer.update(**move)
            canvas = explorer.figure.canvas
            image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
            image = image.convert("RGB")
            for encoding, encode in ENCODINGS.items():
                started = time.perf_counter()
                sizes[encoding].append(len(encode(image)))
                milliseconds[encoding].append((time.perf_counter() - started) * 1000)
        results[name] = {e: {"bytes": int(statistics.median(sizes[e])), "ms": round(statistics.median(milliseconds[e]), 1)}
                         for e in ENCODINGS}
        print(f"  {name}: " + "; ".join(f"{e} {v['bytes']} B {v['ms']} ms" for e, v in results[name].items()), flush=True)
    return results


def encoding_lines(encodings):
    """Encoding → one line over every explorer: median bytes and encoding time of a frame."""
    by_encoding = {}
    for figures in encodings.values():
        for encoding, measured in figures.items():
            by_encoding.setdefault(encoding, []).append(measured)
    return {encoding: f"median over explorers {int(statistics.median(m['bytes'] for m in measured))} bytes, "
                      f"{statistics.median(m['ms'] for m in measured)} ms to encode"
            for encoding, measured in by_encoding.items()}


def bench_browser():
    if not Path("/usr/bin/chromium").exists():
        return {"error": "needs Debian's chromium (/usr/bin/chromium)"}
    results = {"explorers": bench_explorers()}
    for way, (seconds, parts) in bench_first_figure().items():
        results[f"first_figure_{way}_seconds"], results[f"first_figure_{way}_parts"] = seconds, parts
    results["encodings"] = bench_encodings()
    return results
