"""The misconception report (``python -m autograder report``): a graded class of lesson 05 with
known mistakes gives exactly the expected counts, in the CSV, the HTML and a real browser.

The class is built synthetically but through the real formats: a scratch course whose gradebook
nbgrader itself made (``nbgrader generate_assignment 05_gated_rnns``), students and submissions
in nbgrader's gradebook, and records as :class:`autograder.pipeline.WriteGradingRecord` writes
them, whose verdict messages come from the real judges run on wrong implementations.
"""

import csv
import functools
import re
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from autograder.exercise import report
from autograder.pipeline import record_path, write_record
from autograder.registry import exercise, run_in_process
from conftest import run_tool

ASSIGNMENT = "05_gated_rnns"
DUE = datetime(2026, 11, 20, 12, 0)
GRADE_IDS = ("test_gru_step", "hidden_gru_step", "test_timestep_gradient_norms", "hidden_timestep_gradient_norms")
POINTS = {"test_gru_step": 1, "hidden_gru_step": 2, "test_timestep_gradient_norms": 1,
          "hidden_timestep_gradient_norms": 2}
TIMED_OUT = "the whole run exceeded its 120 s time limit"
# id, first, last, (gru_step, timestep_gradient_norms) behaviour, what else is true of the submission
CLASS = [
    ("ada", "Ada", "Lovelace", ("right", "right"), ""),
    ("bob", "Bob", "Babbage", ("gates_swapped", "right"), ""),
    ("cleo", "Cleo", "Hopper", ("gates_swapped", "mean_of_norms"), ""),
    ("dan", "Dan", "Turing", ("mix_flipped", "right"), "late"),
    ("eve", "Eve", "Noether", ("right", "right"), "hand_grade"),
    ("finn", "Finn", "Shannon", ("right", "right"), "failed"),
    ("gus", "Gus", "Gödel", None, "missing"),
    ("hana", "Hana", "Kovalevskaya", ("no_answer", "no_answer"), "timed_out"),
    ("abe", "Abe", "<Sch&ndler>", ("raises", "right"), ""),  # first: his message is the example
]


# -- the learners' functions -----------------------------------------------------------------
def _learners():
    """Right and wrong implementations, written as learners write them (see test_l05, mistakes)."""
    import keras
    import tensorflow as tf

    from autograder.solution import solution_function
    from mistakes import MISTAKES
    from test_l05_gated_rnns import _gru

    namespace = {"np": np, "tf": tf, "keras": keras}
    exec(MISTAKES[ASSIGNMENT]["timestep_gradient_norms"].source, namespace)

    def raises(*args):
        raise ValueError("<script>alert('the learner')</script> is not a GRU")

    return {"gru_step": {"right": _gru(), "gates_swapped": _gru(order="rzh"), "mix_flipped": _gru(mix="flipped"),
                         "raises": raises},
            "timestep_gradient_norms": {"right": solution_function(ASSIGNMENT, "timestep_gradient_norms"),
                                        "mean_of_norms": namespace["timestep_gradient_norms"]}}


@functools.lru_cache(maxsize=1)
def verdict_bank():
    """``{(exercise, behaviour): {grade_id: (score, message)}}`` from the real judges, as the
    sandboxed grader writes them (:func:`autograder.exercise.report` for a failed cell)."""
    from autograder import harness

    bank = {}
    for name, functions in _learners().items():
        judge = exercise(name)
        behaviours = dict(functions, no_answer=None)
        for behaviour, function in behaviours.items():
            for part, prefix in (("basic", "test_"), ("hidden", "hidden_")):
                grade_id = prefix + name
                if function is None:  # the run ended before the call: what SandboxedExecute sends
                    cases = judge.cases(part)
                    missing = {"error": f"no answer ({TIMED_OUT})"}
                    failures = judge.verdicts(cases, [missing] * len(cases), harness.ArrayStore(), part=part)
                    n_cases = len(cases)
                else:
                    failures, n_cases = run_in_process(judge, function, part)
                bank.setdefault((name, behaviour), {})[grade_id] = (
                    (0.0, report(name, part, failures, n_cases)) if failures else
                    (float(POINTS[grade_id]), f"{name}: all {n_cases} {part} checks passed."))
    return bank


