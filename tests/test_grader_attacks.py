"""The sandboxed grader against a class of cheating and careless submissions, graded for real.

Prints the attack table (attack → score → what stopped it) with `pytest -s`.
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from attacks import RIGHT, WRONG, apply_edit, attacks
from autograder.build import copy_course
from autograder.solution import worked_notebook
from classroom import submit
from conftest import course_environment, released_course, run_tool

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("attacks"),  # one worker grades the class once
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox starts as root (CI runs as root)")]
SLUG = "00_welcome"


def _fingerprint(root):
    """Hashes of everything a submission must not change."""
    digest = {}
    for folder in ("solutions", "autograder", "gradclinic", "submitted", "lessons"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    digest["nbgrader_config.py"] = hashlib.sha256((root / "nbgrader_config.py").read_bytes()).hexdigest()
    return digest


def _canary():
    """A TCP server on the host's loopback that counts connections (the sandbox must make none)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    seen, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                seen.append(connection)
            except OSError:
                continue
    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], seen, stop


def _grade(root, *extra, timeout=1500):
    return run_tool(["autograder", "grade", SLUG, "--workers", "2", "--timeout", "5", "--call-timeout", "5",
                     *extra], root, timeout=timeout)


def _record(root, student):
    return json.loads((root / ".autograder" / SLUG / f"{student}.json").read_text())


@pytest.fixture(scope="module")
def attacked_class(built_course, tmp_path_factory):
    root = released_course(tmp_path_factory.mktemp("attacked"), built_course)
    port, connections, stop = _canary()
    catalogue = attacks(root, port)
    submit(root, "honest_right", SLUG, worked_notebook(SLUG, root, {"compound": RIGHT}))
    submit(root, "honest_wrong", SLUG, worked_notebook(SLUG, root, {"compound": WRONG}))
    for attack in catalogue:
        notebook = worked_notebook(SLUG, root, {"compound": attack.code})
        submit(root, attack.name, SLUG, apply_edit(notebook, attack.edit))
    before = _fingerprint(root)
    started = time.perf_counter()
    done = _grade(root)
    seconds = time.perf_counter() - started
    stop.set()
    assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "attacks": catalogue, "before": before, "connections": connections,
            "seconds": seconds, "output": done.stdout}


def test_honest_submissions_score_right_and_wrong(attacked_class):
    root = attacked_class["root"]
    assert _record(root, "honest_right")["score"] == 3.0
    assert _record(root, "honest_wrong")["score"] == 0.0


def test_every_attack_scores_zero_and_leaves_evidence(attacked_class):
    root, rows = attacked_class["root"], []
    for attack in attacked_class["attacks"]:
        record = _record(root, attack.name)
        compound_scores = {v["grade_id"]: v["score"] for v in record["verdicts"]}
        rows.append(f"{attack.name:<26} {record['score']:>4g}/{record['max_score']:g}  {attack.stopped_by}")
        assert compound_scores == {"test_compound": 0.0, "hidden_compound": 0.0}, (attack.name, record)
        if attack.evidence:
            assert attack.evidence in json.dumps(record), (attack.name, attack.evidence)
    print(f"\nattack table ({len(rows)} attacks, graded in {attacked_class['seconds']:.0f} s with 2 workers):")
    print("\n".join(rows))


def test_attacks_harm_nothing(attacked_class):
    root = attacked_class["root"]
    assert _fingerprint(root) == attacked_class["before"], "a submission changed course files"
    assert attacked_class["connections"] == [], "a sandboxed submission reached the host's network"


def test_gradebook_holds_every_learner_and_exports(attacked_class):
    from nbgrader.api import Gradebook

    root = attacked_class["root"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions(SLUG)}
    assert scores["honest_right"] == 3.0 and scores["honest_wrong"] == 0.0
    assert set(scores) == {"honest_right", "honest_wrong", *(a.name for a in attacked_class["attacks"])}
    assert all(scores[a.name] == 0.0 for a in attacked_class["attacks"])
    done = run_tool(["nbgrader", "export", "--to", str(root / "grades.csv")], root)
    assert done.returncode == 0 and "honest_right" in (root / "grades.csv").read_text()


def test_feedback_has_verdicts_and_no_hidden_source(attacked_class):
    root = attacked_class["root"]
    assert run_tool(["nbgrader", "generate_feedback", SLUG], root).returncode == 0
    for attack in attacked_class["attacks"]:
        html = (root / "feedback" / attack.name / SLUG / f"{SLUG}.html").read_text()
        assert "from autograder import check" not in html and "BEGIN HIDDEN" not in html
        assert "sandbox_runner" not in html and "/job/" not in html, f"{attack.name}: the grader's frames show"
    timed_out = (root / "feedback" / "memory_bomb" / SLUG / f"{SLUG}.html").read_text()
    assert "Grading note" in timed_out, "the reason a submission crashed is shown in its feedback"


def test_regrading_gives_the_same_scores(attacked_class):
    root = attacked_class["root"]
    first = {s: _record(root, s)["verdicts"] for s in ("honest_right", "honest_wrong", "always_equal_object")}
    done = _grade(root, "--regrade", "--student", "honest_right", "--student", "honest_wrong",
                  "--student", "always_equal_object")
    assert done.returncode == 0, done.stderr
    for student, verdicts in first.items():
        assert [(v["grade_id"], v["score"]) for v in _record(root, student)["verdicts"]] == \
               [(v["grade_id"], v["score"]) for v in verdicts]


def test_grader_refuses_without_a_gradebook_entry(built_course, tmp_path):
    root = copy_course(tmp_path / "course", course_root=built_course)
    submit(root, "someone", SLUG, worked_notebook(SLUG, root))
    done = _grade(root)
    assert done.returncode == 2 and "generate_assignment" in done.stderr


def test_kill_and_resume_grades_everyone_exactly_once(built_course, tmp_path):
    from nbgrader.api import Gradebook

    root = released_course(tmp_path / "course", built_course)
    students = [f"learner{i:02d}" for i in range(8)]
    for i, student in enumerate(students):
        submit(root, student, SLUG, worked_notebook(SLUG, root, {"compound": RIGHT if i % 2 else WRONG}))
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", SLUG, "--workers", "2"], cwd=root,
                              env=course_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    records = root / ".autograder" / SLUG
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(records.glob("*.json"))) < 3:
        time.sleep(0.2)
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    finished_before = len(list(records.glob("*.json")))
    assert 3 <= finished_before < len(students), "the kill should land mid-class"
    done = _grade(root)
    assert done.returncode == 0, done.stderr
    assert f"{finished_before} submission(s) already graded" in done.stderr
    print(f"\nkill-and-resume: {finished_before} graded before SIGKILL, "
          f"{len(students) - finished_before} after resuming, {len(students)} records in all")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        submissions = gradebook.assignment_submissions(SLUG)
        scores = {s.student.id: s.score for s in submissions}
        assert len(submissions) == len(students)
    assert scores == {s: (3.0 if i % 2 else 0.0) for i, s in enumerate(students)}
    assert sorted(p.stem for p in records.glob("*.json")) == students
