"""What a sandboxed grading run executes and asks, and the run itself.

A :class:`GradingPlan` is read from a notebook whose test cells nbgrader has already restored
from the gradebook (its sanitize step): the learner's code cells to run, in order, and for
every test cell the graded calls whose answers decide it. The same plan made twice from the
same notebook has the same :attr:`GradingPlan.key`, so a run prepared ahead of time (by
``python -m autograder grade``'s workers) is used only for exactly the plan it was made for.

A plan runs in a sandboxed *runner*: a fresh sandbox whose Python has started, and has
imported the libraries the lesson needs, before its submission is known (:class:`RunnerPool`
starts them ahead); it receives exactly one plan and ends. No runner ever sees a second one.
"""

import ast
import functools
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

RUNNER_FILES = ("sandbox_runner.py", "harness.py")
# Imported by a runner while it waits for its submission, when the lesson imports them:
# TensorFlow and Keras are most of a run's start-up (seconds of CPU), the others add little.
WARMABLE_MODULES = ("numpy", "matplotlib.pyplot", "tensorflow", "keras")


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell):
    """An autograded test cell: a code cell that is graded and is not the learner's answer."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


@dataclass
class GradedCell:
    """One test cell: which exercise and part decide it, and the indices of its calls."""

    grade_id: str
    points: float
    exercise: object = None  # None: no trusted check exists for this cell (graded by hand)
    part: str = ""
    cases: list = field(default_factory=list)
    calls: range = range(0)


@dataclass
class GradingPlan:
    cell_indices: list          # notebook index of each code cell to run, in order
    sources: list               # their sources
    tests: dict                 # grade_id → GradedCell
    calls: list                 # JSON call descriptions, in order
    arrays: dict                # the calls' input arrays by key

    @property
    def key(self):
        """A digest of everything the sandbox receives."""
        digest = hashlib.sha256(json.dumps([self.sources, self.calls], sort_keys=True, allow_nan=True).encode())
        for name in sorted(self.arrays):
            digest.update(name.encode())
            digest.update(self.arrays[name].tobytes())
        return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def exercise_request(name, part):
    """``(exercise, cases, calls, arrays)`` for one part of one exercise, or None when no
    exercise has that name. Made once per process: every submission is asked the same."""
    from autograder import harness
    from autograder.exercise import encode_call
    from autograder.registry import exercise

    try:
        found = exercise(name)
    except KeyError:
        return None
    cases = found.cases(part)
    store = harness.ArrayStore()
    calls = [encode_call(found.name, case, store) for case in cases]
    return found, cases, calls, store.arrays


def _renamed(tree, names):
    """``tree`` with every array key in it renamed through ``names``: ``{"__ndarray__": key}``
    and the weight keys of a ``{"__keras_model__": {...}}`` (see exercise.encode_argument)."""
    if isinstance(tree, list):
        return [_renamed(v, names) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"__ndarray__"}:
            return {"__ndarray__": names[tree["__ndarray__"]]}
        if set(tree) == {"__keras_model__"}:
            spec = tree["__keras_model__"]
            return {"__keras_model__": {**spec, "weights": [names[key] for key in spec["weights"]]}}
        return {k: _renamed(v, names) for k, v in tree.items()}
    return tree


def plan_for(notebook):
    """The plan for a notebook: its non-test code cells, and the calls of every test cell."""
    tests, calls, arrays = {}, [], {}
    for cell in notebook.cells:
        if not is_test_cell(cell):
            continue
        meta = nbgrader_meta(cell)
        grade_id = str(meta.get("grade_id"))
        test = GradedCell(grade_id, float(meta.get("points", 0)))
        for prefix, part in (("test_", "basic"), ("hidden_", "hidden")):
            request = exercise_request(grade_id[len(prefix):], part) if grade_id.startswith(prefix) else None
            if request:
                test.exercise, test.cases, own_calls, own_arrays = request
                test.part = part
                # Each exercise's arrays are keyed a0, a1, … in its own store: rename them into this plan's.
                names = {key: f"{grade_id}:{key}" for key in own_arrays}
                arrays.update({names[key]: array for key, array in own_arrays.items()})
                test.calls = range(len(calls), len(calls) + len(own_calls))
                calls += [_renamed(call, names) for call in own_calls]
                break
        tests[grade_id] = test
    chosen = [(index, cell.source) for index, cell in enumerate(notebook.cells)
              if cell.cell_type == "code" and not is_test_cell(cell)]
    return GradingPlan([i for i, _ in chosen], [s for _, s in chosen], tests, calls, arrays)


def run_environment():
    """The sandboxed kernel's environment: headless, quiet TensorFlow, one thread per pool."""
    return {"MPLBACKEND": "Agg", "NBGRADER_EXECUTION": "autograde", "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONDONTWRITEBYTECODE": "1", "GRADCLINIC_HEADLESS": "1",
            "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def warm_modules(notebook):
    """The :data:`WARMABLE_MODULES` a notebook's code cells import (a cell that does not parse
    is skipped: warming is an optimisation, the run itself reports the syntax error)."""
    imported = set()
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    return tuple(m for m in WARMABLE_MODULES if m in imported or m.split(".")[0] in imported)


def _fill_job(job, sources, plan, limits):
    """Write one plan into a runner's job folder (mounted read-only in its sandbox)."""
    import numpy as np

    (job / "cells.json").write_text(json.dumps({"cells": sources}))
    (job / "request.json").write_text(json.dumps({"calls": plan.calls}, allow_nan=True))
    with open(job / "request.npz", "wb") as f:
        np.savez(f, **plan.arrays)
    (job / "limits.json").write_text(json.dumps({"cell_seconds": limits.cell_seconds,
                                                 "call_seconds": limits.call_seconds,
                                                 "output_chars": limits.output_chars}))
    for path in job.iterdir():  # readable by the sandbox user, writable by nobody else
        os.chmod(path, 0o644)


@functools.lru_cache(maxsize=None)
def _runner_file(name):
    """A file the sandbox receives, read through importlib: a Dask worker imports this package
    from a zip (see autograder.cluster)."""
    import importlib.resources

    return importlib.resources.files(__package__).joinpath(name).read_bytes()


class Runner:
    """A sandboxed runner launched now, warming up with an empty job folder; :meth:`run` gives
    it one plan, once."""

    def __init__(self, sandbox, modules=()):
        self.limits = sandbox.limits
        self.job = Path(tempfile.mkdtemp(prefix="gradclinic-job-"))
        for name in RUNNER_FILES:
            (self.job / name).write_bytes(_runner_file(name))
            os.chmod(self.job / name, 0o644)
        os.chmod(self.job, 0o755)
        inside = self.job if sandbox.unsafe else Path("/job")
        python = str(sandbox.venv / "bin" / "python")
        try:
            self.process = sandbox.launch(self.job, lambda fd, go_fd: [
                python, str(inside / "sandbox_runner.py"), str(inside), str(fd), str(go_fd), ",".join(modules)],
                run_environment())
        except BaseException:
            shutil.rmtree(self.job, ignore_errors=True)
            raise

    def run(self, sources, plan):
        """Hand this runner ``sources`` and ``plan``'s calls; return its sandbox.RunResult."""
        if self.process.used:
            raise RuntimeError("a runner runs one job only: take a fresh one")
        try:
            _fill_job(self.job, sources, plan, self.limits)
            return self.process.collect()
        finally:
            shutil.rmtree(self.job, ignore_errors=True)

    def discard(self):
        self.process.discard()
        shutil.rmtree(self.job, ignore_errors=True)


class RunnerPool:
    """Runners started ``ahead`` of the plans they will receive, each handed exactly one.

    :meth:`take` hands out a runner (warm if one is ready) and launches its replacement, so the
    next plan finds one warm too; at most ``expected`` runners are launched ahead in all (None:
    no bound), so none is left warming for nothing at the end of a class. Thread-safe."""

    def __init__(self, sandbox, ahead, modules=(), expected=None):
        self.sandbox, self.modules = sandbox, tuple(modules)
        self.left = expected  # runners that may still be launched ahead
        self.ready, self.lock, self.closed = deque(), threading.Lock(), False
        with self.lock:
            for _ in range(ahead):
                self._launch_ahead()

    def _launch_ahead(self):
        if self.closed or self.left == 0:
            return
        self.ready.append(Runner(self.sandbox, self.modules))
        if self.left is not None:
            self.left -= 1

    def take(self):
        """A runner no plan has used; the caller runs one plan in it (or discards it)."""
        with self.lock:
            runner = self.ready.popleft() if self.ready else None
            if runner is not None:
                self._launch_ahead()
        return runner or Runner(self.sandbox, self.modules)

    def close(self):
        """Discard the runners still waiting; later takes start runners on demand."""
        with self.lock:
            self.closed = True
            waiting, self.ready = list(self.ready), deque()
        for runner in waiting:
            runner.discard()


@dataclass
class SandboxedRun:
    """The outcome of running a plan: the last sandbox run, and the cells it ran."""

    run: object                 # sandbox.RunResult
    cells_run: int              # how many of the plan's cells the last attempt was given
    note: str = ""              # why a first attempt was cut short, if it was


def describe_end(run, n_cells):
    """Why a run ended early, in words for the learner and the instructor ("" if it did not)."""
    cells = [r for r in run.records if r.get("type") == "cell"]
    if run.overflowed:
        return "the notebook sent more data than the grader accepts"
    if run.timed_out:
        return f"the whole run exceeded its {run.seconds:.0f} s time limit"
    if run.ended_by:
        return f"the notebook's process was stopped by the {run.ended_by}"
    if not any(r.get("type") == "done" for r in run.records):
        where = f"after cell {len(cells)} of {n_cells}" if len(cells) < n_cells else "while answering the graded calls"
        code = f" (exit code {run.exit_code})" if run.exit_code else ""
        return f"the notebook's process ended unexpectedly {where}{code}: a crash, os._exit, or the memory limit"
    return ""


def run_plan(plan, sandbox, runners=None):
    """Run ``plan`` in ``sandbox`` (an :class:`autograder.sandbox.Sandbox`), in a runner of
    ``runners`` (a :class:`RunnerPool`) or one started now. When a cell crashes or hangs the
    process, the notebook is run once more, in another fresh runner, without that cell and those
    after it, so that the functions defined before it are still graded."""
    sources, note = list(plan.sources), ""
    for attempt in range(2):
        runner = runners.take() if runners else Runner(sandbox)
        run = runner.run(sources, plan)
        problem = describe_end(run, len(sources))
        ran = sum(1 for r in run.records if r.get("type") == "cell")
        if problem and attempt == 0 and ran < len(sources):
            note = f"{problem}; graded again without cell {ran + 1} and those after it"
            sources = sources[:ran]
            continue
        return SandboxedRun(run, len(sources), note or problem)