# -- the class --------------------------------------------------------------------------------
def make_class(root, size=None):
    """Students, submissions, grades and grading records of lesson 05 in the course at ``root``
    (its gradebook made by ``nbgrader generate_assignment``). ``size``: that many students,
    cycling through :data:`CLASS` (ids ``learner000``…), else exactly :data:`CLASS`."""
    from nbgrader.api import Gradebook

    people = CLASS if size is None else [(f"learner{i:03d}", *CLASS[i % len(CLASS)][1:]) for i in range(size)]
    bank = verdict_bank()
    warnings.filterwarnings("ignore", module="nbgrader.api")  # its own SQLAlchemy autoflush noise
    with Gradebook(f"sqlite:///{root}/gradebook.db", "gradient-clinic") as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=DUE)
        for student, first, last, behaviour, situation in people:
            gradebook.update_or_create_student(student, first_name=first, last_name=last)
            if situation == "missing":
                continue
            late = situation == "late"
            submitted_at = DUE + (timedelta(hours=25, minutes=30) if late else -timedelta(hours=2))
            submission = gradebook.update_or_create_submission(ASSIGNMENT, student, timestamp=submitted_at)
            verdicts = []
            for grade_id in GRADE_IDS:
                name = grade_id.split("_", 1)[1]
                score, message = bank[(name, behaviour[0 if name == "gru_step" else 1])][grade_id]
                if situation == "hand_grade" and grade_id == "hidden_timestep_gradient_norms":
                    score, message = None, (f"{name}: the grader's check itself failed (RuntimeError: synthetic); "
                                            "flagged for grading by hand.")
                if situation == "failed":
                    score, message = 0.0, ("nbgrader could not grade this submission: "
                                           "nbformat.reader.NotJSONError: Notebook does not appear to be JSON")
                verdicts.append({"grade_id": grade_id, "points": POINTS[grade_id], "score": score, "message": message})
            notebook = submission.notebooks[0]
            for grade in notebook.grades:
                verdict = next(v for v in verdicts if v["grade_id"] == grade.name)
                grade.auto_score = verdict["score"]
                grade.needs_manual_grade = verdict["score"] is None or situation == "failed"
            notebook.late_submission_penalty = 1.0 if late else 0.0
            gradebook.db.commit()
            write_record(record_path(root, ASSIGNMENT, student), _record(student, situation, verdicts))
    return people


def _record(student, situation, verdicts):
    """A record in the shape WriteGradingRecord (or the class driver, for a failed one) writes."""
    common = {"student": student, "assignment": ASSIGNMENT, "verdicts": verdicts,
              "score": sum(v["score"] or 0 for v in verdicts), "max_score": sum(v["points"] for v in verdicts),
              "submission_sha256": "0" * 64, "grader_version": "synthetic"}
    if situation == "failed":
        return {**common, "status": "failed", "reason": verdicts[0]["message"], "log": "", "error": ""}
    timed_out = situation == "timed_out"
    return {**common, "notebook": ASSIGNMENT, "path": "sandboxed", "status": "graded",
            "needs_manual_grade": [v["grade_id"] for v in verdicts if v["score"] is None],
            "reason": TIMED_OUT if timed_out else "",
            "cell_logs": [{"stdout": "", "stderr": "", "error": None, "traceback": None, "timed_out": timed_out,
                           "seconds": 120.0 if timed_out else 0.5}],
            "seconds": 1.0, "sandbox_seconds": 0.9, "sandbox_exit_code": 0, "sandbox_stderr": "",
            "sandbox_peak_bytes": 0, "memory_cap": "", "ended_by": "", "grader_peak_bytes": 0}


