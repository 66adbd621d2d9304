"""Gradient Clinic's benchmarks: what learners and instructors feel, measured side by side.

    python bench/run.py [--only notebooks,slider,browser,grading,memory,monitor,report] [--class-size 24]
    python bench/run.py --only grading --class-sizes 24,96,200 [--scaling-lessons 01_the_problem,...]
                                                          (grading, then a class-size sweep: grading.scaling)
    python bench/run.py --only hub [--hub-sizes 1,4,8] [--hub-lesson 00_welcome]   (root: a class hub's capacity)

Writes bench/results.json and prints a table. Figures are medians and percentiles of one run
on this machine; nothing here asserts a time (tests never do either).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(COURSE_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")
SECTIONS = ("notebooks", "slider", "browser", "grading", "memory", "monitor", "report")
# Run only when asked (--only hub): needs root, starts a JupyterHub with Unix accounts.
ON_REQUEST = ("hub",)


def tool_environment():
    from autograder.build import tool_environment as base

    env = base()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COURSE_ROOT), env.get("PYTHONPATH")]))
    return env


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# -- notebooks ------------------------------------------------------------------------------
def bench_notebooks():
    """Headless run time of every solution notebook (nbclient, one fresh kernel each)."""
    from nbclient.exceptions import CellExecutionError

    from autograder.build import lesson_slugs, notebook_from_source
    from autograder.expected_output import run_headless

    seconds = {}
    for slug in lesson_slugs():
        notebook = notebook_from_source(COURSE_ROOT / "solutions" / slug / f"{slug}.py")
        try:
            seconds[slug], failed = round(run_headless(notebook, slug, COURSE_ROOT), 1), ""
        except CellExecutionError as error:
            seconds[slug], failed = None, f" (ERROR: {str(error).splitlines()[-1] if str(error) else error!r})"
        print(f"  {slug}: {seconds[slug]} s{failed}", flush=True)
    timed = [value for value in seconds.values() if value is not None]
    return {"seconds": seconds, "total_seconds": round(sum(timed), 1), "max_seconds": max(timed, default=0)}


# -- slider ---------------------------------------------------------------------------------
def bench_slider():
    """Latency of one slider move as the learner feels it: compute, in-place Agg render and
    the PNG the view shows, for every explorer (made as its lesson makes it)."""
    import gradclinic
    from bench.explorers import EXPLORERS, explorer_classes, sweep

    gradclinic.setup(0)
    per_explorer, everything = {}, []
    for name in sorted(explorer_classes()):
        try:
            explorer = EXPLORERS[name]()
        except Exception as error:
            per_explorer[name] = {"error": f"could not be made for the bench: {error!r}"}
            continue
        moves = sweep(explorer)
        explorer.update(**moves[0])  # warm-up: first traces and caches
        times = []
        for move in moves:
            started = time.perf_counter()
            explorer.update(**move)
            explorer.png(render=False)
            times.append((time.perf_counter() - started) * 1000)
        everything += times
        per_explorer[name] = {"moves": len(times), "p50_ms": round(statistics.median(times), 1),
                              "p95_ms": round(percentile(times, 95), 1)}
        print(f"  {name}: p50 {per_explorer[name]['p50_ms']} ms, p95 {per_explorer[name]['p95_ms']} ms", flush=True)
    return {"p50_ms": round(statistics.median(everything), 1) if everything else None,
            "p95_ms": round(percentile(everything, 95), 1) if everything else None, "explorers": per_explorer}


# -- grading --------------------------------------------------------------------------------
CRASHING = "import os\nos._exit(1)\n"
PARTLY_WRONG = ("def deep_linear_activations(x, scale, depth):\n    x = np.asarray(x, dtype=float)\n"
                "    return np.array([np.linalg.norm(x) * scale ** l for l in range(depth)])\n")
GRADING_LESSON = "01_the_problem"


def _synthetic_class(root, size, slug=GRADING_LESSON):
    """``size`` submissions: for lesson 01 right, partly wrong and crashing in turn; for another
    lesson its worked solution (what a class that did the work sends)."""
    from autograder.solution import worked_notebook
    from tests.classroom import submit

    for i in range(size):
        kind = ("right", "partly_wrong", "crashing")[i % 3] if slug == GRADING_LESSON else "right"
        changes = {"right": {}, "partly_wrong": {"deep_linear_activations": PARTLY_WRONG},
                   "crashing": {"layer_gradient_norms": CRASHING}}[kind]
        submit(root, f"learner{i:03d}_{kind}", slug, worked_notebook(slug, root, changes))


def _fresh_course(size, slug=GRADING_LESSON):
    from autograder.build import build, copy_course

    root = copy_course(Path(tempfile.mkdtemp(prefix="gradclinic-bench-")) / "course")
    build([slug], course_root=root)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", slug, "--force"],
                          cwd=root, env=tool_environment(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
    _synthetic_class(root, size, slug)
    return root


def _measured(command, root, check=True):
    """Run ``command`` in ``root``: wall seconds, CPU seconds of it and every process it reaped
    (kernels, sandboxes), and the machine's 1-minute load average before and after (the machine
    is shared: a figure taken under load says so). ``check``: its exit code must be 0."""
    import resource

    before, load_before, started = resource.getrusage(resource.RUSAGE_CHILDREN), os.getloadavg()[0], time.perf_counter()
    done = subprocess.run(command, cwd=root, env=tool_environment(), capture_output=True, text=True)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def _grade(root, slug, workers):
    """``python -m autograder grade`` measured; returns the figures and the records it wrote. Its
    sandboxes' CPU time does not reach RUSAGE_CHILDREN (bubblewrap's pid-namespace init does
    not pass it on), so each runner's own count is added (a crashed first attempt's is not)."""
    shutil.rmtree(root / ".autograder", ignore_errors=True)
    run = _measured([sys.executable, "-m", "autograder", "grade", slug, "--workers", str(workers), "--regrade"], root)
    records = _records(root, slug)
    sandboxes = sum(t.get(name) or 0 for t in (r.get("timings", {}) for r in records)
                    for name in ("kernel_cpu_seconds", "import_cpu_seconds", "cells_cpu_seconds"))
    run["cpu_seconds"] = round(run["cpu_seconds"] + sandboxes, 1)
    return run, records


def _records(root, slug):
    return [json.loads(p.read_text()) for p in (root / ".autograder" / slug).glob("*.json")]


def _cpu_split(records):
    """Median seconds per submission of each part of its grading (from the records' timings;
    the runner measures its own CPU before and after the learner's code, the grader its thread's).
    A runner's start-up (kernel, imports) is paid once and charged to its first submission, so
    it is given as the class's total spread over the class, with the number of runners paying it."""
    timed = [r["timings"] for r in records if r.get("timings")]
    if not timed:
        return {}

    def median(name):
        values = [t[name] for t in timed if t.get(name) is not None]
        return round(statistics.median(values), 3) if values else None

    def spread(name):
        return round(sum(t.get(name) or 0 for t in timed) / len(timed), 3)

    return {"submissions_timed": len(timed), "runners_started": sum(bool(t.get("import_cpu_seconds")) for t in timed),
            "kernel_start_cpu": spread("kernel_cpu_seconds"), "imports_cpu": spread("import_cpu_seconds"),
            "cells_and_calls_cpu": median("cells_cpu_seconds"),
            "judging": median("judge_seconds"), "nbgrader_and_gradebook": median("nbgrader_seconds"),
            "grader_cpu": median("grader_cpu_seconds"), "sandbox_after_handover_wall": median("sandbox_seconds")}


