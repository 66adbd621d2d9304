"""What the class got wrong: ``python -m autograder report ASSIGNMENT`` (or ``--course``).

Reads only what nbgrader and the grader already hold — the gradebook (students, submissions,
scores, late penalties, hand-grade flags) and the per-submission grading records under
``.autograder/`` — and writes one self-contained HTML page (figures embedded as PNG, no network,
no external CSS or JS) and a CSV of its per-exercise / per-misconception table beside it:
``reports/ASSIGNMENT.html`` and ``reports/ASSIGNMENT.csv`` (``reports/course.*`` with ``--course``).

The steps are small functions: :func:`collect` (gradebook + records → :class:`AssignmentData`),
:func:`summarise` (→ :class:`Summary`: pass shares, misconceptions, problems, late, missing),
:func:`table_rows` (the CSV rows), :func:`score_figure` / :func:`course_figure` (PNG bytes) and
:func:`html_page`. Everything learner-derived (messages, reasons, names) is escaped.
"""

import base64
import csv
import html
import io
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from autograder.exercise import MAX_REPORTED_FAILURES
from autograder.pipeline import record_path

CHECK_PREFIXES = {"test_": "visible", "hidden_": "hidden"}
NO_CAUSE = "(failed; no likely cause named)"
CSV_COLUMNS = ["assignment", "exercise", "kind", "what", "students", "of", "share", "student_ids", "example"]


# -- collect --------------------------------------------------------------------------------
@dataclass
class SubmissionData:
    """One student's standing on one assignment, from the gradebook and the grading record."""

    student: str
    name: str
    submitted: bool = False
    timestamp: object = None
    score: float = 0.0
    max_score: float = 0.0
    penalty: float = 0.0
    seconds_late: float = 0.0
    needs_manual_grade: bool = False
    grades: dict = field(default_factory=dict)   # grade_id → (score, max_score, needs_manual_grade)
    record: dict = None                           # the grading record, None when there is none
    collected_only: bool = False                  # in submitted/ but not in the gradebook yet

    @property
    def final_score(self):
        """The score after nbgrader's late penalty (never below 0)."""
        return max(0.0, self.score - self.penalty)


@dataclass
class AssignmentData:
    """Everything the report needs about one assignment."""

    assignment: str
    grade_ids: list          # the assignment's graded cells, in notebook order
    max_score: float
    submissions: list        # one SubmissionData per student of the course (and per unknown submitter)


def course_directory(course_root, config_args=()):
    """nbgrader's CourseDirectory for ``course_root``: its ``nbgrader_config.py``, then
    ``--Class.trait=value`` overrides (e.g. ``--CourseDirectory.db_url=…``)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

    root = Path(course_root).resolve()
    config = Config()
    if (root / "nbgrader_config.py").is_file():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    if config_args:
        config.merge(KVArgParseConfigLoader(list(config_args)).load_config())
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(root)
    return coursedir


def assignment_names(coursedir):
    """Every assignment in the gradebook, by due date then name."""
    from nbgrader.api import Gradebook

    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        assignments = gradebook.assignments
        return [a.name for a in sorted(assignments, key=lambda a: (a.duedate is None, a.duedate or 0, a.name))]


def collect(coursedir, assignment):
    """Read one assignment's gradebook entries and grading records (no grading happens)."""
    from nbgrader.api import Gradebook, MissingEntry

    root = Path(coursedir.root)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
        try:
            entry = gradebook.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(f"{assignment} is not in the gradebook: run `nbgrader generate_assignment "
                             f"{assignment}` first") from None
        grade_cells = [cell for notebook in entry.notebooks for cell in notebook.grade_cells]
        order = _notebook_order(coursedir, assignment, [notebook.name for notebook in entry.notebooks])
        grade_ids = sorted((cell.name for cell in grade_cells), key=lambda name: (order.get(name, len(order)), name))
        max_score = sum(cell.max_score for cell in grade_cells)
        people = {s.id: _full_name(s) for s in gradebook.students}
        submissions = {}
        for submitted in entry.submissions:
            data = SubmissionData(student=submitted.student_id, name=people.get(submitted.student_id, ""),
                                  submitted=True, timestamp=submitted.timestamp,
                                  score=float(submitted.score or 0), max_score=float(submitted.max_score or 0),
                                  penalty=float(submitted.late_submission_penalty or 0),
                                  seconds_late=float(submitted.total_seconds_late or 0),
                                  needs_manual_grade=bool(submitted.needs_manual_grade))
            for notebook in submitted.notebooks:
                for grade in notebook.grades:
                    data.grades[grade.name] = (grade.score, grade.max_score, bool(grade.needs_manual_grade))
            submissions[data.student] = data
    for student in sorted(people):
        submissions.setdefault(student, SubmissionData(student=student, name=people[student]))
    for data in submissions.values():
        data.record = _read_record(record_path(root, assignment, data.student))
    for student in _collected(coursedir, assignment):
        if not submissions.get(student, SubmissionData(student, "")).submitted:
            submissions[student] = SubmissionData(student=student, name=people.get(student, ""), collected_only=True)
    return AssignmentData(assignment, grade_ids, float(max_score), [submissions[s] for s in sorted(submissions)])


