"""Runners (autograder.plan.Runner, RunnerPool): a sandbox that imports its libraries once and
runs each submission in a fresh child isolated from it and from every other submission. Two
submissions run back to back by one runner share nothing — not a file, not a process, not a
byte of memory — although the second starts from the very process the first was forked from.
"""

import json
import os
from pathlib import Path

import pytest

from autograder.plan import GradingPlan, Runner, RunnerPool, run_plan
from autograder.sandbox import Limits, Sandbox

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox starts as root (CI runs as root)")]

# Every directory the submission may write to (found by walking its whole file system, /proc
# aside), so that the test does not depend on knowing where a leftover could hide.
WRITABLE = """
import os
def writable_directories():
    found = []
    for top in [p for p in os.listdir('/') if p != 'proc']:
        for folder, subfolders, _ in os.walk('/' + top):
            if os.access(folder, os.W_OK | os.X_OK):
                found.append(folder)
    return found
"""
# The first submission leaves something everywhere it can: a file in every writable directory,
# a detached process, a big global, state in a module the runner imported while warming and an
# environment variable.
LEAVE = WRITABLE + """
import subprocess, numpy
LEFT = []
for folder in writable_directories():
    try:
        with open(os.path.join(folder, 'leftover-of-the-first'), 'w') as f:
            f.write('secret of the first submission')
        LEFT.append(folder)
    except OSError:
        pass
subprocess.Popen(['sleep', '600'], start_new_session=True)
LEFTOVER = bytearray(b'secret of the first submission' * 1_000_000)
numpy.LEFTOVER = 'secret of the first submission'
os.environ['LEFTOVER'] = 'secret of the first submission'
"""
LOOK = WRITABLE + """
import json, os, numpy, threading
def others():
    alive, own = [], {os.getpid()} | {t.native_id for t in threading.enumerate()}  # its threads have ids too
    for pid in set(range(1, 1 << 15)) - own:  # by number, in its own PID namespace: no /proc needed
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return alive
print(json.dumps({
    "writable": sorted(writable_directories()),
    "files": sorted(folder for folder in writable_directories()
                    if os.path.exists(os.path.join(folder, 'leftover-of-the-first'))),
    "processes": others(),
    "proc": sorted(os.listdir('/proc')),
    "global": 'LEFTOVER' in globals(),
    "module": hasattr(numpy, 'LEFTOVER'),
    "environment": 'LEFTOVER' in os.environ,
}))
"""
NOTHING_LEFT = {"files": [], "processes": [], "global": False, "module": False, "environment": False}


def _findings(run):
    cells = [r for r in run.records if r.get("type") == "cell"]
    assert all(not c["error"] for c in cells), cells
    return json.loads(cells[-1]["stdout"])


def _started(run):
    return next(r for r in run.records if r.get("type") == "started")


@pytest.fixture(scope="module")
def sandbox():
    import gradclinic

    return Sandbox(toolkit_dir=str(Path(gradclinic.__file__).parent), limits=Limits(cell_seconds=60))


def test_back_to_back_submissions_on_one_runner_share_nothing(sandbox):
    runners = RunnerPool(sandbox, ahead=1, modules=("numpy",), expected=2)
    try:
        first = run_plan(GradingPlan([0, 1], [LEAVE, LOOK], {}, [], {}), sandbox, runners)
        second = run_plan(GradingPlan([0], [LOOK], {}, [], {}), sandbox, runners)
    finally:
        runners.close()
    assert [_started(done.run)["job"] for done in (first, second)] == [0, 1], "one runner served both, in turn"
    assert _started(first.run)["isolated"] and _started(second.run)["isolated"]
    first, second = _findings(first.run), _findings(second.run)
    print(f"\nthe first submission sees its own leftovers: { {k: v for k, v in first.items() if k != 'writable'} }"
          f"\nthe next one in the same runner sees: { {k: v for k, v in second.items() if k != 'writable'} }"
          f"\nwritable directories: {second['writable']}")
    assert first["files"] and first["files"] == first["writable"], "it could leave a file in every writable directory"
    assert "/tmp" in first["files"] and "/dev/shm" in first["files"]
    assert first["processes"] and first["global"] and first["module"] and first["environment"]
    assert {k: second[k] for k in NOTHING_LEFT} == NOTHING_LEFT
    assert second["writable"] == first["writable"], "the second had the same places to look in"
    assert second["proc"] == ["self"], "no other process shows in /proc"