def bench_grading(size, memory, class_sizes=(), scaling_lessons=(GRADING_LESSON,)):
    """The same synthetic class graded by plain sequential nbgrader and by the sandboxed grader
    (1 and 2 workers), with CPU per submission and its split; then, given ``class_sizes``, the
    sandboxed grader (2 workers) on classes of those sizes, for each of ``scaling_lessons``."""
    figures = {"submissions": size, "lesson": GRADING_LESSON}
    root = _fresh_course(size)
    # Plain nbgrader: its own kernel, trusting the notebook (the course's config must be told by name).
    # It exits non-zero for the crashing third of the class, which it fails to grade.
    plain = _measured([sys.executable, "-m", "nbgrader", "autograde", GRADING_LESSON, "--create",
                       "--SandboxedExecute.in_kernel=True"], root, check=False)
    figures["nbgrader"] = {**plain, "cpu_per_submission": round(plain["cpu_seconds"] / size, 2),
                           "per_minute": round(size / plain["seconds"] * 60, 2)}
    print(f"  plain nbgrader autograde: {plain}", flush=True)
    for workers in (1, 2):
        run, records = _grade(root, GRADING_LESSON, workers)
        figures[f"autograder_{workers}w"] = {**run, "cpu_per_submission": round(run["cpu_seconds"] / size, 2),
                                             "per_minute": round(size / run["seconds"] * 60, 2),
                                             "cpu_split": _cpu_split(records)}
        print(f"  autograder --workers {workers}: {figures[f'autograder_{workers}w']}", flush=True)
    figures["speedup_vs_nbgrader"] = round(plain["seconds"] / figures["autograder_2w"]["seconds"], 2)
    figures["speedup_2w_vs_1w"] = round(figures["autograder_1w"]["seconds"] / figures["autograder_2w"]["seconds"], 2)
    memory["grading_worker_peak_mb"] = round(max(r["grader_peak_bytes"] for r in records) / 2**20)
    peaks = [r["sandbox_peak_bytes"] for r in records if r.get("sandbox_peak_bytes")]
    memory["lesson_kernel_peak_mb"] = round(max(peaks) / 2**20) if peaks else None
    shutil.rmtree(root.parent, ignore_errors=True)
    if class_sizes:
        figures["scaling"] = {slug: bench_grading_scaling(slug, class_sizes) for slug in scaling_lessons}
    return figures