def _notebook_order(coursedir, assignment, notebooks):
    """``{grade_id: position}`` in the assignment's notebooks (source, else release), so exercises
    are listed as the lesson teaches them; empty when neither notebook is there."""
    for folder in (coursedir.source_directory, coursedir.release_directory):
        order = {}
        for notebook in notebooks:
            path = Path(coursedir.format_path(folder, ".", assignment)) / f"{notebook}.ipynb"
            try:
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            except (OSError, ValueError, KeyError, TypeError):
                break
            for cell in cells:
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if grade_id:
                    order.setdefault(grade_id, len(order))
        else:
            if order:
                return order
    return {}


def _full_name(student):
    return " ".join(part for part in (student.first_name, student.last_name) if part)


def _read_record(path):
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _collected(coursedir, assignment):
    """Students with a collected submission folder (submitted/STUDENT/ASSIGNMENT)."""
    pattern = Path(coursedir.format_path(coursedir.submitted_directory, "*", assignment))
    return sorted(p.parent.name for p in pattern.parent.parent.glob(f"*/{pattern.name}") if p.is_dir())


# -- misconceptions -------------------------------------------------------------------------
_SHAPE = re.compile(r"\(\s*\d+(?:\s*,\s*\d+)*\s*,?\s*\)")
_DECIMAL = re.compile(r"(?<![\w.\[])[-+]?(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)", re.IGNORECASE)


def normalise(misconception):
    """The key under which a misconception is counted: whitespace collapsed, and the numbers a
    case puts into it (shapes, measured values) replaced by "…", so one mistake met on several
    cases counts once."""
    text = " ".join(misconception.split())
    return _DECIMAL.sub("…", _SHAPE.sub("(…)", text))


_HEADER = re.compile(r"^(?P<name>\w+): (?P<failed>\d+) of \d+ \w+ checks failed\.$")


def case_entries(message):
    """The per-case entries of a failed cell's message (see :func:`autograder.exercise.report`):
    each "- case message" with the lines that follow it (an array's rows, "  Likely cause: …"),
    without the leading "- "; the closing "(and N more like these)" is not an entry."""
    entries = []
    for line in message.splitlines()[1:]:
        if line.startswith("- "):
            entries.append([line[2:]])
        elif entries:
            entries[-1].append(line)
    if entries and re.fullmatch(r"\(and \d+ more like these\)", entries[-1][-1]):
        entries[-1].pop()
    return ["\n".join(entry).rstrip("\n") for entry in entries]


