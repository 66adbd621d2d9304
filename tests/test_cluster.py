"""Grading on many machines (autograder.cluster): a Dask scheduler and two workers as separate
processes on loopback, each worker in its own scratch folder with no course directory and no
course on its Python path, speaking TLS with certificates from `python -m autograder certs`.

A class of 12 is graded on the cluster while one worker is killed mid-class; the scores are the
ones local grading gives, every submission is graded once, and nothing is lost. A client without
the course's certificates is refused.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from attacks import RIGHT, WRONG
from autograder.solution import worked_notebook
from classroom import submit
from conftest import COURSE_ROOT, course_environment, released_course, run_tool

pytest.importorskip("distributed")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster"),
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox starts as root (CI runs as root)")]
SLUG = "00_welcome"
RAISING = "def compound(scale, depth):\n    raise ValueError('not yet')\n"
CLASS = {f"learner{i:02d}": (RIGHT, WRONG, RAISING)[i % 3] for i in range(12)}


def _node(role, certs, scratch, *arguments):
    """A cluster node in its own session and scratch folder, with nothing of the course in its
    environment (the worker half of the grader reaches it through Dask)."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
           "PYTHON": sys.executable, "GRADING_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([str(COURSE_ROOT / "scripts" / "grading-node"), role, str(certs), *arguments],
                            cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=open(scratch / "log", "w"),
                            start_new_session=True)


def _scores(root):
    records = {p.stem: json.loads(p.read_text()) for p in (root / ".autograder" / SLUG).glob("*.json")}
    return {student: (r["status"], r["score"]) for student, r in sorted(records.items())}


def _course(base, built_course):
    root = released_course(base, built_course)
    for student, code in CLASS.items():
        submit(root, student, SLUG, worked_notebook(SLUG, root, {"compound": code}))
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from autograder.cluster import make_certificates

    base = tmp_path_factory.mktemp("cluster")
    certs = base / "certs"
    make_certificates(certs)
    address_file = base / "scheduler" / "address.json"
    nodes = [_node("scheduler", certs, base / "scheduler", "--host", "127.0.0.1", "--port", "0",
                   "--scheduler-file", str(address_file))]
    deadline = time.monotonic() + 120
    while not address_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(address_file.read_text())["address"]
    assert address.startswith("tls://127.0.0.1:")
    workers = {name: _node("worker", certs, base / name, address, "--no-nanny", "--name", name)
               for name in ("worker-a", "worker-b")}
    nodes += workers.values()
    yield {"address": address, "certs": certs, "workers": workers, "base": base}
    for node in nodes:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
        node.wait()


def test_a_class_graded_on_the_cluster_with_a_worker_killed_scores_as_local(cluster, built_course, tmp_path):
    from distributed import Client

    from autograder.cluster import security

    local = _course(tmp_path / "local", built_course)
    assert run_tool(["autograder", "grade", SLUG, "--workers", "2"], local).returncode == 0
    remote = _course(tmp_path / "remote", built_course)
    with Client(cluster["address"], security=security(cluster["certs"]), timeout=60) as watcher:
        watcher.wait_for_workers(2, timeout=120)
        grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", SLUG, "--scheduler", cluster["address"],
                                   "--certs", str(cluster["certs"])], cwd=remote, env=course_environment(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        records, killed = remote / ".autograder" / SLUG, None
        deadline = time.monotonic() + 600
        while killed is None and grader.poll() is None and time.monotonic() < deadline:
            busy = {w: list(tasks) for w, tasks in watcher.processing().items() if tasks}
            victim = next((w for w in busy if watcher.scheduler_info()["workers"][w]["name"] == "worker-a"), None)
            if len(list(records.glob("*.json"))) >= 2 and victim:
                os.killpg(cluster["workers"]["worker-a"].pid, signal.SIGKILL)
                killed = {"graded_before": len(list(records.glob("*.json"))), "running_on_it": busy[victim]}
            time.sleep(0.1)
        stdout, stderr = grader.communicate(timeout=900)
    assert grader.returncode == 0, stdout + stderr
    assert killed, "worker-a was never caught running a submission"
    print(f"\nkilled worker-a with {killed['graded_before']} of {len(CLASS)} graded, while it ran "
          f"{killed['running_on_it']}\nlocal:   {_scores(local)}\ncluster: {_scores(remote)}")
    assert _scores(remote) == _scores(local)
    assert {score for _, score in _scores(local).values()} == {0.0, 3.0}
    assert "running it here" not in stderr, "every run came back from the cluster"
    assert f"graded {len(CLASS)} submission(s), 0 could not be graded" in stdout, "each graded once, none lost"
    sandboxed = [json.loads(p.read_text()) for p in records.glob("*.json")]
    assert len(sandboxed) == len(CLASS) and all(r["path"] == "sandboxed" for r in sandboxed)


def test_a_client_without_the_courses_certificates_is_refused(cluster, tmp_path):
    from distributed import Client

    from autograder.cluster import make_certificates, security

    make_certificates(tmp_path / "another-ca")  # well-formed certificates, from a CA the cluster does not trust
    for refused in ({}, {"security": security(tmp_path / "another-ca")}):
        address = cluster["address"] if refused else cluster["address"].replace("tls://", "tcp://")
        with pytest.raises((OSError, TimeoutError)):
            Client(address, timeout=5, **refused)
