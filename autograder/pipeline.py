"""The sandboxed grader as steps of nbgrader's own autograde pipeline.

``nbgrader_config.py`` puts these in ``Autograde.autograde_preprocessors`` in place of
nbgrader's ``Execute`` and ``SaveAutoGrades``, so that ``nbgrader autograde``, the formgrader's
Autograde button and ``python -m autograder grade`` are one grader: nbgrader sanitizes the
submission (restores test cells from the gradebook, checks metadata), :class:`SandboxedExecute`
runs the learner's cells in a sandbox and judges the answers here, on the trusted side, writing
each verdict as its test cell's output; then nbgrader's own steps limit outputs, save the
grades (:class:`SaveGrades` adds only "grade by hand" verdicts), assign late penalties and
check metadata, and :class:`WriteGradingRecord` leaves the per-submission record last.

``--SandboxedExecute.in_kernel=True`` runs the notebook in a Jupyter kernel as plain nbgrader
does (hidden tests call the references in that kernel): only for notebooks you trust.
"""

import hashlib
import json
import os
import resource
import threading
import time
from pathlib import Path

import nbformat
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, SaveAutoGrades
from nbgrader.utils import determine_grade, is_grade
from traitlets import Bool, Float

from autograder.plan import is_test_cell, plan_for, run_plan
from autograder.untrusted import read_records

GRADER_VERSION_FILES = ("autograder", "gradclinic")
# Runs made ahead of their conversion (``python -m autograder grade``'s workers), by plan key.
_prepared, _prepared_lock = {}, threading.Lock()


def prepare(plan_key, sandboxed_run):
    """Hand a run made ahead of time to the conversion whose plan has this key."""
    with _prepared_lock:
        _prepared[plan_key] = sandboxed_run


def _take_prepared(plan_key):
    with _prepared_lock:
        return _prepared.pop(plan_key, None)


def grader_version(source_notebook_bytes=b""):
    """A digest of the grader's code and of the assignment's source: a resume record made by
    another version is stale, so a fixed check regrades by itself."""
    digest = hashlib.sha256(source_notebook_bytes)
    root = Path(__file__).resolve().parent.parent
    for folder in GRADER_VERSION_FILES:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _verdict_outputs(score, points, message):
    if score is None:
        return [nbformat.v4.new_output("stream", name="stdout", text=message + "\n")]
    if score >= points:
        return [nbformat.v4.new_output("stream", name="stdout", text=f"✓ {message}\n")]
    lines = message.splitlines() or ["failed"]
    return [nbformat.v4.new_output("error", ename="CheckFailed", evalue=message, traceback=lines)]


def _log_outputs(log):
    outputs = [nbformat.v4.new_output("stream", name=name, text=log[name])
               for name in ("stdout", "stderr") if log.get(name)]
    if log.get("timed_out"):
        _, _, which = (log.get("error") or "").partition("_Timeout: ")  # which limit, when the cell says
        text = f"[this cell ran past its time limit{': ' + which if which else ''}]\n"
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=text))
    elif log.get("error"):
        text = log.get("traceback") or log["error"]
        outputs.append(nbformat.v4.new_output("error", ename=log["error"].split(":")[0][:80],
                                              evalue=log["error"], traceback=text.splitlines()))
    return outputs


def _judge(test, answers, arrays):
    """``(score, message)`` for one test cell; score None means "grade by hand"."""
    from autograder.exercise import report

    if test.exercise is None:
        return None, f"{test.grade_id}: no trusted check exists for this cell; grade it by hand."
    name = test.exercise.name
    try:
        failures = test.exercise.verdicts(test.cases, answers, arrays, part=test.part)
    except Exception as crash:  # the grader's bug, not the learner's: a person decides
        return None, (f"{name}: the grader's check itself failed ({type(crash).__name__}: {crash}); "
                      "flagged for grading by hand.")
    if failures:
        return 0.0, report(name, test.part, failures, len(test.cases))
    return test.points, f"{name}: all {len(test.cases)} {test.part} checks passed."


