"""Grade a class: ``python -m autograder grade`` drives nbgrader's own autograde, once per
submission, with the sandboxed steps of :mod:`autograder.pipeline` — the very converter the
formgrader's Autograde button runs — and adds what a class needs around it:

- **workers**: the sandboxed runs (the slow part) are made ahead, several at once, in threads
  that each wait on a sandbox; each run is handed to its submission's conversion, which judges it
  here and writes the gradebook, one submission at a time (only this process writes it);
- **resume**: a submission whose record matches its notebook and the grader's version is not
  graded again, so an interrupted run (even by SIGKILL) picks up where it stopped, and a
  changed check regrades by itself;
- **no one lost**: a submission nbgrader cannot convert (say, a notebook that is not JSON) gets
  0, a flag for the instructor and a record saying why, and the class goes on;
- **progress** and a closing summary.
"""

import contextlib
import gc
import hashlib
import json
import logging
import os
import re
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from autograder.pipeline import grader_version, prepare, record_path, write_record


class GradingError(Exception):
    """Grading itself cannot run (not a learner's failure): bad course directory, no gradebook."""


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


class ClassGrader:
    """Grades the collected submissions of one assignment in one course directory."""

    def __init__(self, course_root, assignment, config_args=()):
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.apps.autogradeapp import AutogradeApp

        from autograder.pipeline import SandboxedExecute

        self.root, self.assignment = Path(course_root).resolve(), assignment
        os.chdir(self.root)  # nbgrader reads the course's nbgrader_config.py from here, as its CLI does
        # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings on every submission: noise.
        warnings.filterwarnings("ignore", module="nbgrader.api")
        self.app = AutogradeApp()
        self.app.initialize(list(config_args))
        self.app.log.setLevel(logging.WARNING)
        self.coursedir = self.app.coursedir
        self.api = NbGraderAPI(coursedir=self.coursedir, parent=self.app)
        self.execute = SandboxedExecute(parent=self.app)
        self.source = Path(self.coursedir.format_path(self.coursedir.source_directory, ".", assignment))
        if not (self.source / f"{assignment}.ipynb").is_file():
            self._build_source()
        try:
            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
                self.notebooks = [n.name for n in gradebook.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise GradingError(f"{assignment} is not in the gradebook: run `nbgrader generate_assignment "
                               f"{assignment}` first") from None
        self.version = grader_version(b"".join((self.source / f"{n}.ipynb").read_bytes()
                                               for n in self.notebooks if (self.source / f"{n}.ipynb").is_file()))

    def _build_source(self):
        if (self.source / f"{self.assignment}.py").is_file():
            from autograder.build import build_solution_notebook

            build_solution_notebook(self.assignment, self.root)
        else:
            raise GradingError(f"no lesson {self.assignment!r} in {self.source.parent}")

    def submitted(self, student):
        """The folder of one student's submission."""
        return Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, self.assignment))

    def students(self):
        pattern = Path(self.coursedir.format_path(self.coursedir.submitted_directory, "*", self.assignment))
        return sorted(p.parent.name for p in pattern.parent.parent.glob(f"*/{pattern.name}") if p.is_dir())

    def is_graded(self, student):
        """True when the record of the last grading matches this submission and this grader."""
        record = record_path(self.root, self.assignment, student)
        try:
            saved = json.loads(record.read_text())
        except (OSError, ValueError):
            return False
        autograded = Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment))
        return (saved.get("status") == "graded" and saved.get("grader_version") == self.version
                and all((autograded / f"{n}.ipynb").is_file() for n in self.notebooks)
                and saved.get("submission_sha256") == _sha256(self.submitted(student) / f"{self.notebooks[0]}.ipynb"))

    def plan(self, student):
        """The plan the conversion will make for this submission, or None when it cannot be read
        (nbgrader will then fail it, and :meth:`grade` records why)."""
        import nbformat

        from autograder.plan import plan_for

        try:
            return plan_for(nbformat.read(self.submitted(student) / f"{self.notebooks[0]}.ipynb", as_version=4))
        except Exception:
            return None

    def grade(self, student):
        """Run nbgrader's autograde for one student; return the submission's record."""
        outcome = self.api.autograde(self.assignment, student, force=True, create=True)
        record = record_path(self.root, self.assignment, student)
        if outcome["success"] and record.is_file():
            return json.loads(record.read_text())
        return self._record_failure(student, outcome)

    def _record_failure(self, student, outcome):
        from nbgrader.api import Gradebook

        reason = f"nbgrader could not grade this submission: {_cause(outcome)}"
        verdicts = []
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            submission = gradebook.update_or_create_submission(self.assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score, grade.needs_manual_grade = 0.0, True  # a person should look
                    verdicts.append({"grade_id": grade.name, "points": grade.max_score, "score": 0.0, "message": reason})
            gradebook.db.commit()
        record = {"student": student, "assignment": self.assignment, "status": "failed", "reason": reason,
                  "log": outcome.get("log", "")[-4000:], "error": outcome.get("error", "")[-4000:],
                  "verdicts": verdicts, "score": 0.0, "max_score": sum(v["points"] for v in verdicts),
                  "submission_sha256": _sha256(self.submitted(student) / f"{self.notebooks[0]}.ipynb"),
                  "grader_version": self.version}
        write_record(record_path(self.root, self.assignment, student), record)
        return record

    def grade_class(self, students=None, workers=2, regrade=False, stream=sys.stderr, cluster=None, runners=None):
        """Grade every collected submission (or only those of ``students``, whom
        :func:`grade_assignments` checked); return this run's records.
        ``cluster``: a Dask client (:func:`autograder.cluster.connect`) whose workers run the
        sandboxes; judging and the gradebook stay in this process either way. ``runners``: a
        :class:`~autograder.plan.RunnerPool` to run the sandboxes in (left open), else one of
        this class's own."""
        everyone = self.students()
        if students is not None:
            everyone = [s for s in everyone if s in students]
        todo = [s for s in everyone if regrade or not self.is_graded(s)]
        if len(everyone) > len(todo):
            stream.write(f"{len(everyone) - len(todo)} submission(s) already graded by this grader and "
                         "unchanged: skipped (use --regrade to redo)\n")
        records = []
        # The judges' Keras models live in reference cycles, which Python's collector frees only
        # when its heap has grown by a quarter: the grader's memory would grow with the class.
        # Collected after every submission instead; the libraries and caches made so far are
        # frozen out of those collections, which then take 0.01 s instead of 0.3 s.
        gc.collect()
        gc.freeze()

        def finished(record):
            gc.collect()
            records.append(record)
            _progress(len(records), len(todo), f"{record['student']}: {record['score']:g}/{record['max_score']:g}", stream)

        with shared_gradebook_engines():  # one engine per gradebook, not one per Gradebook
            _progress(0, len(todo), "", stream)
            if self.execute.in_kernel:  # nbgrader's kernels, one submission at a time
                for student in todo:
                    finished(self.grade(student))
            else:
                plans = {student: self.plan(student) for student in todo}
                runnable = {student: plan for student, plan in plans.items() if plan is not None}
                runs = (self._runs_on_cluster(runnable, cluster, stream) if cluster
                        else self._runs_here(runnable, workers, runners))
                for student, key, run in runs:
                    if run is not None:
                        prepare(key, run)
                    finished(self._timed(self.grade, student, run))  # a run that failed ahead is made again inside
                for student in todo:
                    if plans[student] is None:
                        finished(self.grade(student))
        stream.write("\n")
        return records

    def _sandbox(self):
        from autograder.sandbox import SandboxUnavailable

        try:
            return self.execute.sandbox()
        except SandboxUnavailable as problem:
            raise GradingError(f"cannot sandbox submissions: {problem}") from None

    def warm_modules(self):
        """The libraries this assignment's notebooks import that a runner imports while it waits."""
        import nbformat

        from autograder.plan import WARMABLE_MODULES, warm_modules

        imported = set()
        for name in self.notebooks:
            if (self.source / f"{name}.ipynb").is_file():
                imported.update(warm_modules(nbformat.read(self.source / f"{name}.ipynb", as_version=4)))
        return tuple(m for m in WARMABLE_MODULES if m in imported)

    def _runs_here(self, plans, workers, runners=None):
        """Run plans in ``workers`` threads, each in a fresh runner warmed ahead (of ``runners``,
        when given, else of a pool of this class's own); yield ``(student, plan_key, SandboxedRun
        or None)`` as they finish."""
        from autograder.plan import RunnerPool, run_plan

        sandbox = self._sandbox()
        workers = max(1, workers)
        own = runners is None
        if own:
            runners = RunnerPool(sandbox, ahead=min(workers, len(plans)), modules=self.warm_modules(),
                                 expected=len(plans))
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                ahead = {pool.submit(run_plan, plan, sandbox, runners): (student, plan.key)
                         for student, plan in plans.items()}
                for future in as_completed(ahead):
                    student, key = ahead.pop(future)  # a kept future keeps its run's records: the class's would pile up
                    yield student, key, future.result() if future.exception() is None else None
        finally:
            if own:
                runners.close()

    def _runs_on_cluster(self, plans, cluster, stream):
        from autograder.cluster import runs_on_cluster

        yield from runs_on_cluster(cluster, plans, self._sandbox_limits(), self.warm_modules(), stream)

    def _sandbox_limits(self):
        """The limits SandboxedExecute.sandbox() sets, without probing for bubblewrap here."""
        from autograder.sandbox import Limits

        return Limits(cell_seconds=self.execute.cell_seconds, call_seconds=self.execute.call_seconds)

    def _timed(self, grade, student, run):
        """``grade(student)``'s record, with where the time went added to it (for the bench and
        the instructor: seconds of CPU and wall, start-up, cells, judging, the rest of nbgrader)."""
        wall, cpu = time.perf_counter(), time.process_time()  # all threads: TensorFlow judges on its own pool
        record = grade(student)
        if record.get("status") == "graded" and run is not None:
            started = next((r for r in run.run.records if r.get("type") == "started"), {})
            done = next((r for r in run.run.records if r.get("type") == "done"), {})
            record["timings"] = {
                "sandbox_seconds": round(run.run.seconds, 3),         # hand-over to end: cells and calls
                "kernel_cpu_seconds": _number(started.get("kernel_cpu_seconds")),
                "import_cpu_seconds": _number(started.get("import_cpu_seconds")),
                "cells_cpu_seconds": _number(done.get("job_cpu_seconds")),
                "judge_seconds": record.get("seconds"),               # SandboxedExecute with a prepared run
                "nbgrader_seconds": round(time.perf_counter() - wall - (record.get("seconds") or 0), 3),
                "grader_cpu_seconds": round(time.process_time() - cpu, 3)}
            write_record(record_path(self.root, self.assignment, student), record)
        return record


@contextlib.contextmanager
def shared_gradebook_engines():
    """While a class is graded, every nbgrader ``Gradebook`` of one database shares one SQLAlchemy
    engine. nbgrader makes an engine per ``Gradebook`` (several per submission), each engine
    compiles and memoises its statements again, and those stayed in memory: the grader grew by
    about 0.2 MB per submission. ``Gradebook.close()`` still disposes the pool; the engine is reused."""
    import nbgrader.api

    made, original = {}, nbgrader.api.create_engine

    def shared(url, **options):
        key = (str(url), tuple(sorted(options.items())))
        if key not in made:
            made[key] = original(url, **options)
        return made[key]

    nbgrader.api.create_engine = shared
    try:
        yield made
    finally:
        nbgrader.api.create_engine = original
        for engine in made.values():
            engine.dispose()


def grade_assignments(course_root, assignments, students=None, workers=2, regrade=False, config_args=(),
                      stream=sys.stderr, cluster=None):
    """Grade the submissions of each of ``assignments`` in ``course_root`` (see :class:`ClassGrader`),
    one assignment after the other, in one run; return all their records.

    One run pays the start-up once: the judges' libraries load once, and one pool of sandboxed
    runners, warmed with every assignment's libraries, serves them all (a runner's warm-up, which
    imports TensorFlow, costs about as much as grading a short lesson). ``students`` names whom
    to grade in whichever of the assignments they submitted."""
    graders = [ClassGrader(course_root, assignment, config_args) for assignment in dict.fromkeys(assignments)]
    chosen = {grader.assignment: None for grader in graders}
    if students:
        submitted = {grader.assignment: set(grader.students()) for grader in graders}
        nowhere = sorted(set(students) - set().union(*submitted.values()))
        if nowhere:
            raise GradingError(f"no submission of {', '.join(chosen)} for {', '.join(nowhere)}")
        chosen = {assignment: [s for s in students if s in who] for assignment, who in submitted.items()}
    runners = None
    if len(graders) > 1 and cluster is None and not graders[0].execute.in_kernel:
        from autograder.plan import WARMABLE_MODULES, RunnerPool

        wanted = {module for grader in graders for module in grader.warm_modules()}
        runners = RunnerPool(graders[0]._sandbox(), ahead=max(1, workers),
                             modules=tuple(m for m in WARMABLE_MODULES if m in wanted))
    records = []
    try:
        for grader in graders:
            if chosen[grader.assignment] == []:
                continue  # none of the students named submitted this one
            if len(graders) > 1:
                stream.write(f"{grader.assignment}:\n")
            records += grader.grade_class(chosen[grader.assignment], workers, regrade, stream, cluster, runners)
    finally:
        if runners is not None:
            runners.close()
    return records


def _number(value):
    """A figure the sandbox reported, if it is a number (a learner can forge the "done" record)."""
    return value if type(value) in (int, float) else None


def _cause(outcome):
    """The innermost error nbgrader logged (its own closing exception only says "see above")."""
    errors = [line.strip() for line in f"{outcome.get('log', '')}\n{outcome.get('error', '')}".splitlines()
              if re.match(r"^\s*[A-Za-z_][\w.]*(Error|Exception|Exit)\b(: .*)?$", line)
              and "NbGraderException" not in line]
    return errors[-1][:500] if errors else "nbgrader failed (see the record's log)"


def _progress(done, total, last, stream):
    width = 30
    filled = int(width * done / max(total, 1))
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {last:<40.40}")
    stream.flush()


def summary(records):
    """The closing summary: counts, and every submission with a note, a flag or a failure
    (named by student, and by assignment too when the run graded several)."""
    failed = [r for r in records if r["status"] != "graded"]
    several = len({r["assignment"] for r in records}) > 1
    lines = [f"graded {len(records) - len(failed)} submission(s), {len(failed)} could not be graded"]

    def who(r):
        return f"{r['assignment']} {r['student']}" if several else r["student"]

    for r in records:
        if r["status"] == "graded" and r.get("reason"):
            lines.append(f"  {who(r)}: graded with a note — {r['reason']}")
        if r.get("needs_manual_grade"):
            lines.append(f"  {who(r)}: flagged for grading by hand — {', '.join(r['needs_manual_grade'])}")
    for r in failed:
        lines.append(f"  {who(r)}: 0, flagged — {r['reason']}")
    return "\n".join(lines)
