"""Gradient Clinic's benchmarks: what learners and instructors feel, measured side by side.

    python bench/run.py [--only notebooks,slider,grading,memory,monitor] [--class-size 24]

Writes bench/results.json and prints a table. Figures are medians and percentiles of one run
on this machine; nothing here asserts a time (tests never do either).
"""

import argparse
import importlib
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
SECTIONS = ("notebooks", "slider", "grading", "memory", "monitor")


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
    from nbclient import NotebookClient

    from autograder.build import lesson_slugs, notebook_from_source

    os.environ["PYTHONPATH"] = tool_environment()["PYTHONPATH"]
    seconds = {}
    for slug in lesson_slugs():
        notebook = notebook_from_source(COURSE_ROOT / "solutions" / slug / f"{slug}.py")
        started = time.perf_counter()
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(COURSE_ROOT / "solutions" / slug)}}).execute()
        seconds[slug] = round(time.perf_counter() - started, 1)
        errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        print(f"  {slug}: {seconds[slug]} s{' (ERRORS)' if errors else ''}", flush=True)
    return {"seconds": seconds, "total_seconds": round(sum(seconds.values()), 1),
            "max_seconds": max(seconds.values(), default=0)}


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


def _synthetic_class(root, size):
    from autograder.classroom import submit, worked_notebook

    slug = "01_the_problem"
    for i in range(size):
        kind = ("right", "partly_wrong", "crashing")[i % 3]
        changes = {"right": {}, "partly_wrong": {"deep_linear_activations": PARTLY_WRONG},
                   "crashing": {"layer_gradient_norms": CRASHING}}[kind]
        submit(root, f"learner{i:02d}_{kind}", slug, worked_notebook(slug, root, changes))


def _fresh_course(size):
    from autograder.build import build, copy_course

    root = copy_course(Path(tempfile.mkdtemp(prefix="gradclinic-bench-")) / "course")
    build(["01_the_problem"], course_root=root)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "01_the_problem", "--force"],
                          cwd=root, env=tool_environment(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr)
    _synthetic_class(root, size)
    return root


def bench_grading(size, memory):
    """The same synthetic class graded by plain sequential nbgrader and by the sandboxed grader."""
    figures = {"submissions": size}
    root = _fresh_course(size)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "01_the_problem", "--create"], cwd=root,
                   env=tool_environment(), capture_output=True, text=True)
    plain = time.perf_counter() - started
    figures["nbgrader_seconds"] = round(plain, 1)
    figures["nbgrader_per_minute"] = round(size / plain * 60, 2)
    print(f"  plain nbgrader autograde: {plain:.0f} s", flush=True)
    for workers in (1, 2):
        shutil.rmtree(root / ".autograder", ignore_errors=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "autograder", "grade", "01_the_problem", "--workers",
                               str(workers), "--regrade"], cwd=root, env=tool_environment(), capture_output=True,
                              text=True)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(done.stderr)
        figures[f"autograder_{workers}w_seconds"] = round(seconds, 1)
        figures[f"autograder_{workers}w_per_minute"] = round(size / seconds * 60, 2)
        print(f"  autograder --workers {workers}: {seconds:.0f} s", flush=True)
    figures["speedup_vs_nbgrader"] = round(plain / figures["autograder_2w_seconds"], 2)
    figures["speedup_2w_vs_1w"] = round(figures["autograder_1w_seconds"] / figures["autograder_2w_seconds"], 2)
    records = [json.loads(p.read_text()) for p in (root / ".autograder" / "01_the_problem").glob("*.json")]
    memory["grading_worker_peak_mb"] = round(max(r["worker_peak_bytes"] for r in records) / 2**20)
    peaks = [r["sandbox_peak_bytes"] for r in records if r["sandbox_peak_bytes"]]
    memory["lesson_kernel_peak_mb"] = round(max(peaks) / 2**20) if peaks else None
    shutil.rmtree(root.parent, ignore_errors=True)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--class-size", type=int, default=24, help="submissions in the grading bench")
    arguments = parser.parse_args(argv)
    chosen = [s.strip() for s in arguments.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    results_path = Path(__file__).with_name("results.json")
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    memory = results.get("memory", {})
    for section in chosen:
        print(f"[{section}]", flush=True)
        if section == "notebooks":
            results["notebooks"] = bench_notebooks()
        elif section == "slider":
            results["slider"] = bench_slider()
        elif section == "grading":
            results["grading"] = bench_grading(arguments.class_size, memory)
            results["memory"] = memory
        elif section == "memory" and "grading" not in chosen:
            results["grading"] = bench_grading(max(3, arguments.class_size // 8), memory)
            results["memory"] = memory
        elif section == "monitor":
            monitor = _optional("gradclinic.diagnostics", "bench_monitor_overhead")
            results["monitor"] = monitor() if monitor else {"note": "no gradient-health monitor yet"}
    results_path.write_text(json.dumps(results, indent=1))
    print_table(results)


def _optional(module, name):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


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
    if "grading" in results:
        g = results["grading"]
        rows += [("grading class", f"{g['submissions']} submissions of 01_the_problem"),
                 ("nbgrader autograde (sequential)", f"{g['nbgrader_seconds']} s, {g['nbgrader_per_minute']}/min"),
                 ("autograder --workers 1", f"{g['autograder_1w_seconds']} s, {g['autograder_1w_per_minute']}/min"),
                 ("autograder --workers 2", f"{g['autograder_2w_seconds']} s, {g['autograder_2w_per_minute']}/min"),
                 ("speedup_vs_nbgrader", f"{g['speedup_vs_nbgrader']}×"),
                 ("speedup 2 vs 1 workers", f"{g['speedup_2w_vs_1w']}×")]
    if "memory" in results:
        rows += [(f"memory {k}", f"{v} MB") for k, v in results["memory"].items()]
    if "monitor" in results:
        rows += [(f"monitor {k}", str(v)) for k, v in results["monitor"].items()]
    width = max((len(r[0]) for r in rows), default=10)
    print("\n".join(f"{name:<{width}}  {value}" for name, value in rows))


if __name__ == "__main__":
    main()
