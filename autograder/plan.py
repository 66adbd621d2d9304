"""What a sandboxed grading run executes and asks, and the run itself.

A :class:`GradingPlan` is read from a notebook whose test cells nbgrader has already restored
from the gradebook (its sanitize step): the learner's code cells to run, in order, and for
every test cell the graded calls whose answers decide it. The same plan made twice from the
same notebook has the same :attr:`GradingPlan.key`, so a run prepared ahead of time (by
``python -m autograder grade``'s workers) is used only for exactly the plan it was made for.

A plan runs in a sandboxed *runner*: a sandbox whose Python has started, and has imported the
libraries the lesson needs, before any submission is known (:class:`RunnerPool` starts them
ahead). The runner itself never runs a plan: for each one it forks a child that enters
namespaces of its own (see ``sandbox_runner.py``), so every plan starts from the same warm,
untouched state and no plan can see the files, processes or memory of another. A runner that
cannot isolate its children runs one plan and ends; so does one whose plan ended abnormally.
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


def job_bytes(sources, plan, limits):
    """One plan as the runner reads it (``sandbox_runner.read_job``): a JSON line, then the
    calls' arrays as .npz."""
    import io

    import numpy as np

    header = json.dumps({"cells": sources, "calls": plan.calls,
                         "limits": {"cell_seconds": limits.cell_seconds, "call_seconds": limits.call_seconds,
                                    "output_chars": limits.output_chars}}, allow_nan=True)
    arrays = io.BytesIO()
    np.savez(arrays, **plan.arrays)
    return header.encode() + b"\n" + arrays.getvalue()


@functools.lru_cache(maxsize=None)
def _runner_file(name):
    """A file the sandbox receives, read through importlib: a Dask worker imports this package
    from a zip (see autograder.cluster)."""
    import importlib.resources

    return importlib.resources.files(__package__).joinpath(name).read_bytes()


class Runner:
    """A sandboxed runner launched now, importing ``modules`` while no plan is known; :meth:`run`
    gives it plans one at a time while :attr:`serves_more` holds."""

    def __init__(self, sandbox, modules=()):
        self.limits = sandbox.limits
        self.folder = Path(tempfile.mkdtemp(prefix="gradclinic-runner-"))  # the runner's code only
        for name in RUNNER_FILES:
            (self.folder / name).write_bytes(_runner_file(name))
            os.chmod(self.folder / name, 0o644)
        os.chmod(self.folder, 0o755)
        inside = self.folder if sandbox.unsafe else Path("/job")
        python = str(sandbox.venv / "bin" / "python")
        environment = {**run_environment(), "GRADCLINIC_TMP_BYTES": str(self.limits.tmp_bytes),
                       "GRADCLINIC_ISOLATE_JOBS": "0" if sandbox.unsafe else "1"}
        try:
            self.process = sandbox.launch(self.folder, lambda fd, control_fd: [
                python, str(inside / "sandbox_runner.py"), str(inside), str(fd), str(control_fd), ",".join(modules)],
                environment)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    @property
    def serves_more(self):
        return self.process.serves_more

    def run(self, sources, plan):
        """Run ``sources`` and ``plan``'s calls in a fresh child of this runner; return its
        sandbox.RunResult. The runner is discarded if it may not take another plan."""
        try:
            return self.process.run_job(job_bytes(sources, plan, self.limits))
        finally:
            if not self.process.serves_more:
                self.discard()

    def discard(self):
        self.process.discard()
        shutil.rmtree(self.folder, ignore_errors=True)


class RunnerPool:
    """Runners started ``ahead`` of the plans they will receive.

    :meth:`take` hands out a runner that is not busy (warm if one is ready; started now if
    none is) and :meth:`give_back` returns it after one plan: it waits for the next plan if it
    may serve more, and is replaced ahead otherwise, so the next plan finds one warm too. At
    most ``expected`` plans are counted on (None: no bound), so no runner is started ahead for
    nothing at the end of a class. Thread-safe."""

    def __init__(self, sandbox, ahead, modules=(), expected=None):
        self.sandbox, self.modules = sandbox, tuple(modules)
        self.left = expected  # plans still to come
        self.ready, self.lock, self.closed = deque(), threading.Lock(), False
        with self.lock:
            for _ in range(min(ahead, expected) if expected is not None else ahead):
                self.ready.append(Runner(self.sandbox, self.modules))

    def take(self):
        """A runner that is not running a plan; the caller runs one plan in it, then gives it back."""
        with self.lock:
            runner = self.ready.popleft() if self.ready else None
            if self.left is not None:
                self.left = max(0, self.left - 1)
        return runner or Runner(self.sandbox, self.modules)

    def give_back(self, runner):
        with self.lock:
            if runner.serves_more and not self.closed:
                self.ready.append(runner)
                return
            # Retired: replace it ahead while plans are still to come that the waiting runners do not cover.
            replace = not self.closed and (self.left is None or self.left > len(self.ready))
        runner.discard()
        if replace:
            fresh = Runner(self.sandbox, self.modules)
            with self.lock:
                keep = not self.closed
                if keep:
                    self.ready.append(fresh)
            if not keep:
                fresh.discard()

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
        try:
            run = runner.run(sources, plan)
        finally:
            runners.give_back(runner) if runners else runner.discard()
        problem = describe_end(run, len(sources))
        ran = sum(1 for r in run.records if r.get("type") == "cell")
        if problem and attempt == 0 and ran < len(sources):
            note = f"{problem}; graded again without cell {ran + 1} and those after it"
            sources = sources[:ran]
            continue
        return SandboxedRun(run, len(sources), note or problem)
