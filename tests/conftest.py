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


def course_environment():
    """Environment for nbgrader subprocesses: this interpreter's tools on PATH, course importable."""
    from autograder.build import tool_environment

    env = tool_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COURSE_ROOT), env.get("PYTHONPATH")]))
    return env


def run_tool(arguments, cwd, timeout=900):
    """Run ``python -m <arguments>`` in ``cwd``; return the CompletedProcess (never raises on exit code)."""
    return subprocess.run([sys.executable, "-m", *arguments], cwd=cwd, capture_output=True, text=True,
                          env=course_environment(), timeout=timeout)


@pytest.fixture(scope="session")
def course_root():
    return COURSE_ROOT


@pytest.fixture(scope="session")
def lesson_slugs():
    from autograder.build import lesson_slugs

    return lesson_slugs()


@pytest.fixture(scope="session")
def built_course(tmp_path_factory):
    """A scratch copy of the course with every lesson rebuilt from its jupytext source."""
    from autograder.build import build, copy_course

    root = copy_course(tmp_path_factory.mktemp("course"))
    build(course_root=root)
    return root


@pytest.fixture(scope="session")
def course_life():
    """The exchange life with real accounts, once per session (tests/exchange_life.py)."""
    from exchange_life import live_the_course

    return live_the_course()