def likely_causes(message):
    """``[(misconception, example)]`` named in a failed cell's message.

    Only entries in the shape :func:`autograder.exercise.fail` writes count: "name(case): expected
    …, got …." ending in one "  Likely cause: …" line. A learner's own text (an error message,
    printed after "raised") could imitate that shape, so an entry that reports a raised error is
    skipped, and a message with more entries than its header announces (text inserted by a
    learner) names no cause at all."""
    lines = message.splitlines()
    header = _HEADER.match(lines[0]) if lines else None
    if header is None:
        return []
    entries = case_entries(message)
    if len(entries) != min(int(header["failed"]), MAX_REPORTED_FAILURES):
        return []
    found = []
    for entry in entries:
        *body, last = entry.splitlines()
        if (body and body[0].startswith(f"{header['name']}(") and ") raised " not in body[0]
                and "): expected " in "\n".join(body) and last.startswith("  Likely cause: ")):
            cause = last[len("  Likely cause: "):].strip()
            if cause:
                found.append((cause, entry))
    return found


def exercise_of(grade_id):
    """``(exercise, check)`` of a graded cell: ``hidden_gru_step`` → ``("gru_step", "hidden")``."""
    for prefix, check in CHECK_PREFIXES.items():
        if grade_id.startswith(prefix):
            return grade_id[len(prefix):], check
    return grade_id, "other"


# -- summarise ------------------------------------------------------------------------------
@dataclass
class Misconception:
    exercise: str
    text: str                 # as first met
    students: set
    example: str


@dataclass
class Summary:
    """One assignment's report, ready to print."""

    data: AssignmentData
    exercises: list           # [(exercise, {check: (grade_id, passed, of)})]
    misconceptions: list      # [Misconception], most frequent first
    problems: list            # [(student, name, what, detail)]
    late: list                # [SubmissionData]
    missing: list             # [SubmissionData]

    @property
    def graded(self):
        return [s for s in self.data.submissions if s.submitted]

    @property
    def class_size(self):
        return sum(1 for s in self.data.submissions if not s.collected_only)


def summarise(data):
    """Pass shares per exercise and check, misconceptions counted once per student, and who
    needs the instructor: crashed, timed out, hand grade, late, missing."""
    graded = [s for s in data.submissions if s.submitted]
    exercises = {}
    for grade_id in data.grade_ids:
        exercise, check = exercise_of(grade_id)
        passed = sum(1 for s in graded if _passed(s.grades.get(grade_id)))
        exercises.setdefault(exercise, {})[check] = (grade_id, passed, len(graded))
    found = {}
    for submission in graded:
        verdicts = (submission.record or {}).get("verdicts") or []
        failing = {}
        for verdict in verdicts:
            if not isinstance(verdict, dict) or verdict.get("grade_id") not in data.grade_ids:
                continue
            score, points = verdict.get("score"), verdict.get("points") or 0
            if score is None or score >= points:
                continue
            failing.setdefault(exercise_of(verdict["grade_id"])[0], []).append(str(verdict.get("message") or ""))
        if submission.record and submission.record.get("status") != "graded":
            continue  # the message is the grader's reason, listed under problems
        for exercise, messages in failing.items():
            causes = [cause for message in messages for cause in likely_causes(message)]
            if not causes:
                entries = [e for m in messages for e in case_entries(m)] or messages
                causes = [(NO_CAUSE, entries[0] if entries else "")]
            for text, example in causes:
                key = (exercise, normalise(text))
                if key not in found:
                    found[key] = Misconception(exercise, text, set(), example)
                found[key].students.add(submission.student)
    order = list(exercises)
    misconceptions = sorted(found.values(), key=lambda m: (-len(m.students), m.text == NO_CAUSE,
                                                           order.index(m.exercise) if m.exercise in order else 0,
                                                           m.text))
    return Summary(data, list(exercises.items()), misconceptions, _problems(data),
                   sorted((s for s in graded if s.seconds_late > 0 or s.penalty > 0), key=lambda s: s.student),
                   [s for s in data.submissions if not s.submitted and not s.collected_only])


def _passed(grade):
    if grade is None:
        return False
    score, points, needs_hand = grade
    return not needs_hand and score is not None and score >= points