def test_a_runner_that_cannot_isolate_its_children_takes_one_submission_only(tmp_path):
    runner = Runner(Sandbox(unsafe=True, limits=Limits(cell_seconds=30)))
    plan = GradingPlan([0], ["x = 1"], {}, [], {})
    run = runner.run(plan.sources, plan)
    assert _started(run)["isolated"] is False and [r["type"] for r in run.records][-1] == "done"
    assert not runner.serves_more
    with pytest.raises(RuntimeError, match="no more jobs"):
        runner.run(plan.sources, plan)


def test_a_runner_whose_submission_ran_out_of_time_is_retired_and_replaced(sandbox):
    slow = Sandbox(toolkit_dir=sandbox.toolkit_dir, limits=Limits(cell_seconds=60, total_seconds=3))
    runners = RunnerPool(slow, ahead=1, expected=2)
    try:
        first = runners.take()
        plan = GradingPlan([0], ["import time\ntime.sleep(60)"], {}, [], {})
        timed_out = first.run(plan.sources, plan)
        runners.give_back(first)
        assert timed_out.timed_out and not first.serves_more and first.process.process.returncode is not None
        done = run_plan(GradingPlan([0], ["x = 2"], {}, [], {}), slow, runners)
    finally:
        runners.close()
    assert [r["type"] for r in done.run.records] == ["started", "cell", "done"]
    assert _started(done.run)["job"] == 0, "a fresh runner took the next submission"


def test_an_environment_living_under_tmp_serves_every_job_read_only(sandbox, tmp_path):
    """A course cloned under /tmp has its Python environment there. Bubblewrap binds it over the
    sandbox's /tmp; each job's fresh /tmp must keep it, read-only, or every import fails."""
    import subprocess
    import sys
    import sysconfig

    environment = tmp_path / "env"
    assert str(environment).startswith("/tmp/")
    subprocess.run([os.path.realpath(sys.executable), "-m", "venv", "--without-pip", str(environment)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(environment)}))
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")  # this environment's packages
    (site / "only_here.py").write_text("WHERE = __file__\n")  # imported by the job, never by the runner
    under_tmp = Sandbox(python_environment=environment, toolkit_dir=sandbox.toolkit_dir, limits=Limits(cell_seconds=60))
    look = ("import errno, json, sys, only_here\ntry:\n    open(sys.prefix + '/written', 'w')\n    error = None\n"
            "except OSError as e:\n    error = errno.errorcode[e.errno]\n"
            "print(json.dumps({'module': only_here.WHERE, 'writing': error}))")
    runners = RunnerPool(under_tmp, ahead=1, modules=("numpy",), expected=2)
    try:
        runs = [run_plan(GradingPlan([0], [look], {}, [], {}), under_tmp, runners).run for _ in range(2)]
    finally:
        runners.close()
    assert [_started(run)["job"] for run in runs] == [0, 1] and all(_started(run)["isolated"] for run in runs)
    assert [_findings(run) for run in runs] == [{"module": str(site / "only_here.py"), "writing": "EROFS"}] * 2


def test_a_cells_limit_counts_cpu_time_and_a_waiting_cell_is_stopped_later(sandbox):
    """A busy grading host slows honest code down without making it use more CPU, so a cell's
    limit counts CPU time; a cell that waits without computing meets a wall limit three times as
    long. Each stopped cell says which limit it met, and the rest of the notebook still runs."""
    timed = Sandbox(toolkit_dir=sandbox.toolkit_dir, limits=Limits(cell_seconds=1))
    cells = ["import time\ntime.sleep(2)\nprint('slept past the limit without computing')",
             "while True:\n    pass", "time.sleep(60)", "print('the rest ran')"]
    runners = RunnerPool(timed, ahead=1, modules=("numpy",), expected=1)
    try:
        run = run_plan(GradingPlan(list(range(len(cells))), cells, {}, [], {}), timed, runners).run
    finally:
        runners.close()
    logged = [r for r in run.records if r.get("type") == "cell"]
    assert [log["timed_out"] for log in logged] == [False, True, True, False], logged
    assert logged[0]["stdout"].startswith("slept past the limit") and logged[3]["stdout"] == "the rest ran\n"
    assert "after 1 s of CPU time" in logged[1]["error"], logged[1]
    assert "no result within 3 s" in logged[2]["error"] and logged[2]["seconds"] >= 3, logged[2]