def bench_grading_scaling(slug, sizes, workers=2):
    """Seconds per submission and the grader's peak memory as the class grows (one fresh class
    per size, graded by ``python -m autograder grade --workers 2``)."""
    rows = {}
    for size in sizes:
        root = _fresh_course(size, slug)
        run, records = _grade(root, slug, workers)
        rows[str(size)] = {**run, "seconds_per_submission": round(run["seconds"] / size, 2),
                           "cpu_per_submission": round(run["cpu_seconds"] / size, 2),
                           "grader_peak_mb": round(max(r["grader_peak_bytes"] for r in records) / 2**20),
                           "graded": sum(r["status"] == "graded" for r in records)}
        print(f"  {slug} class of {size}: {rows[str(size)]}", flush=True)
        shutil.rmtree(root.parent, ignore_errors=True)
    return rows


# -- report ---------------------------------------------------------------------------------
def bench_report(size=200):
    """``python -m autograder report`` on a synthetic graded class of lesson 05 (tests/test_report.py:
    real gradebook, records in WriteGradingRecord's format, messages from the real judges)."""
    sys.path.insert(0, str(COURSE_ROOT / "tests"))
    from test_report import ASSIGNMENT, CLASS, course_with_class

    students = size * len(CLASS) // (len(CLASS) - 1)  # one in len(CLASS) never submits
    root = course_with_class(Path(tempfile.mkdtemp(prefix="gradclinic-bench-")) / "course", students)
    figures = {"submissions": sum(1 for _ in (root / ".autograder" / ASSIGNMENT).glob("*.json"))}
    for name, arguments in (("assignment", [ASSIGNMENT]), ("course", ["--course"])):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "autograder", "report", *arguments], cwd=root,
                              env=tool_environment(), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr)
        figures[f"{name}_seconds"] = round(time.perf_counter() - started, 2)
        print(f"  report {' '.join(arguments)}: {figures[f'{name}_seconds']} s", flush=True)
    started = time.perf_counter()  # the same work without the interpreter's start and imports
    from autograder.report import write_report

    write_report(root, ASSIGNMENT, out_dir=root / "reports-in-process")
    figures["in_process_seconds"] = round(time.perf_counter() - started, 2)
    figures["html_kb"] = round((root / "reports" / f"{ASSIGNMENT}.html").stat().st_size / 1024)
    shutil.rmtree(root.parent, ignore_errors=True)
    return figures


