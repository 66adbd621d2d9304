"""Runners warmed ahead (autograder.plan.RunnerPool): each is a fresh sandbox handed exactly
one submission, so two submissions run back to back by one worker share nothing — not a
file, not a process, not a byte of memory — although the second runner was started (and had
imported its libraries) while the first was still running.
"""

import json
import os
from pathlib import Path

import pytest

from autograder.plan import GradingPlan, RunnerPool, run_plan
from autograder.sandbox import Limits, Sandbox

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox starts as root (CI runs as root)")]

# The first submission leaves something everywhere it can: files in /tmp (its home) and /dev/shm,
# a detached process, a big global, state in a module the runner imported while warming, and
# an environment variable.
PLACES = "PLACES = ['/tmp/leftover', '/dev/shm/leftover']\n"  # /tmp is also the sandbox's $HOME
LEAVE = PLACES + """
import os, subprocess, numpy
for path in PLACES:
    try:
        open(path, 'w').write('secret of the first submission')
    except OSError:  # /dev/shm may be read-only: then nothing can be left there
        pass
subprocess.Popen(['sleep', '600'], start_new_session=True)
LEFTOVER = bytearray(b'secret of the first submission' * 1_000_000)
numpy.LEFTOVER = 'secret of the first submission'
os.environ['LEFTOVER'] = 'secret of the first submission'
"""
LOOK = PLACES + """
import json, os, numpy
def sleepers():
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if b'sleep' in open(f'/proc/{pid}/cmdline', 'rb').read():
                found.append(int(pid))
        except OSError:
            pass
    return found
print(json.dumps({
    "files": [p for p in PLACES if os.path.exists(p)],
    "sleepers": sleepers(),
    "global": 'LEFTOVER' in globals(),
    "module": hasattr(numpy, 'LEFTOVER'),
    "environment": 'LEFTOVER' in os.environ,
}))
"""


def _findings(done):
    cells = [r for r in done.run.records if r.get("type") == "cell"]
    assert all(not c["error"] for c in cells), cells
    return json.loads(cells[-1]["stdout"])


def test_back_to_back_submissions_on_one_worker_share_nothing():
    import gradclinic

    sandbox = Sandbox(toolkit_dir=str(Path(gradclinic.__file__).parent), limits=Limits(cell_seconds=60))
    runners = RunnerPool(sandbox, ahead=1, modules=("numpy",), expected=2)
    try:
        first = _findings(run_plan(GradingPlan([0, 1], [LEAVE, LOOK], {}, [], {}), sandbox, runners))
        second = _findings(run_plan(GradingPlan([0], [LOOK], {}, [], {}), sandbox, runners))
    finally:
        runners.close()
    print(f"\nfirst submission sees its own leftovers: {first}\nthe next one on the same worker sees: {second}")
    assert "/tmp/leftover" in first["files"] and first["sleepers"] and first["global"] and first["module"] \
        and first["environment"], "the first submission's leftovers exist while it runs"
    assert second == {"files": [], "sleepers": [], "global": False, "module": False, "environment": False}


def test_a_runner_takes_one_submission_only():
    import gradclinic

    sandbox = Sandbox(toolkit_dir=str(Path(gradclinic.__file__).parent))
    runner = RunnerPool(sandbox, ahead=0).take()
    plan = GradingPlan([0], ["x = 1"], {}, [], {})
    runner.run(plan.sources, plan)
    with pytest.raises(RuntimeError, match="one job only"):
        runner.run(plan.sources, plan)
