"""Crafted submissions of lesson 00 that attack the grader, as a cheating learner would.

Each attack replaces the ``compound`` solution cell (or edits the notebook) and must score 0
on ``compound``, harm nothing, and leave other learners' grades intact. ``stopped_by`` says
what stops it; ``evidence`` is a fragment the grader's record must contain to show it.
"""

from dataclasses import dataclass, field

WRONG = "def compound(scale, depth):\n    return float(scale) * depth\n"
RIGHT = ("def compound(scale, depth):\n"
         "    if isinstance(depth, bool) or int(depth) != depth or depth < 0:\n"
         "        raise ValueError('depth must be a whole number >= 0')\n"
         "    return float(scale) ** int(depth)\n")


@dataclass
class Attack:
    name: str
    stopped_by: str
    evidence: str = ""
    code: str = WRONG
    edit: str = ""  # a notebook-level edit, see apply_edit
    options: dict = field(default_factory=dict)


# Writes a record straight onto the grader's pipe (the runner's argv[2]), as a learner who read the runner would.
_FORGE = ("import json, os, sys\n"
          "def forge(record):\n    os.write(int(sys.argv[2]), (json.dumps(record) + '\\n').encode())\n")


def attacks(course_root, canary_port):
    """The attack catalogue. ``course_root`` is the grading course's absolute path."""
    root = str(course_root)
    return [
        Attack("infinite_loop_cell", "per-cell wall-time limit (SIGALRM), then the rest of the notebook runs",
               '"timed_out": true', code="while True:\n    pass\n" + WRONG),
        Attack("infinite_loop_call", "per-call time limit on the graded function", "Timeout",
               code="def compound(scale, depth):\n    while True:\n        pass\n"),
        Attack("memory_bomb", "memory cap (3 GiB; cgroup, or a watchdog where none can be had): the process is "
               "killed, the notebook is graded again without that cell", "stopped by the memory cap",
               code="hoard = []\nwhile True:\n    hoard.append(bytearray(200 * 2**20))\n" + RIGHT),
        Attack("fork_bomb", "pids cgroup (256 tasks) and PID namespace", "",
               code="import os\nfor _ in range(10000):\n    try:\n        os.fork()\n    except OSError:\n        break\n" + WRONG),
        Attack("thread_bomb", "pids cgroup (256 tasks)", "can't start new thread",
               code="import threading, time\nfor _ in range(100000):\n"
                    "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n" + RIGHT),
        Attack("output_flood", "output kept per cell is capped; the pipe back to the grader is capped", "more characters",
               code="print('x' * 100_000_000)\nimport os\nos.write(1, b'y' * 100_000_000)\n" + WRONG),
        Attack("huge_file", "file-size rlimit (64 MiB) and a 256 MiB private /tmp", "File too large",
               # 2 GiB in 1 MiB writes: the limit stops it at once, not after building a 2 GiB buffer
               code="with open('/tmp/huge', 'wb') as f:\n    for _ in range(2048):\n        f.write(b'0' * 2**20)\n"
                    + WRONG),
        Attack("os_exit", "the process ends; graded again without the cell, compound is never defined",
               "ended unexpectedly", code="import os\nos._exit(0)\n" + RIGHT),
        Attack("system_exit_in_call", "SystemExit inside the graded call is an answer (an error), not a pass",
               "SystemExit", code="def compound(scale, depth):\n    raise SystemExit(0)\n"),
        Attack("read_gradebook", "nothing of the course is mounted in the sandbox", "No such file",
               code=f"def compound(scale, depth):\n    return float(len(open('{root}/gradebook.db', 'rb').read()))\n"),
        Attack("write_gradebook", "nothing of the course is mounted; the grader alone writes the gradebook", "",
               code=f"try:\n    open('{root}/gradebook.db', 'w').close()\nexcept OSError as e:\n    print(e)\n" + WRONG),
        Attack("read_solutions", "solutions/ is not mounted", "No such file",
               code=f"exec(open('{root}/solutions/00_welcome/00_welcome.py').read().split('### BEGIN SOLUTION')[0])\n" + WRONG),
        Attack("read_other_submission", "submitted/ is not mounted", "No such file",
               code=f"exec(open('{root}/submitted/honest_right/00_welcome/00_welcome.ipynb').read())\n" + WRONG),
        Attack("read_config", "nbgrader_config.py is not mounted", "No such file",
               code=f"print(open('{root}/nbgrader_config.py').read())\n" + WRONG),
        Attack("import_reference", "autograder/ is neither mounted nor installed", "No module named 'autograder'",
               code="from autograder.solution import solution_function\ncompound = solution_function('00_welcome', 'compound')\n"),
        Attack("network", "own network namespace: no route out, not even to the host's loopback", "",
               code=("import socket\ndef compound(scale, depth):\n    try:\n"
                     f"        socket.create_connection(('127.0.0.1', {canary_port}), timeout=2).close()\n"
                     "        return float(scale) ** depth\n    except OSError:\n        return -1.0\n")),
        Attack("edit_test_cells", "test cells are never run from the submission: verdicts are computed outside",
               "", edit="blank_tests"),
        Attack("delete_test_cells", "test cells are restored from the source notebook", "", edit="delete_tests"),
        Attack("retype_test_cells", "cells are matched by the source's grade_ids; re-typed cells only run as code",
               "", edit="retype_tests"),
        Attack("foreign_kernelspec", "the kernelspec is ignored: the grader's own runner executes the cells", "",
               edit="foreign_kernel"),
        Attack("custom_exception_handler", "errors are judged from answers, not from the notebook's error display", "",
               code="get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n" + WRONG),
        Attack("showtraceback_patch", "same: IPython's traceback display plays no part in the verdict", "",
               code="get_ipython().showtraceback = lambda *a, **k: None\n" + WRONG),
        Attack("input_transformer", "cells are not test cells; the verdict is computed outside the notebook", "",
               code="get_ipython().input_transformers_cleanup.append(\n"
                    "    lambda lines: ['try:\\n'] + ['    ' + l for l in lines] + ['\\nexcept BaseException:\\n    pass\\n'])\n"
                    + WRONG),
        Attack("fake_execute_result", "printed or displayed results are never read as grades", "",
               code="get_ipython().events.register('pre_run_cell', lambda *a: get_ipython().displayhook(3.0))\n"
                    "print('Success! Your notebook passes all the tests.')\n" + WRONG),
        Attack("patched_numpy_testing", "comparisons run in the grader's own process", "",
               code="import numpy, numpy.testing\nnumpy.isclose = lambda *a, **k: True\n"
                    "numpy.allclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None\n" + WRONG),
        Attack("patched_builtins", "builtins patched in the sandbox never reach the judge", "",
               code="import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.abs = lambda x: 0\n" + WRONG),
        Attack("always_equal_object", "only plain data crosses: an object with a custom __eq__ is refused", "BadResult",
               code="class Anything(float):\n    def __eq__(self, other):\n        return True\n"
                    "def compound(scale, depth):\n    return Anything(0.0)\n"),
        Attack("forged_answer_record", "records are checked against the calls asked: a forged one costs "
               "this submission its points, never the run", "an answer to a call that was not asked",
               code=_FORGE + "forge({'type': 'answer', 'index': 'test_compound', 'answer': {'result': 3.0}})\n" + WRONG),
        Attack("deflate_bomb_record", "arrays are bounded before they are inflated (declared sizes, headers)",
               "more than the grader reads",
               code=_FORGE + "import base64, io, zipfile\nbuffer = io.BytesIO()\n"
                    "with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:\n"
                    "    with archive.open('c0_a0.npy', 'w', force_zip64=True) as member:\n"
                    "        member.write(b'\\x93NUMPY\\x01\\x00v\\x00' + b\"{'descr': '<f8', 'fortran_order': False, "
                    "'shape': (150000000,), }\" + b' ' * 43 + b'\\n')\n"
                    "        for _ in range(150):\n            member.write(bytes(8_000_000))\n"
                    "forge({'type': 'answer', 'index': 0, 'answer': {'result': {'__ndarray__': 'c0_a0'}}, "
                    "'arrays': base64.b64encode(buffer.getvalue()).decode()})\n" + WRONG),
        Attack("hidden_source_to_feedback", "hidden tests are not in the sandbox; feedback shows verdicts only", "",
               code="import glob\nfor path in glob.glob('/**/*.py', recursive=True):\n"
                    "    if 'hidden' in path: print(open(path).read())\n" + WRONG),
    ]


def apply_edit(notebook, edit):
    """Notebook-level attacks on the test cells."""
    tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    if edit == "blank_tests":
        for cell in tests:
            cell.source = "pass"
    elif edit == "delete_tests":
        notebook.cells = [c for c in notebook.cells if c not in tests]
    elif edit == "retype_tests":
        for cell in tests:
            cell.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "mine_" + cell.metadata["nbgrader"]["grade_id"]}
            cell.source = "pass"
    elif edit == "foreign_kernel":
        notebook.metadata["kernelspec"] = {"name": "evil", "display_name": "Evil", "language": "bash"}
    return notebook