class ForgetInventedMetadata(NbGraderPreprocessor):
    """Sanitize step, before nbgrader's OverwriteCells: nbgrader metadata on a cell whose grade_id
    the gradebook does not know for this notebook is the learner's invention. It is removed, so
    the cell is only code (nbgrader's OverwriteCells would keep the rest of it without a grade_id,
    and its step that adds missing cells back then fails on such a cell)."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        meta = resources["nbgrader"]
        with Gradebook(meta["db_url"]) as gradebook:
            try:
                notebook = gradebook.find_notebook(meta["notebook"], meta["assignment"])
                self.known = {cell.name for cell in notebook.source_cells}
            except MissingEntry:
                self.known = set()
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if "nbgrader" in cell.metadata and cell.metadata["nbgrader"].get("grade_id") not in self.known:
            del cell.metadata["nbgrader"]
        return cell, resources


class SandboxedExecute(NbGraderPreprocessor):
    """nbgrader's Execute step, sandboxed: run the learner's code cells (never the test cells) in
    a sandbox (a fresh child of a warm runner), call each graded function on the grader's cases
    there, and judge the plain data that comes back against the references in this process."""

    in_kernel = Bool(False, help="Run the notebook in a Jupyter kernel, as plain nbgrader does, trusting "
                                 "it completely. Only for notebooks you trust.").tag(config=True)
    unsafe_no_sandbox = Bool(False, help="Run the learner's cells without isolation (no bubblewrap): "
                                         "only for trusted submissions on a host without it.").tag(config=True)
    cell_seconds = Float(120.0, help="CPU time of one learner cell in the sandbox, all its threads together "
                                     "(a cell that waits without computing: 3 times that in wall time).").tag(config=True)
    call_seconds = Float(60.0, help="CPU time of one graded call in the sandbox (likewise).").tag(config=True)

    def sandbox(self):
        """The sandbox these settings describe (raises SandboxUnavailable when none can be made)."""
        import sys

        import gradclinic
        from autograder.sandbox import Limits, Sandbox

        # The toolkit the environment really imports (an editable install points at a checkout).
        return Sandbox(python_environment=sys.prefix, toolkit_dir=str(Path(gradclinic.__file__).parent),
                       limits=Limits(cell_seconds=self.cell_seconds, call_seconds=self.call_seconds),
                       unsafe=self.unsafe_no_sandbox)

    def preprocess(self, nb, resources):
        if self.in_kernel:
            return Execute(parent=self.parent).preprocess(nb, resources)
        started = time.monotonic()
        plan = plan_for(nb)
        done = _take_prepared(plan.key) or run_plan(plan, self.sandbox())
        reading = read_records(done.run.records, done.cells_run, len(plan.calls))
        reason = reading.refused or done.note
        logs = dict(zip(plan.cell_indices, reading.cells))
        verdicts = {}
        for grade_id, test in plan.tests.items():
            if reading.refused:
                score, message = 0.0, f"{grade_id}: not graded: {reading.refused}."
            else:
                missing = {"error": f"no answer ({reason or 'the call was not reached'})"}
                answers = [reading.answers.get(index, missing) for index in test.calls]
                score, message = _judge(test, answers, reading.arrays)
            verdicts[grade_id] = {"grade_id": grade_id, "points": test.points, "score": score, "message": message}
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if is_test_cell(cell):
                verdict = verdicts[cell.metadata["nbgrader"]["grade_id"]]
                cell.outputs = _verdict_outputs(verdict["score"], verdict["points"], verdict["message"])
            else:
                cell.outputs = _log_outputs(logs[index]) if index in logs else []
        if reason:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Grading note:** {reason}."))
        run = done.run
        resources["autograder"] = {
            "verdicts": list(verdicts.values()), "reason": reason, "cell_logs": reading.cells,
            "seconds": round(time.monotonic() - started, 3), "sandbox_seconds": round(run.seconds, 3),
            "sandbox_exit_code": run.exit_code, "sandbox_stderr": run.stderr_tail,
            "sandbox_peak_bytes": run.peak_memory_bytes, "memory_cap": run.memory_cap,
            "ended_by": run.ended_by, "cap_events": run.cap_events,
            "grader_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
        return nb, resources


class SaveGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, which reads a code cell's score from its outputs, plus the one
    verdict outputs cannot say: "grade by hand" (no score, flagged for manual grading)."""

    def preprocess(self, nb, resources):
        self._by_hand = {v["grade_id"] for v in resources.get("autograder", {}).get("verdicts", [])
                         if v["score"] is None}
        return super().preprocess(nb, resources)

    def _add_score(self, cell, resources):
        super()._add_score(cell, resources)
        if cell.metadata["nbgrader"]["grade_id"] in self._by_hand:
            grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                              self.assignment_id, self.student_id)
            grade.auto_score, grade.needs_manual_grade = None, True
            self.gradebook.db.commit()


def record_path(course_root, assignment, student):
    """Where the record of one student's graded submission of ``assignment`` is kept."""
    return Path(course_root) / ".autograder" / assignment / f"{student}.json"


class WriteGradingRecord(NbGraderPreprocessor):
    """Last step: the per-submission record (verdicts, reasons, the sandbox's measurements, the
    grader's version). Written after the gradebook, so a record means the grades are saved; the
    resume of ``python -m autograder grade`` relies on that."""

    def preprocess(self, nb, resources):
        from nbgrader.coursedir import CourseDirectory

        meta = resources["nbgrader"]
        coursedir = CourseDirectory(parent=self)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", meta["assignment"])) / \
            f"{meta['notebook']}.ipynb"
        submitted = Path(coursedir.format_path(coursedir.submitted_directory, meta["student"], meta["assignment"])) / \
            f"{meta['notebook']}.ipynb"
        outcome = dict(resources.get("autograder") or {})
        if not outcome:  # in a kernel: the scores are what nbgrader reads from the outputs
            outcome["verdicts"] = [{"grade_id": c.metadata["nbgrader"]["grade_id"], "points": determine_grade(c)[1],
                                    "score": determine_grade(c)[0], "message": _said(c)}
                                   for c in nb.cells if is_grade(c)]
            outcome["reason"] = ""
        scored = outcome["verdicts"]
        record = {"student": meta["student"], "assignment": meta["assignment"], "notebook": meta["notebook"],
                  "path": "in a kernel" if not resources.get("autograder") else "sandboxed",
                  "status": "graded",
                  "score": sum(v["score"] or 0 for v in scored), "max_score": sum(v["points"] for v in scored),
                  "needs_manual_grade": [v["grade_id"] for v in scored if v["score"] is None],
                  "submission_sha256": hashlib.sha256(submitted.read_bytes()).hexdigest() if submitted.is_file() else "",
                  "grader_version": grader_version(source.read_bytes() if source.is_file() else b""),
                  **outcome}
        write_record(record_path(coursedir.root, meta["assignment"], meta["student"]), record)
        return nb, resources


def _said(cell):
    """What a test cell run in a kernel said: its errors' messages, else what it printed."""
    outputs = cell.get("outputs", [])
    errors = [o.get("evalue", "") for o in outputs if o.get("output_type") == "error"]
    printed = [o.get("text", "") for o in outputs if o.get("output_type") == "stream"]
    return ("\n".join(errors) or "".join(printed)).strip()[:20_000]


def write_record(path, record):
    """Write a record atomically: it exists whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record, indent=1, default=str))
    os.replace(temporary, path)