# -- hub ------------------------------------------------------------------------------------
def bench_hub(sizes=(1, 4, 8), lesson="00_welcome"):
    """Capacity of one machine as a class hub (scripts/setup-hub, root only): for each K, K learner
    servers started at once, each running a lesson's code (00 unless told) cell by cell in its own
    kernel and then Validate (nbgrader's handler in the learner's server, the kernel still alive),
    all at the same time. Per K: time to a ready server, p50/p95 of a cell and of Validate, and
    each learner's peak memory as charged to the cgroup their server runs in (server, kernel and
    Validate's kernel; library pages every kernel maps, TensorFlow's, are shared, not charged to
    each learner)."""
    import threading

    import nbformat

    sys.path.insert(0, str(COURSE_ROOT / "tests"))
    import hub_life
    from autograder.solution import worked_notebook

    if os.geteuid() != 0:
        return {"note": "needs root: starts a JupyterHub with Unix accounts (scripts/setup-hub)"}
    learners = [f"gc-learner{i}" for i in range(1, max(sizes) + 1)]
    done = subprocess.run([str(COURSE_ROOT / "scripts" / "setup-hub"), "--learners", str(len(learners))],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    hub = hub_life.Hub()
    notebook = worked_notebook(lesson, COURSE_ROOT)
    codes = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    for user in learners:
        folder = Path(f"/home/{user}/bench/{lesson}")
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / f"{lesson}.ipynb")
        subprocess.run(["chown", "-R", f"{user}:{user}", str(folder.parent)], check=True)
    memory_gb = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30)
    hub_settings = hub_life.settings()
    figures = {"lesson": lesson, "by_k": {},
               "machine": {"cores": os.cpu_count(), "memory_gb": memory_gb, "threads_per_learner": hub_settings["threads"],
                           "mem_limit": hub_settings["mem_limit"]}}
    for k in sizes:
        for user in learners:
            hub.stop_server(user)
        group, results, errors = learners[:k], {}, []

        def learner_life(user):
            try:
                cgroup = Path(f"/sys/fs/cgroup/memory/gradclinic-hub/{user}")
                ready = hub.start_server(user)
                if (cgroup / "memory.max_usage_in_bytes").exists():
                    (cgroup / "memory.max_usage_in_bytes").write_text("0")
                token = hub.user_token(user)
                kernel = hub_life.Kernel(user, token)
                cells = []
                for code in codes:
                    outcome = kernel.run(code, timeout=900)
                    cells.append(outcome["seconds"])
                    if outcome["error"] or outcome["died"]:
                        raise RuntimeError(f"{user}: a cell failed: {outcome}")
                started = time.perf_counter()  # Validate while the notebook's own kernel lives, as in JupyterLab
                status, answer = hub_life.Hub(token).request(
                    "POST", f"/user/{user}/assignments/validate", {"path": f"bench/{lesson}/{lesson}.ipynb"}, timeout=900)
                validate = time.perf_counter() - started
                if status != 200 or not answer.get("success"):  # the learner would see this error
                    errors.append(f"{user}: Validate failed after {validate:.0f} s: {str(answer)[-300:]}")
                    validate = None
                peak = int((cgroup / "memory.max_usage_in_bytes").read_text()) if cgroup.is_dir() else None
                kernel.close()
                results[user] = {"ready": ready, "cells": cells, "validate": validate, "peak": peak}
            except Exception as error:  # reported, not hidden: the figure for this K is then incomplete
                errors.append(repr(error))

        threads = [threading.Thread(target=learner_life, args=(user,)) for user in group]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        cells = [s for r in results.values() for s in r["cells"]]
        validates = [r["validate"] for r in results.values() if r["validate"] is not None]
        peaks = [r["peak"] for r in results.values() if r["peak"]]
        row = {"learners_done": len(results), "validated": len(validates), "errors": errors, "wall_seconds": round(wall, 1),
               "ready_p50_s": round(statistics.median(r["ready"] for r in results.values()), 1) if results else None,
               "ready_max_s": round(max(r["ready"] for r in results.values()), 1) if results else None,
               "cell_p50_s": round(statistics.median(cells), 2) if cells else None,
               "cell_p95_s": round(percentile(cells, 95), 2) if cells else None,
               "lesson_p50_s": round(statistics.median(sum(r["cells"]) for r in results.values()), 1) if results else None,
               "validate_p50_s": round(statistics.median(validates), 1) if validates else None,
               "validate_p95_s": round(percentile(validates, 95), 1) if validates else None,
               "peak_mb_per_learner_max": round(max(peaks) / 2**20) if peaks else None,
               "peak_mb_per_learner_p50": round(statistics.median(peaks) / 2**20) if peaks else None}
        figures["by_k"][str(k)] = row
        print(f"  K={k}: {row}", flush=True)
    for user in learners:
        hub.stop_server(user)
        shutil.rmtree(f"/home/{user}/bench", ignore_errors=True)
    subprocess.run([str(COURSE_ROOT / "scripts" / "setup-hub"), "--stop"], capture_output=True)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--class-size", type=int, default=24, help="submissions in the grading bench")
    parser.add_argument("--class-sizes", default="", help="grading: also a class-size sweep, e.g. 24,96,200")
    parser.add_argument("--scaling-lessons", default=GRADING_LESSON,
                        help="lessons of the class-size sweep, e.g. 01_the_problem,05_gated_rnns")
    parser.add_argument("--hub-sizes", default="1,4,8", help="learners at once in the hub bench (--only hub)")
    parser.add_argument("--hub-lesson", default="00_welcome", help="the lesson each learner runs in the hub bench")
    arguments = parser.parse_args(argv)
    chosen = [s.strip() for s in arguments.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS) - set(ON_REQUEST)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS + ON_REQUEST)}")
    results_path = Path(__file__).with_name("results.json")
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    memory = results.get("memory", {})
    for section in chosen:
        print(f"[{section}]", flush=True)
        if section == "notebooks":
            results["notebooks"] = bench_notebooks()
        elif section == "slider":
            results["slider"] = bench_slider()
        elif section == "browser":
            from bench.browser import bench_browser

            results["browser"] = bench_browser()
        elif section == "grading":
            results["grading"] = bench_grading(arguments.class_size, memory,
                                               [int(n) for n in arguments.class_sizes.split(",") if n.strip()],
                                               [s.strip() for s in arguments.scaling_lessons.split(",") if s.strip()])
            results["memory"] = memory
        elif section == "memory" and "grading" not in chosen:
            results["grading"] = bench_grading(max(3, arguments.class_size // 8), memory)
            results["memory"] = memory
        elif section == "hub":
            figures = bench_hub(tuple(int(k) for k in arguments.hub_sizes.split(",")), arguments.hub_lesson)
            results["hub" if arguments.hub_lesson == "00_welcome" else f"hub_{arguments.hub_lesson}"] = figures
        elif section == "report":
            results["report"] = bench_report(200)
        elif section == "monitor":
            from bench.monitor import bench_monitor_overhead

            results["monitor"] = bench_monitor_overhead()
    results_path.write_text(json.dumps(results, indent=1))
    print_table(results)


def grading_rows(g):
    """The grading section's rows: each figure with the load average it was taken under."""
    if "nbgrader" not in g:  # a results.json from before CPU and load were measured
        return [("grading", "older figures: run bench/run.py --only grading again")]

    def timed(f):
        return (f"{f['seconds']} s, {f['per_minute']}/min, {f['cpu_per_submission']} s CPU/submission "
                f"(load {f['load_average'][0]}→{f['load_average'][1]})")

    rows = [("grading class", f"{g['submissions']} submissions of {g['lesson']}"),
            ("nbgrader autograde (sequential)", timed(g["nbgrader"])),
            ("autograder --workers 1", timed(g["autograder_1w"])),
            ("autograder --workers 2", timed(g["autograder_2w"])),
            ("speedup_vs_nbgrader", f"{g['speedup_vs_nbgrader']}×"),
            ("speedup 2 vs 1 workers", f"{g['speedup_2w_vs_1w']}×")]
    split = g["autograder_2w"].get("cpu_split") or {}
    if split:
        rows.append(("per submission (2 workers)",
                     f"kernel start {split['kernel_start_cpu']} s CPU, imports {split['imports_cpu']} s CPU "
                     f"({split['runners_started']} runners' start-up spread over the class), median cells and calls "
                     f"{split['cells_and_calls_cpu']} s CPU, judging {split['judging']} s, nbgrader and gradebook "
                     f"{split['nbgrader_and_gradebook']} s"))
    for slug, by_size in g.get("scaling", {}).items():
        for size, f in by_size.items():
            rows.append((f"class of {size} ({slug})",
                         f"{f['seconds_per_submission']} s/submission, {f['cpu_per_submission']} s CPU/submission, "
                         f"grader peak {f['grader_peak_mb']} MB, {f['graded']} graded "
                         f"(load {f['load_average'][0]}→{f['load_average'][1]})"))
    return rows


def print_table(results):
    rows = []
    if "notebooks" in results:
        n = results["notebooks"]
        rows += [(f"notebook {k}", f"{v} s") for k, v in n["seconds"].items()]
        rows.append(("notebooks total", f"{n['total_seconds']} s (max {n['max_seconds']} s)"))
    if "slider" in results:
        s = results["slider"]
        for name, figures in s["explorers"].items():
            rows.append((f"slider {name}", figures.get("error") or f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms"))
        rows.append(("slider overall", f"p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms"))
    if "browser" in results:
        from bench.browser import encoding_lines, explorer_line

        b = results["browser"]
        rows += [(f"browser {name}", explorer_line(figures)) for name, figures in b.get("explorers", {}).items()]
        for way, opened in (("fresh", "fresh"), ("in_lab", "in JupyterLab")):
            parts = b.get(f"first_figure_{way}_parts", {})
            rows += [(f"first figure {slug}, {opened}", f"{value} s: " + ", ".join(f"{part} {took} s" for part, took in parts[slug].items())
                      if slug in parts else str(value)) for slug, value in b.get(f"first_figure_{way}_seconds", {}).items()]
        rows += [(f"frame as {encoding}", line) for encoding, line in encoding_lines(b.get("encodings", {})).items()]
        if "error" in b:
            rows.append(("browser", b["error"]))
    if "grading" in results:
        rows += grading_rows(results["grading"])
    if "memory" in results:
        rows += [(f"memory {k}", f"{v} MB") for k, v in results["memory"].items()]
    if "report" in results:
        r = results["report"]
        rows += [("report class", f"{r['submissions']} graded submissions of 05_gated_rnns"),
                 ("report ASSIGNMENT / --course", f"{r['assignment_seconds']} s / {r['course_seconds']} s "
                                                  f"({r['in_process_seconds']} s in process, {r['html_kb']} kB)")]
    if "monitor" in results:
        rows += [(f"monitor {k}", str(v)) for k, v in results["monitor"].items()]
    for key in [k for k in results if k == "hub" or k.startswith("hub_")]:
        if "by_k" not in results[key]:
            continue
        m = results[key]["machine"]
        rows.append((f"{key} machine", f"{m['cores']} cores, {m['memory_gb']} GB; {m['threads_per_learner']} thread(s) "
                                       f"and {m['mem_limit']} per learner; lesson {results[key].get('lesson', '00_welcome')}"))
        for k, h in results[key]["by_k"].items():
            rows.append((f"{key} K={k} learners at once",
                         f"ready p50 {h['ready_p50_s']} s (max {h['ready_max_s']}); cell p50 {h['cell_p50_s']} s, "
                         f"p95 {h['cell_p95_s']} s; whole lesson {h['lesson_p50_s']} s; Validate p50 {h['validate_p50_s']} s, "
                         f"p95 {h['validate_p95_s']} s; peak {h['peak_mb_per_learner_p50']} MB/learner "
                         f"(max {h['peak_mb_per_learner_max']}); Validate passed {h.get('validated')}/{k}"
                         f"{'; errors ' + str(len(h['errors'])) if h['errors'] else ''}"))
    width = max((len(r[0]) for r in rows), default=10)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))


if __name__ == "__main__":
    main()
