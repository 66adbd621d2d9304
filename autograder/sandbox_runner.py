"""Runs inside the grading sandbox: execute a submission's cells, then answer the grader's calls.

Standalone on purpose: the sandbox receives a copy of this file and of ``harness.py`` and
nothing else of the course. Everything it reports goes out as JSON lines on an inherited pipe;
the trusted side treats every line as the learner's claim and judges it elsewhere.

Usage (inside the sandbox): ``python sandbox_runner.py JOB_DIR FD GO_FD [MODULE,...]`` where FD
is the pipe to the grader. The runner starts its shell and imports the modules named (warming
up before its submission is known: the job folder is still empty), then waits for a line on
GO_FD; by then JOB_DIR holds ``cells.json`` (sources to run, in order),
``request.json``/``request.npz`` (the calls) and ``limits.json`` (seconds per cell and per call,
bytes of output kept per cell). It runs that one job and exits.
"""

import base64
import io
import importlib
import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py, copied beside this file
import harness  # noqa: E402


class _Timeout(KeyboardInterrupt):
    """Raised by the alarm; a KeyboardInterrupt so that IPython's handlers let it through."""


class CappedText(io.TextIOBase):
    """A text sink that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def write(self, text):
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def writable(self):
        return True

    def getvalue(self):
        note = f"\n[… {self.dropped} more characters of output not kept]" if self.dropped else ""
        return "".join(self.parts) + note


class Channel:
    """JSON lines to the grader on an inherited pipe."""

    def __init__(self, fd):
        self.stream = os.fdopen(os.dup(fd), "w", buffering=1)

    def send(self, record):
        self.stream.write(json.dumps(record, allow_nan=True) + "\n")
        self.stream.flush()


def _alarm(seconds):
    def ring(signum, frame):
        raise _Timeout(f"no result within {seconds} s")
    signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


def run_cells(shell, cells, limits, channel):
    """Execute each cell like a notebook does, sending one record per cell."""
    for index, source in enumerate(cells):
        stdout, stderr = CappedText(limits["output_chars"]), CappedText(limits["output_chars"])
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        timed_out, started = False, time.monotonic()
        try:
            _alarm(limits["cell_seconds"])
            result = shell.run_cell(source, store_history=True, silent=False)
        except _Timeout:  # raised outside the user's code (IPython lets KeyboardInterrupt out)
            timed_out, result = True, None
        finally:
            _disarm()
            sys.stdout, sys.stderr = saved
        error = error_traceback = None
        if result is not None and not result.success:
            exc = result.error_in_exec or result.error_before_exec
            timed_out = timed_out or isinstance(exc, _Timeout)
            error = f"{type(exc).__name__}: {exc}" if exc is not None else "error"
            error_traceback = harness.learner_traceback(exc) if exc is not None else None
        channel.send({"type": "cell", "index": index, "stdout": stdout.getvalue(),
                      "stderr": stderr.getvalue(), "error": error, "traceback": error_traceback,
                      "timed_out": timed_out, "seconds": round(time.monotonic() - started, 3)})


def answer_calls(namespace, job_dir, limits, channel):
    """Call each requested function and send its plain-data answer (arrays as base64 .npz)."""
    import numpy as np

    with open(os.path.join(job_dir, "request.json")) as f:
        calls = json.load(f)["calls"]
    with np.load(os.path.join(job_dir, "request.npz"), allow_pickle=False) as arrays:
        inputs = harness.ArrayStore({k: arrays[k] for k in arrays.files})
    hung = set()  # functions that already ran out of time: one hang costs one timeout, not one per case
    for index, call in enumerate(calls):
        outputs = harness.ArrayStore(prefix=f"c{index}_")  # keys unique across the run's answers
        function, missing = harness.lookup_function(namespace, call["function"])
        if call["function"] in hung:
            missing = {"error": "Timeout: skipped, an earlier call of this function ran out of time",
                       "error_type": "Timeout"}
        quiet = CappedText(0), CappedText(0)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = quiet
        try:
            _alarm(limits["call_seconds"])
            answer = missing or harness.invoke(function, call, harness.ScopedStore(inputs, outputs))
        except KeyboardInterrupt:
            answer = {"error": f"Timeout: no result within {limits['call_seconds']} s", "error_type": "Timeout"}
            hung.add(call["function"])
        finally:
            _disarm()
            sys.stdout, sys.stderr = saved
        buffer = io.BytesIO()
        np.savez(buffer, **outputs.arrays)
        channel.send({"type": "answer", "index": index, "answer": answer,
                      "arrays": base64.b64encode(buffer.getvalue()).decode("ascii")})


def warm_up(modules):
    """Import ``modules`` before any learner code runs. Python's ``random`` is left as it was
    (TensorFlow draws from it on import), so a warmed run computes what a cold one would."""
    state = random.getstate()
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        random.setstate(state)


def _wait_for_go(go_fd):
    with os.fdopen(go_fd, "rb") as go:
        go.readline()


def main(job_dir, fd, go_fd, modules=()):
    channel = Channel(fd)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="NoColor")
    kernel_cpu, before_imports = time.process_time(), time.monotonic()
    warm_up(modules)
    # Measured before the learner's code runs, so the grader can trust these figures.
    channel.send({"type": "started", "kernel_cpu_seconds": round(kernel_cpu, 3),
                  "import_cpu_seconds": round(time.process_time() - kernel_cpu, 3),
                  "import_seconds": round(time.monotonic() - before_imports, 3)})
    _wait_for_go(go_fd)
    with open(os.path.join(job_dir, "limits.json")) as f:
        limits = json.load(f)
    with open(os.path.join(job_dir, "cells.json")) as f:
        cells = json.load(f)["cells"]
    job_cpu = time.process_time()
    run_cells(shell, cells, limits, channel)
    answer_calls(shell.user_ns, job_dir, limits, channel)
    channel.send({"type": "done", "job_cpu_seconds": round(time.process_time() - job_cpu, 3)})
    os._exit(0)  # at once: TensorFlow's teardown would keep the grader waiting for the pipe to close


if __name__ == "__main__":
    warm = sys.argv[4].split(",") if len(sys.argv) > 4 else []
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [name for name in warm if name])
