"""Shared fixtures: the course root, a scratch copy of the course, and nbgrader runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

COURSE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(COURSE_ROOT))

# Tests run TensorFlow in this process and in kernels: keep it quiet and on few threads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """A module's tests that share a module-scoped fixture (a lesson run, trained nets) go to one
    worker together: spread over two, each worker would do the fixture's work again."""
    for item in items:
        if any(item.iter_markers("xdist_group")):
            continue
        fixtures = getattr(item, "_fixtureinfo", None)
        if fixtures and any(defs[-1].scope == "module" for defs in fixtures.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def course_environment():
    """Environment for nbgrader subprocesses and notebook executions: this interpreter's tools on
    PATH, course importable, explorers headless (no frontend: a widget's comm can stall nbclient)."""
    from autograder.build import tool_environment

    env = tool_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COURSE_ROOT), env.get("PYTHONPATH")]))
    env["GRADCLINIC_HEADLESS"] = "1"
    return env


def run_tool(arguments, cwd, timeout=900):
    """Run ``python -m <arguments>`` in ``cwd``; return the CompletedProcess (never raises on exit code)."""
    return subprocess.run([sys.executable, "-m", *arguments], cwd=cwd, capture_output=True, text=True,
                          env=course_environment(), timeout=timeout)


def run_lesson_code(slug):
    """Run a lesson's code cells (not its graded test cells) in this process, as the notebook
    would; return their namespace, with everything they printed under ``"printed"``."""
    import contextlib
    import io

    from autograder.build import notebook_from_source, source_path

    notebook = notebook_from_source(source_path(slug))
    namespace, printed = {"__name__": f"lesson_{slug}"}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for cell in notebook.cells:
            if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
                exec(compile(cell.source, slug, "exec"), namespace)
    namespace["printed"] = printed.getvalue()
    return namespace


@pytest.fixture(scope="session")
def course_root():
    return COURSE_ROOT


@pytest.fixture(scope="session")
def lesson_slugs():
    from autograder.build import lesson_slugs

    return lesson_slugs()


def once_per_run(tmp_path_factory, worker_id, name, make):
    """``make(path)`` done once per pytest run, by whichever xdist worker asks first: the others
    wait for it and get the same ``path``, in the run's temporary directory common to its workers
    (without xdist, in this process's own). What is made there is only read afterwards."""
    import fcntl
    import shutil

    if worker_id == "master":
        path = tmp_path_factory.getbasetemp() / name
        make(path)
        return path
    shared = tmp_path_factory.getbasetemp().parent
    path, made = shared / name, shared / f"{name}.made"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            if path.is_dir():
                shutil.rmtree(path)  # half made by a worker that failed: make it again
            make(path)
            made.touch()
    return path


@pytest.fixture(scope="session")
def built_course(tmp_path_factory, worker_id):
    """A scratch copy of the course with every lesson rebuilt from its jupytext source, built
    once per run (both workers read it; building it twice cost each run a build)."""
    from autograder.build import build, copy_course

    def make(path):
        root = copy_course(path)
        build(course_root=root, gradebook=root / "gradebook.db")

    return once_per_run(tmp_path_factory, worker_id, "course", make)


def released_course(destination, built_course):
    """A scratch copy of the built course as ``nbgrader generate_assignment`` leaves it for every
    lesson: the build's releases and the gradebook that recorded them (releasing again in each
    copy would only repeat that work)."""
    import shutil

    from autograder.build import copy_course

    root = copy_course(destination, course_root=built_course)
    shutil.copy(built_course / "gradebook.db", root / "gradebook.db")
    return root


@pytest.fixture(scope="session")
def course_life(tmp_path_factory, worker_id):
    """The exchange life with real accounts (tests/exchange_life.py), run once per pytest run.

    It changes machine-wide state (accounts' homes, the exchange), so two xdist workers must
    never live it at the same time. The "exchange" xdist_group keeps its tests on one worker;
    should grouping fail (pytest 9.2 ignores it), :func:`once_per_run` still runs it once: the
    first worker lives it, any other waits and reads the record it left.
    """
    import json
    from types import SimpleNamespace

    from exchange_life import live_the_course

    def make(record):
        log = live_the_course()
        record.write_text(json.dumps({step: {"returncode": done.returncode, "stdout": done.stdout,
                                             "stderr": done.stderr} for step, done in log.items()}))

    record = once_per_run(tmp_path_factory, worker_id, "course_life.json", make)
    return {step: SimpleNamespace(**done) for step, done in json.loads(record.read_text()).items()}
