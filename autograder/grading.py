"""Grade a class: each submission runs sandboxed, the verdict is decided outside it, and the
scores land in nbgrader's gradebook so formgrader, feedback and export keep working.

For each submission the trusted side
1. reads the submitted notebook and the instructor's source notebook (which cells are tests),
2. runs the submission's own code cells (never its test cells) in a :class:`Sandbox`,
3. asks the sandbox to call each graded function on the grader's cases (plain data back),
4. judges every answer against the reference, in this process, and
5. writes the autograded notebook (verdicts as the test cells' outputs) and the gradebook.
Workers grade submissions in parallel; only the parent writes the gradebook, one submission at
a time, and a record per submission (written last) lets an interrupted run resume.
"""

import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

RUNNER_FILES = ("sandbox_runner.py", "harness.py")
AUTOGRADER_DIR = Path(__file__).resolve().parent


class GradingError(Exception):
    """Grading itself cannot run (not a learner's failure): bad course directory, no gradebook."""


@dataclass
class CellVerdict:
    grade_id: str
    points: float
    score: float
    message: str


@dataclass
class SubmissionResult:
    """Everything decided about one submission; ``status`` is "graded" or "failed"."""

    student: str
    status: str
    reason: str = ""
    verdicts: list = field(default_factory=list)
    cell_logs: list = field(default_factory=list)
    executed_ids: list = field(default_factory=list)
    seconds: float = 0.0
    submission_sha256: str = ""
    sandbox_stderr: str = ""  # the tail of what the sandbox wrote to stderr: for the instructor
    sandbox_peak_bytes: int = 0  # the learner's process, at its largest (cgroup measurement)
    worker_peak_bytes: int = 0  # the grading worker that judged it (trusted side)

    @property
    def score(self):
        return sum(v.score for v in self.verdicts)

    @property
    def max_score(self):
        return sum(v.points for v in self.verdicts)


# -- notebooks ------------------------------------------------------------------------------
def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def test_cells(source_notebook):
    """The instructor's test cells by grade_id: (exercise name, part, points, cell)."""
    cells = {}
    for cell in source_notebook.cells:
        meta = _nbgrader(cell)
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            grade_id = meta["grade_id"]
            for prefix, part in (("test_", "basic"), ("hidden_", "hidden")):
                if grade_id.startswith(prefix):
                    cells[grade_id] = (grade_id[len(prefix):], part, float(meta.get("points", 0)), cell)
                    break
            else:
                cells[grade_id] = (None, None, float(meta.get("points", 0)), cell)
    return cells


def cells_to_run(submission, tests):
    """The submission's code cells in order, minus anything claiming a test cell's id."""
    chosen = []
    for index, cell in enumerate(submission.cells):
        if cell.cell_type != "code" or _nbgrader(cell).get("grade_id") in tests:
            continue
        chosen.append((index, cell.source))
    return chosen


# -- one submission (runs in a worker) ------------------------------------------------------
def _job_directory(cells, calls, arrays, limits, sandbox_uid):
    import numpy as np

    job = Path(tempfile.mkdtemp(prefix="gradclinic-job-"))
    for name in RUNNER_FILES:
        shutil.copy(AUTOGRADER_DIR / name, job / name)
    (job / "cells.json").write_text(json.dumps({"cells": cells}))
    (job / "request.json").write_text(json.dumps({"calls": calls}, allow_nan=True))
    with open(job / "request.npz", "wb") as f:
        np.savez(f, **arrays)
    (job / "limits.json").write_text(json.dumps({"cell_seconds": limits.cell_seconds,
                                                 "call_seconds": limits.call_seconds,
                                                 "output_chars": limits.output_chars}))
    for path in [job, *job.iterdir()]:  # readable by the sandbox user, writable by nobody else
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return job