def _problems(data):
    """``(student, name, what, detail)`` for every submission the instructor should look at."""
    problems = []
    for s in data.submissions:
        record = s.record or {}
        if s.collected_only:
            problems.append((s.student, s.name, "collected, not graded", "in submitted/ but not in the gradebook"))
            continue
        if not s.submitted:
            continue
        reason = str(record.get("reason") or "")
        logs = [log for log in record.get("cell_logs") or [] if isinstance(log, dict)]
        if not record:
            problems.append((s.student, s.name, "no grading record", "in the gradebook, but no .autograder record"))
        elif record.get("status") != "graded":
            problems.append((s.student, s.name, "could not be graded", reason))
        elif any(log.get("timed_out") for log in logs) or "time limit" in reason:
            problems.append((s.student, s.name, "timed out", reason or "a cell ran past its time limit"))
        elif reason:
            what = "crashed" if re.search(r"ended unexpectedly|stopped by|crash", reason) else "graded with a note"
            problems.append((s.student, s.name, what, reason))
        by_hand = sorted(set(record.get("needs_manual_grade") or []) |
                         {g for g, (_, _, flag) in s.grades.items() if flag})
        if by_hand or s.needs_manual_grade:
            problems.append((s.student, s.name, "needs a hand grade", ", ".join(by_hand)))
    return problems


# -- table ----------------------------------------------------------------------------------
def table_rows(summary):
    """The per-exercise / per-misconception table, as dicts keyed by :data:`CSV_COLUMNS`."""
    assignment, of = summary.data.assignment, len(summary.graded)
    rows = []
    for exercise, checks in summary.exercises:
        for check in ("visible", "hidden", "other"):
            if check in checks:
                grade_id, passed, total = checks[check]
                rows.append(_row(assignment, exercise, f"{check} passed", grade_id, passed, total))
        for m in (m for m in summary.misconceptions if m.exercise == exercise):
            kind = "no cause named" if m.text == NO_CAUSE else "misconception"
            rows.append(_row(assignment, exercise, kind, m.text, len(m.students), of,
                             ";".join(sorted(m.students)), m.example))
    return rows


def _row(assignment, exercise, kind, what, students, of, student_ids="", example=""):
    share = f"{students / of:.2f}" if of else ""
    return dict(zip(CSV_COLUMNS, [assignment, exercise, kind, what, students, of, share, student_ids, example]))


def write_csv(rows, path):
    """The rows as CSV; a text cell a spreadsheet would read as a formula gets a leading "'"."""
    def cell(value):
        return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({key: cell(value) for key, value in row.items()} for row in rows)


# -- figures --------------------------------------------------------------------------------
def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _figure(width, height):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(width, height), layout="constrained")


def score_figure(summary):
    """PNG: the distribution of final scores (after late penalties), and each exercise's share
    of submissions that passed its visible and hidden checks."""
    import matplotlib.style

    from gradclinic.plots import STYLE_FILE

    from matplotlib.ticker import MaxNLocator

    with matplotlib.style.context(str(STYLE_FILE)):
        figure = _figure(10, 3.4)
        scores_axes, shares_axes = figure.subplots(1, 2, width_ratios=[1, 1.3])
        scores = [s.final_score for s in summary.graded]
        top = summary.data.max_score or max(scores, default=1) or 1
        bins = [i * top / 10 for i in range(11)] if top > 10 else [x - 0.5 for x in range(int(top) + 2)]
        scores_axes.hist(scores, bins=bins, color="#1f77b4", edgecolor="white")
        scores_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        scores_axes.set(title=f"scores of {len(scores)} submission(s) (after late penalties)",
                        xlabel=f"score (of {top:g})", ylabel="submissions")
        names = [exercise for exercise, _ in summary.exercises]
        for offset, (check, colour) in enumerate((("visible", "#2ca02c"), ("hidden", "#d62728"))):
            shares = [checks[check][1] / checks[check][2] if check in checks and checks[check][2] else 0
                      for _, checks in summary.exercises]
            shares_axes.barh([i + 0.4 * offset for i in range(len(names))], shares, height=0.4,
                             color=colour, label=f"{check} checks passed")
        shares_axes.set_yticks([i + 0.2 for i in range(len(names))], names)
        shares_axes.invert_yaxis()
        shares_axes.set(xlim=(0, 1), xlabel="share of submissions", title="passed, per exercise")
        shares_axes.legend(loc="lower right")
        return _png(figure)