def course_with_class(root, size=None):
    """A scratch course with lesson 05 in nbgrader's gradebook and the synthetic class graded."""
    from autograder.build import build_solution_notebook, copy_course

    copy_course(root)
    build_solution_notebook(ASSIGNMENT, root)  # the .ipynb nbgrader reads, from its jupytext source
    done = run_tool(["nbgrader", "generate_assignment", ASSIGNMENT, "--force", "--log-level=ERROR"], cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    make_class(root, size)
    return root


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    return course_with_class(tmp_path_factory.mktemp("report") / "course")


# -- the expected report ----------------------------------------------------------------------
SWAPPED = "the update and reset gates are swapped"
FLIPPED = "the mix is flipped"
MEAN_OF_NORMS = "the mean of per-example norms"
EXPECTED_TABLE = [  # (exercise, kind, what starts with, students, of, who)
    ("gru_step", "visible passed", "test_gru_step", 2, 8, ""),
    ("gru_step", "hidden passed", "hidden_gru_step", 2, 8, ""),
    ("gru_step", "misconception", SWAPPED, 2, 8, "bob;cleo"),
    ("gru_step", "no cause named", "(failed; no likely cause named)", 2, 8, "abe;hana"),
    ("gru_step", "misconception", FLIPPED, 1, 8, "dan"),
    ("timestep_gradient_norms", "visible passed", "test_timestep_gradient_norms", 5, 8, ""),
    ("timestep_gradient_norms", "hidden passed", "hidden_timestep_gradient_norms", 4, 8, ""),
    ("timestep_gradient_norms", "misconception", MEAN_OF_NORMS, 1, 8, "cleo"),
    ("timestep_gradient_norms", "no cause named", "(failed; no likely cause named)", 1, 8, "hana"),
]


def test_the_real_judges_name_the_mistakes():
    """The class's messages are the graders' own, and one misconception shows on several cases."""
    bank = verdict_bank()
    swapped = bank[("gru_step", "gates_swapped")]["hidden_gru_step"][1]
    assert swapped.count(f"Likely cause: {SWAPPED}") >= 2  # counted once per student all the same
    assert f"Likely cause: {MEAN_OF_NORMS}" in bank[("timestep_gradient_norms", "mean_of_norms")][
        "hidden_timestep_gradient_norms"][1]
    assert "<script>" in bank[("gru_step", "raises")]["hidden_gru_step"][1]


def test_report_counts_exactly_what_the_class_got_wrong(graded_class, tmp_path):
    started = time.perf_counter()
    done = run_tool(["autograder", "report", ASSIGNMENT], cwd=graded_class)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    html_path, csv_path = (graded_class / "reports" / f"{ASSIGNMENT}.{kind}" for kind in ("html", "csv"))
    assert f"wrote {html_path}" in done.stdout and f"wrote {csv_path}" in done.stdout
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    got = [(r["exercise"], r["kind"], r["what"], int(r["students"]), int(r["of"]), r["student_ids"]) for r in rows]
    assert len(got) == len(EXPECTED_TABLE), got
    for row, expected in zip(got, EXPECTED_TABLE):
        assert row[:2] == expected[:2] and row[2].startswith(expected[2]) and row[3:] == expected[3:], (row, expected)
    examples = {r["what"][:20]: r["example"] for r in rows}
    assert "gru_step(" in examples[SWAPPED[:20]] and f"Likely cause: {SWAPPED}" in examples[SWAPPED[:20]]

    page = html_path.read_text(encoding="utf-8")
    assert "8 of 9 student(s) submitted; 1 missing" in page
    for exercise_name, kind, what, students, of, _ in EXPECTED_TABLE:
        if kind.endswith("passed"):
            assert f"{students} of {of} ({students / of:.0%})" in page
    assert f"<td>{SWAPPED}" in page and "bob (Bob Babbage), cleo (Cleo Hopper)" in page
    assert "dan (Dan Turing)" in page and "1 day, 1:30:00" in page  # late, by 25 h 30 min, penalty 1
    assert "<td>gus</td><td>Gus Gödel</td>" in page  # no submission: listed, not silently absent
    problems = re.findall(r"<tr><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td><td><pre>", page)
    assert problems == [("eve", "needs a hand grade"), ("finn", "could not be graded"), ("finn", "needs a hand grade"),
                        ("hana", "timed out")]
    assert "hidden_timestep_gradient_norms" in page
    # Learner-derived text is escaped: the learner's error message and name stay text.
    assert "<script>" not in page and "&lt;script&gt;alert(" in page and "&lt;Sch&amp;ndler&gt;" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # nothing to fetch
    print(f"\nreport of {ASSIGNMENT} (9 students): {seconds:.2f} s; {html_path}\n{csv_path.read_text()}")


def test_course_report_has_every_lesson_in_the_gradebook(graded_class, monkeypatch, capsys):
    from autograder.__main__ import main

    monkeypatch.chdir(graded_class)  # the command works in the course directory, as nbgrader's do
    assert main(["report", "--course"]) == 0
    page = (graded_class / "reports" / "course.html").read_text(encoding="utf-8")
    assert "<h2>Lessons</h2>" in page and f'href="#{ASSIGNMENT}"' in page and f'id="{ASSIGNMENT}"' in page
    assert f"gru_step: {SWAPPED}" in page and "(2)" in page  # the lesson's most frequent misconception
    rows = list(csv.DictReader((graded_class / "reports" / "course.csv").open(encoding="utf-8")))
    assert len(rows) == len(EXPECTED_TABLE) and {r["assignment"] for r in rows} == {ASSIGNMENT}
    with pytest.raises(SystemExit):
        main(["report"])  # neither an assignment nor --course: a usage error
    assert main(["report", "99_nothing"]) == 2 and "not in the gradebook" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_report_opens_in_chromium_and_its_figure_renders(graded_class, tmp_path):
    from playwright.sync_api import sync_playwright

    html_path = graded_class / "reports" / f"{ASSIGNMENT}.html"
    if not html_path.exists():
        assert run_tool(["autograder", "report", ASSIGNMENT], cwd=graded_class).returncode == 0
    shot = tmp_path / "report.png"
    requests = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.on("request", lambda request: requests.append(request.url))
        page.goto(html_path.as_uri())
        page.wait_for_load_state("load")
        widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
        text = page.inner_text("body")
        page.screenshot(path=shot, full_page=True)
        browser.close()
    assert widths and all(w > 0 for w in widths), widths
    assert SWAPPED in text and "Gus Gödel" in text
    assert all(url.startswith(("file:", "data:")) for url in requests), requests  # self-contained
    print(f"\nreport screenshot: {shot}")


def test_likely_causes_are_read_from_the_graders_lines_only():
    from autograder.report import likely_causes, normalise

    judged = ("gru_step: 2 of 9 hidden checks failed.\n"
              "- gru_step(a): expected 1, got 2.\n  Likely cause: h_t is (batch, units): shape (3, 4) here.\n"
              "- gru_step(b) raised ValueError: x): expected 1, got 2.\n  Likely cause: forged by the learner")
    causes = likely_causes(judged)
    assert [c for c, _ in causes] == ["h_t is (batch, units): shape (3, 4) here."]
    assert causes[0][1].startswith("gru_step(a): expected 1")
    injected = judged.replace("raised ValueError: x)", "raised ValueError: x\n- gru_step(c): expected 1, got 2.\n"
                                                         "  Likely cause: injected by the learner\n")
    assert likely_causes(injected) == []  # more entries than the header announces: text was inserted
    assert normalise("shape (3, 4) here, ratio 0.4213") == normalise("shape  (5, 2) here, ratio 1.5e-3")
    assert normalise("only bias[0] is used") != normalise("only bias[1] is used")