def _run_environment():
    return {"MPLBACKEND": "Agg", "NBGRADER_EXECUTION": "autograde", "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_ENABLE_ONEDNN_OPTS": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def _answers_by_index(records):
    """The first answer record per call index, with its arrays (plain .npz, no pickles)."""
    import numpy as np

    from autograder import harness

    answers = {}
    for record in records:
        if record.get("type") != "answer" or not isinstance(record.get("index"), int):
            continue
        if record["index"] in answers:
            continue
        try:
            with np.load(io.BytesIO(base64.b64decode(record.get("arrays", ""))), allow_pickle=False) as f:
                store = harness.ArrayStore({k: f[k] for k in f.files})
        except Exception:
            store = harness.ArrayStore()
        answers[record["index"]] = (record.get("answer"), store)
    return answers


def _describe_end(run, n_cells):
    cells = [r for r in run.records if r.get("type") == "cell"]
    if run.overflowed:
        return "the notebook sent more data than the grader accepts"
    if run.timed_out:
        return f"the whole run exceeded its {run.seconds:.0f} s time limit"
    if not any(r.get("type") == "done" for r in run.records):
        where = f"after cell {len(cells)} of {n_cells}" if len(cells) < n_cells else "while answering the graded calls"
        code = f" (exit code {run.exit_code})" if run.exit_code else ""
        return f"the notebook's process ended unexpectedly {where}{code}: a crash, os._exit, or the memory limit"
    return ""


def grade_submission(course_root, assignment, student, sandbox_settings):
    """Grade one student's submission of ``assignment``. Runs in a worker process."""
    import nbformat

    from autograder.registry import exercise as find_exercise
    from autograder.sandbox import Sandbox

    started = time.monotonic()
    course_root = Path(course_root)
    source = nbformat.read(course_root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    tests = test_cells(source)
    folder = course_root / "submitted" / student / assignment
    path = folder / f"{assignment}.ipynb"
    result = SubmissionResult(student, "graded")

    def zero_everything(reason):
        result.status, result.reason = "failed", reason
        result.verdicts = [CellVerdict(gid, pts, 0.0, reason) for gid, (_, _, pts, _) in tests.items()]
        result.seconds = time.monotonic() - started
        return result

    if not path.is_file():
        return zero_everything(f"no notebook {path.name} in the submission")
    raw = path.read_bytes()
    result.submission_sha256 = hashlib.sha256(raw).hexdigest()
    try:
        submission = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as error:
        return zero_everything(f"the notebook could not be read ({type(error).__name__}: {error})")

    # The calls: every case of every exercise this notebook's test cells grade.
    from autograder import harness
    from autograder.exercise import encode_call, report

    plan, calls, store = [], [], harness.ArrayStore()
    for grade_id, (name, part, points, _) in tests.items():
        if name is None:
            continue
        try:
            ex = find_exercise(name)
        except KeyError:
            continue
        cases = ex.cases(part)
        first = len(calls)
        calls += [encode_call(ex.name, case, store) for case in cases]
        plan.append((grade_id, ex, part, points, cases, range(first, len(calls))))
    arrays = store.arrays
    sandbox = Sandbox(**sandbox_settings)
    chosen = cells_to_run(submission, tests)
    sources = [source_text for _, source_text in chosen]
    reason, run = "", None
    for attempt in range(2):  # a second attempt skips the cell that crashed or hung the first
        job = _job_directory(sources, calls, arrays, sandbox.limits, sandbox.uid)
        try:
            job_path = job if sandbox.unsafe else Path("/job")
            run = sandbox.run(job, lambda fd: [str(sandbox.venv / "bin" / "python"),
                                               str(job_path / "sandbox_runner.py"), str(job_path), str(fd)],
                              _run_environment())
        finally:
            shutil.rmtree(job, ignore_errors=True)
        problem = _describe_end(run, len(sources))
        if not problem:
            break
        reason = problem
        ran = [r for r in run.records if r.get("type") == "cell"]
        if attempt == 0 and len(ran) < len(sources):
            sources = sources[:len(ran)]  # rerun what ran, without the cell that never finished
            reason += f"; graded again without cell {len(ran) + 1} and those after it"
            continue
        break

    result.reason, result.sandbox_stderr = reason, run.stderr_tail
    result.sandbox_peak_bytes = run.peak_memory_bytes
    result.cell_logs = [r for r in run.records if r.get("type") == "cell"]
    result.executed_ids = [index for index, _ in chosen][:len(result.cell_logs)]
    answers = _answers_by_index(run.records)
    for grade_id, (name, part, points, _) in tests.items():
        entry = next((p for p in plan if p[0] == grade_id), None)
        if entry is None:
            result.verdicts.append(CellVerdict(grade_id, points, None, "no trusted check: grade by hand"))
            continue
        _, ex, part, points, cases, indices = entry
        failures = []
        for case, index in zip(cases, indices):
            answer, answer_store = answers.get(index, ({"error": f"no answer ({reason or 'not reached'})"}, None))
            failures += ex.verdicts([case], [answer], answer_store or harness.ArrayStore())
        if failures:
            result.verdicts.append(CellVerdict(grade_id, points, 0.0, report(name, part, failures, len(cases))))
        else:
            result.verdicts.append(CellVerdict(grade_id, points, points, f"{name}: all {len(cases)} {part} checks passed."))
    result.seconds = time.monotonic() - started
    import resource

    result.worker_peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


# -- writing results (parent process only) --------------------------------------------------
def _verdict_outputs(verdict):
    import nbformat

    if verdict.score is None:
        return [nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n")]
    if verdict.score >= verdict.points:
        return [nbformat.v4.new_output("stream", name="stdout", text=f"✓ {verdict.message}\n")]
    lines = verdict.message.splitlines() or ["failed"]
    return [nbformat.v4.new_output("error", ename="CheckFailed", evalue=verdict.message, traceback=lines)]


def autograded_notebook(course_root, assignment, student, result):
    """The submission with test cells restored from the source and verdicts as their outputs."""
    import nbformat

    source = nbformat.read(Path(course_root) / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    tests = test_cells(source)
    source_meta = {_nbgrader(c).get("grade_id"): c.metadata["nbgrader"] for c in source.cells if _nbgrader(c)}
    path = Path(course_root) / "submitted" / student / assignment / f"{assignment}.ipynb"
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:
        notebook = nbformat.v4.new_notebook(metadata=source.metadata)
    verdicts = {v.grade_id: v for v in result.verdicts}
    logs = dict(zip(result.executed_ids, result.cell_logs))
    seen = set()
    for index, cell in enumerate(notebook.cells):
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in source_meta:
            cell.metadata["nbgrader"] = dict(source_meta[grade_id])
        elif "nbgrader" in cell.metadata:
            del cell.metadata["nbgrader"]  # metadata the learner invented
        if cell.cell_type != "code":
            continue
        if grade_id in tests:
            seen.add(grade_id)
            cell.source = tests[grade_id][3].source
            cell.outputs = _verdict_outputs(verdicts[grade_id])
        elif index in logs:
            cell.outputs = _log_outputs(logs[index])
        else:
            cell.outputs = []
    for grade_id, (_, _, _, test_cell) in tests.items():  # test cells the learner deleted
        if grade_id not in seen:
            restored = nbformat.v4.new_code_cell(test_cell.source, metadata={"nbgrader": dict(source_meta[grade_id])})
            restored.outputs = _verdict_outputs(verdicts[grade_id])
            notebook.cells.append(restored)
    if result.reason:
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Grading note:** {result.reason}."))
    notebook.metadata["kernelspec"] = source.metadata.get("kernelspec", {})
    return notebook


def _log_outputs(log):
    import nbformat

    outputs = []
    for name in ("stdout", "stderr"):
        if log.get(name):
            outputs.append(nbformat.v4.new_output("stream", name=name, text=str(log[name])))
    if log.get("timed_out"):
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text="[this cell ran past its time limit]\n"))
    return outputs


def write_results(course_root, assignment, result, db_url):
    """Write the autograded notebook, then the gradebook, then the resume record (in that order)."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    course_root = Path(course_root)
    student = result.student
    folder = course_root / "autograded" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(autograded_notebook(course_root, assignment, student, result), folder / f"{assignment}.ipynb")
    submitted = course_root / "submitted" / student / assignment
    for extra in submitted.glob("*") if submitted.is_dir() else []:  # timestamp, submission secret, …
        if extra.is_file() and extra.suffix != ".ipynb":
            shutil.copy(extra, folder / extra.name)
    stamp = submitted / "timestamp.txt"
    timestamp = None
    if stamp.is_file():
        try:
            timestamp = parse_utc(stamp.read_text().strip())
        except Exception:
            timestamp = None
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student, timestamp=timestamp)
        scores = {v.grade_id: v for v in result.verdicts}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                verdict = scores.get(grade.name)
                if verdict is None:
                    continue
                grade.auto_score = verdict.score
                grade.needs_manual_grade = verdict.score is None
        gradebook.db.commit()
    record = record_path(course_root, assignment, student)
    record.parent.mkdir(parents=True, exist_ok=True)
    temporary = record.with_suffix(".tmp")
    temporary.write_text(json.dumps({**asdict(result), "score": result.score, "max_score": result.max_score},
                                    indent=1, default=str))
    os.replace(temporary, record)  # atomic: a record exists only for a fully written result


def record_path(course_root, assignment, student):
    return Path(course_root) / ".autograder" / assignment / f"{student}.json"


def _already_graded(course_root, assignment, student):
    record = record_path(course_root, assignment, student)
    path = Path(course_root) / "submitted" / student / assignment / f"{assignment}.ipynb"
    if not record.is_file():
        return False
    try:
        saved = json.loads(record.read_text())
    except ValueError:
        return False
    current = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return saved.get("submission_sha256") == current


# -- the class ------------------------------------------------------------------------------
def _worker_setup():
    os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"})
    sys.path.insert(0, str(AUTOGRADER_DIR.parent))
    import gradclinic

    gradclinic.quiet_tensorflow()


def _grade_safely(course_root, assignment, student, sandbox_settings):
    import traceback

    try:
        return grade_submission(course_root, assignment, student, sandbox_settings)
    except Exception as error:  # a grader bug must still leave a recorded reason
        return SubmissionResult(student, "failed", f"the grader failed on this submission: {error!r}\n"
                                f"{traceback.format_exc(limit=3)}")


def _progress(done, total, last, stream=sys.stderr):
    width = 30
    filled = int(width * done / max(total, 1))
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {last:<40.40}")
    stream.flush()


def grade_assignment(course_root, assignment, students=None, workers=2, limits=None, unsafe=False,
                     regrade=False, db_url=None, stream=sys.stderr):
    """Grade every collected submission of ``assignment`` (or only ``students``).

    Returns the list of :class:`SubmissionResult` s of this run (already-graded, unchanged
    submissions are skipped unless ``regrade``). Raises :class:`GradingError` when grading
    cannot run at all.
    """
    from autograder.sandbox import Limits, Sandbox, SandboxUnavailable

    course_root = Path(course_root).resolve()
    source = course_root / "solutions" / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        if (course_root / "solutions" / assignment / f"{assignment}.py").is_file():
            from autograder.build import build_solution_notebook

            build_solution_notebook(assignment, course_root)
        else:
            raise GradingError(f"no lesson {assignment!r} in {course_root / 'solutions'}")
    db_url = db_url or f"sqlite:///{course_root / 'gradebook.db'}"
    _check_gradebook(db_url, assignment)
    submitted = course_root / "submitted"
    everyone = sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir()) if submitted.is_dir() else []
    if students:
        missing = sorted(set(students) - set(everyone))
        if missing:
            raise GradingError(f"no submission of {assignment} for {', '.join(missing)}")
        everyone = [s for s in everyone if s in students]
    todo = [s for s in everyone if regrade or not _already_graded(course_root, assignment, s)]
    skipped = len(everyone) - len(todo)
    import gradclinic

    # The toolkit the environment really imports (an editable install points at a checkout).
    settings = {"python_environment": sys.prefix, "toolkit_dir": str(Path(gradclinic.__file__).parent),
                "limits": limits or Limits(), "unsafe": unsafe}
    try:
        Sandbox(**settings)
    except SandboxUnavailable as problem:
        raise GradingError(f"cannot sandbox submissions: {problem}") from None
    if skipped:
        stream.write(f"{skipped} submission(s) already graded and unchanged: skipped (use --regrade to redo)\n")
    results = []
    _progress(0, len(todo), "", stream)
    with ProcessPoolExecutor(max_workers=max(1, workers), initializer=_worker_setup) as pool:
        futures = {pool.submit(_grade_safely, str(course_root), assignment, s, settings): s for s in todo}
        for future in as_completed(futures):
            result = future.result()
            write_results(course_root, assignment, result, db_url)
            results.append(result)
            _progress(len(results), len(todo), f"{result.student}: {result.score:g}/{result.max_score:g}", stream)
    stream.write("\n")
    return results


def _check_gradebook(db_url, assignment):
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(db_url) as gradebook:
            gradebook.find_assignment(assignment)
    except MissingEntry:
        raise GradingError(f"{assignment} is not in the gradebook: run `nbgrader generate_assignment "
                           f"{assignment}` first") from None


def summary(results):
    """The closing summary: counts, and every failure with its reason."""
    graded = [r for r in results if r.status == "graded" and not r.reason]
    noted = [r for r in results if r.status == "graded" and r.reason]
    failed = [r for r in results if r.status != "graded"]
    lines = [f"graded {len(graded) + len(noted)} submission(s), {len(failed)} failed to run"]
    for r in noted:
        lines.append(f"  {r.student}: graded with a note — {r.reason}")
    for r in failed:
        lines.append(f"  {r.student}: 0 — {r.reason.splitlines()[0] if r.reason else 'failed'}")
    return "\n".join(lines)