def course_figure(summaries):
    """PNG: per lesson, the mean final score and the lowest hidden-check pass share (in %)."""
    import matplotlib.style

    from gradclinic.plots import STYLE_FILE

    with matplotlib.style.context(str(STYLE_FILE)):
        figure = _figure(10, 0.5 + 0.45 * max(len(summaries), 1))
        axes = figure.subplots()
        names = [s.data.assignment for s in summaries]
        means = [_mean_share(s) * 100 for s in summaries]
        weakest = [_weakest(s)[1] * 100 for s in summaries]
        axes.barh([i for i in range(len(names))], means, height=0.4, color="#1f77b4", label="mean score")
        axes.barh([i + 0.4 for i in range(len(names))], weakest, height=0.4, color="#d62728",
                  label="weakest exercise: hidden checks passed")
        axes.set_yticks([i + 0.2 for i in range(len(names))], names)
        axes.invert_yaxis()
        axes.set(xlim=(0, 100), xlabel="% of submissions / of the score", title="which lesson to re-teach")
        axes.legend(loc="lower right")
        return _png(figure)


def _mean_share(summary):
    graded = summary.graded
    if not graded or not summary.data.max_score:
        return 0.0
    return sum(s.final_score for s in graded) / len(graded) / summary.data.max_score


def _weakest(summary):
    """``(exercise, share)`` of the exercise whose hidden checks the fewest passed."""
    shares = [(exercise, checks["hidden"][1] / checks["hidden"][2]) for exercise, checks in summary.exercises
              if "hidden" in checks and checks["hidden"][2]]
    return min(shares, key=lambda pair: pair[1]) if shares else ("", 0.0)


