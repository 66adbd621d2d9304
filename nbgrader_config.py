"""nbgrader's course directory: lessons are written in solutions/ and released to lessons/."""

import os
import sys

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))
# Hidden tests call autograder.check(...): the instructor's kernels (validate, autograde) must
# import the course's autograder package, which is never installed into a learner's env.
sys.path.insert(0, COURSE_ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [COURSE_ROOT, os.environ.get("PYTHONPATH")]))

c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.course_id = "gradient-clinic"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
# The jupytext source NN_slug.py is how a lesson is written, and expected_output.json what the build
# shows in the notebook: neither is a file learners receive.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "[0-9][0-9]_*.py",
                            "expected_output.json"]

# One grader: nbgrader's autograde pipeline with its Execute step sandboxed (autograder/pipeline.py).
# `nbgrader autograde`, the formgrader's Autograde button and `python -m autograder grade` all run
# this list; `--SandboxedExecute.in_kernel=True` asks by name for plain nbgrader's trusting kernel.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.pipeline.ForgetInventedMetadata",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "autograder.pipeline.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.pipeline.SaveGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograder.pipeline.WriteGradingRecord",
]
# A test cell the learner deleted comes back from the gradebook and is graded like the others.
c.OverwriteCells.add_missing_cells = True

# TensorFlow needs far more than nbgrader's 30 s for some cells (validate, and in-kernel
# autograde); Execute.timeout is the key that nbgrader actually reads.
c.Execute.timeout = 300
c.Execute.allow_errors = True
# Feedback is the autograded notebook as HTML: hide the hidden tests' code, keep their verdict.
# (GenerateFeedback.preprocessors is not read by nbgrader 0.9.6; the exporter's list is.)
c.HTMLExporter.preprocessors = ["autograder.feedback.HideHiddenTests"]