# -- HTML -----------------------------------------------------------------------------------
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.4em; }
table { border-collapse: collapse; margin: .5em 0 1em; } th, td { border: 1px solid #ddd; padding: .25em .6em;
vertical-align: top; text-align: left; } th { background: #f3f3f3; } td.n { text-align: right; }
pre { margin: 0; white-space: pre-wrap; font-size: 12px; max-width: 48em; } img { max-width: 100%; }
.none { color: #777; font-style: italic; } .bar { display: inline-block; height: .7em; background: #d62728; }
"""


def _e(value):
    return html.escape(str(value), quote=True)


def _table(headers, rows, numeric=()):
    if not rows:
        return '<p class="none">none</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _who(students, names):
    return ", ".join(_e(f"{s} ({names[s]})" if names.get(s) else s) for s in sorted(students))


def _late_by(seconds):
    return str(timedelta(seconds=round(seconds)))


def assignment_section(summary, level=2):
    """The HTML of one assignment's report (already escaped)."""
    data, graded = summary.data, summary.graded
    names = {s.student: s.name for s in data.submissions}
    image = base64.b64encode(score_figure(summary)).decode()
    mean = _mean_share(summary)
    parts = [f"<h{level} id=\"{_e(data.assignment)}\">{_e(data.assignment)}</h{level}>",
             f"<p>{len(graded)} of {summary.class_size} student(s) submitted; {len(summary.missing)} missing; "
             f"mean score {mean * data.max_score:.2f} of {data.max_score:g} ({mean:.0%}) after late penalties.</p>",
             f'<img alt="score distribution and pass shares of {_e(data.assignment)}" '
             f'src="data:image/png;base64,{image}">']
    sub = f"h{level + 1}"
    rows = []
    for exercise, checks in summary.exercises:
        cells = [_e(exercise)]
        for check in ("visible", "hidden"):
            if check in checks:
                _, passed, of = checks[check]
                cells.append(f"{passed} of {of}" + (f" ({passed / of:.0%})" if of else ""))
            else:
                cells.append("—")
        rows.append(cells)
    parts += [f"<{sub}>Passed, per exercise</{sub}>",
              _table(["exercise", "visible check (test_…) passed", "hidden check (hidden_…) passed"], rows, (1, 2))]
    rows = [[_e(m.exercise), _e(m.text), str(len(m.students)), _who(m.students, names), f"<pre>{_e(m.example)}</pre>"]
            for m in summary.misconceptions]
    parts += [f"<{sub}>Misconceptions, most frequent first</{sub}>",
              "<p>Each student counts once per misconception, however many cases showed it.</p>",
              _table(["exercise", "likely cause", "students", "who", "one example"], rows, (2,))]
    rows = [[_e(student), _e(name), _e(what), f"<pre>{_e(detail)}</pre>"] for student, name, what, detail
            in summary.problems]
    parts += [f"<{sub}>Crashed, timed out or to grade by hand</{sub}>",
              _table(["student", "name", "what", "detail"], rows)]
    rows = [[_e(s.student), _e(s.name), _e(s.timestamp or ""), _e(_late_by(s.seconds_late)), f"{s.penalty:g}"]
            for s in summary.late]
    parts += [f"<{sub}>Late submissions</{sub}>",
              _table(["student", "name", "submitted", "late by", "penalty"], rows, (4,))]
    rows = [[_e(s.student), _e(s.name)] for s in summary.missing]
    parts += [f"<{sub}>No submission</{sub}>", _table(["student", "name"], rows)]
    rows = [[_e(s.student), _e(s.name), f"{s.score:g}", f"{s.penalty:g}", f"{s.final_score:g}",
             "yes" if s.needs_manual_grade else ""] for s in graded]
    parts += [f"<details><summary>All {len(graded)} submission(s)</summary>",
              _table(["student", "name", "score", "late penalty", "final", "hand grade pending"], rows, (2, 3, 4)),
              "</details>"]
    return "\n".join(parts)


def course_section(summaries):
    """The course overview: one row per lesson and its figure."""
    rows = []
    for s in summaries:
        exercise, share = _weakest(s)
        top = next((m for m in s.misconceptions if m.text != NO_CAUSE), None)
        rows.append([f'<a href="#{_e(s.data.assignment)}">{_e(s.data.assignment)}</a>',
                     f"{len(s.graded)} of {s.class_size}", f"{_mean_share(s):.0%}",
                     _e(f"{exercise}: {share:.0%}") if exercise else "—",
                     _e(f"{top.exercise}: {top.text} ({len(top.students)})") if top else "—",
                     str(sum(1 for p in s.problems if p[2] != "needs a hand grade")), str(len(s.late))])
    image = base64.b64encode(course_figure(summaries)).decode() if summaries else ""
    return "\n".join(["<h2>Lessons</h2>",
                      f'<img alt="mean score and weakest exercise per lesson" src="data:image/png;base64,{image}">'
                      if image else "",
                      _table(["lesson", "submitted", "mean score", "weakest exercise (hidden passed)",
                              "most frequent misconception (students)", "crashed / failed / noted", "late"],
                             rows, (1, 2, 5, 6))])


def html_page(title, body):
    """A whole, self-contained page."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body>\n<h1>{_e(title)}</h1>\n{body}\n</body></html>\n")


# -- the command ----------------------------------------------------------------------------
def write_report(course_root, assignment=None, course=False, out_dir=None, config_args=()):
    """Write the report of ``assignment`` (or of every assignment, ``course=True``) as HTML and
    CSV under ``out_dir`` (default ``reports/`` in the course root); return both paths."""
    coursedir = course_directory(course_root, config_args)
    out = Path(out_dir) if out_dir else Path(coursedir.root) / "reports"
    out.mkdir(parents=True, exist_ok=True)
    if course:
        summaries = [summarise(collect(coursedir, name)) for name in assignment_names(coursedir)]
        body = course_section(summaries) + "\n" + "\n".join(assignment_section(s) for s in summaries)
        title, stem = f"What the class got wrong: {coursedir.course_id or 'the course'}", "course"
        rows = [row for s in summaries for row in table_rows(s)]
    else:
        summary = summarise(collect(coursedir, assignment))
        body, title, stem = assignment_section(summary), f"What the class got wrong: {assignment}", assignment
        rows = table_rows(summary)
    html_path, csv_path = out / f"{stem}.html", out / f"{stem}.csv"
    html_path.write_text(html_page(title, body), encoding="utf-8")
    write_csv(rows, csv_path)
    return html_path, csv_path
