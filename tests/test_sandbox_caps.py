"""Memory and process caps of the grading sandbox (autograder/caps.py) on every mechanism.

Real sandboxes (marked slow, root only like test_grader_attacks.py) exercise the cgroup v1
controllers and the watchdog. This machine mounts its controllers as cgroup v1 (its v2
hierarchy offers none), so the cgroup v2 cap is tested against a fake cgroup tree: plain
files standing in for cgroupfs, with /proc/self/cgroup and the cgroup root injected through
``caps.Host``. Those tests check what it writes, how it reads the peak and the OOM kill, and its
cleanup; they cannot show that a kernel enforces what was written.

Prints measurements with ``pytest -s``.
"""

import os
import shutil
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import caps
from autograder.sandbox import Limits, Sandbox, SandboxUnavailable

MiB = 2**20
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox starts as root (CI runs as root)")
V1_HERE = Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() and Path("/sys/fs/cgroup/pids/tasks").exists()
needs_v1 = pytest.mark.skipif(not V1_HERE, reason="no cgroup v1 memory and pids controllers on this host")

# A minimal job of our own (not autograder.grading's runner): JSON lines on the inherited pipe.
JOB = textwrap.dedent("""\
    import json, os, sys, threading, time
    out = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    def send(kind, **fields):
        out.write(json.dumps({"type": kind, **fields}) + "\\n")
    kind = sys.argv[2]
    send("started", at=time.monotonic())
    if kind == "memory_bomb":
        hoard = []
        while True:
            hoard.append(bytearray(50 * 2**20))  # zero-filled, so every page is touched
    elif kind == "fork_bomb":
        made = 0
        while True:
            try:
                pid = os.fork()
            except OSError as error:
                send("refused", made=made, error=str(error))
                break
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            made += 1
            if made % 16 == 0:
                send("count", made=made)
        time.sleep(5)  # a bomb holds on to what it made
    elif kind == "thread_bomb":
        made = 0
        while True:
            try:
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            except RuntimeError as error:
                send("refused", made=made, error=str(error))
                break
            made += 1
            if made % 16 == 0:
                send("count", made=made)
        time.sleep(5)
    elif kind == "sleep":
        time.sleep(1.0)
    elif kind == "work":  # a normal run: a few seconds of Python with some memory and threads
        keep = [bytearray(20 * 2**20) for _ in range(5)]
        idle = [threading.Thread(target=time.sleep, args=(3,), daemon=True) for _ in range(8)]
        for thread in idle:
            thread.start()
        total, until = 0, time.monotonic() + 3.0
        while time.monotonic() < until:
            total += sum(range(1000))
    send("done", at=time.monotonic())
""")


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("capjob")
    (path / "job.py").write_text(JOB)
    path.chmod(0o755)  # the sandbox user reads it through the bind mount
    (path / "job.py").chmod(0o644)
    return path


def run(sandbox, job_dir, kind):
    return sandbox.run(job_dir, lambda fd: [str(sandbox.venv / "bin" / "python"), "/job/job.py", str(fd), kind], {})


def kinds(result):
    return [record["type"] for record in result.records]


def leftover_cgroups():
    """Cgroups of this test process not removed after their run."""
    mine = f"gradclinic-job-{os.getpid()}-"
    return [path for base in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/pids"))
            for path in base.rglob(f"{mine}*")] if V1_HERE else []


SMALL = dict(memory_bytes=400 * MiB)  # memory bombs: a small cap, quickly reached
FEW = dict(processes=64)  # fork and thread bombs (memory left at 3 GiB: forks count resident memory too)
# The watchdog kills once the tree's resident memory is over the cap at a poll, so it overshoots
# by what the bomb touches between two polls: at most one 50 MiB chunk in flight plus 50 ms of
# zero-filling (about 2-3 GiB/s on this machine's cores, so <= 150 MiB). Allow 256 MiB.
WATCHDOG_OVERSHOOT = 256 * MiB


def measured(what, *values):
    print(f"\nmeasured: {what}: " + ", ".join(map(str, values)))


# -- real sandboxes ----------------------------------------------------------------------------
@pytest.mark.slow
@root_only
@needs_v1
def test_memory_bomb_is_killed_by_the_v1_controller_and_the_sandbox_recovers(job_dir):
    sandbox = Sandbox(limits=Limits(**SMALL, memory_mechanism="cgroup-v1"))
    bomb = run(sandbox, job_dir, "memory_bomb")
    measured("cgroup-v1 memory bomb", f"peak {bomb.peak_memory_bytes / MiB:.1f} MiB", bomb.ended_by, f"{bomb.seconds:.2f} s")
    assert bomb.memory_cap == "cgroup v1 memory controller"
    assert "done" not in kinds(bomb) and not bomb.timed_out
    assert "cgroup v1 memory controller" in bomb.ended_by and "OOM" in bomb.ended_by
    # The kernel never charges past the limit; the next 50 MiB chunk did not fit.
    assert 400 * MiB - 64 * MiB <= bomb.peak_memory_bytes <= 400 * MiB
    after = run(sandbox, job_dir, "sleep")
    assert kinds(after) == ["started", "done"] and after.ended_by == ""
    assert 0 < after.peak_memory_bytes < 100 * MiB
    assert leftover_cgroups() == []


@pytest.mark.slow
@root_only
def test_memory_bomb_is_killed_by_the_watchdog_and_the_sandbox_recovers(job_dir):
    sandbox = Sandbox(limits=Limits(**SMALL, memory_mechanism="watchdog"))
    bomb = run(sandbox, job_dir, "memory_bomb")
    measured("watchdog memory bomb", f"peak {bomb.peak_memory_bytes / MiB:.1f} MiB", bomb.ended_by, f"{bomb.seconds:.2f} s")
    assert bomb.memory_cap == "watchdog"
    assert "done" not in kinds(bomb) and not bomb.timed_out
    assert bomb.ended_by.startswith("memory cap (watchdog): ") and "cap 400 MiB" in bomb.ended_by
    assert 400 * MiB < bomb.peak_memory_bytes <= 400 * MiB + WATCHDOG_OVERSHOOT
    after = run(sandbox, job_dir, "sleep")
    assert kinds(after) == ["started", "done"] and after.ended_by == ""
    assert 0 < after.peak_memory_bytes < 100 * MiB


@pytest.mark.slow
@root_only
@needs_v1
@pytest.mark.parametrize("bomb", ["fork_bomb", "thread_bomb"])
def test_v1_pids_controller_holds_a_bomb(job_dir, bomb):
    sandbox = Sandbox(limits=Limits(**FEW, memory_mechanism="cgroup-v1"))
    result = run(sandbox, job_dir, bomb)
    refused = [r for r in result.records if r["type"] == "refused"]
    measured(f"cgroup-v1 {bomb}", f"made {refused[0]['made'] if refused else '?'}", result.cap_events,
             f"{result.seconds:.2f} s")
    # pids.max refuses new tasks: the bomb sees the refusal, the run itself goes on to the end.
    assert refused and refused[0]["made"] < 64, result.records
    assert kinds(result)[-1] == "done" and result.ended_by == ""
    assert "pids.max 64" in result.cap_events and "refused" in result.cap_events


@pytest.mark.slow
@root_only
@pytest.mark.parametrize("bomb", ["fork_bomb", "thread_bomb"])
def test_watchdog_holds_a_bomb(job_dir, bomb):
    sandbox = Sandbox(limits=Limits(**FEW, memory_mechanism="watchdog"))
    result = run(sandbox, job_dir, bomb)
    counts = [r["made"] for r in result.records if r["type"] in ("count", "refused")]
    measured(f"watchdog {bomb}", f"last count sent {max(counts, default=0)}", result.ended_by, f"{result.seconds:.2f} s")
    # Killed at the first poll over 64 tasks, well before the bomb's 5 s hold ends; between two
    # polls the per-uid RLIMIT_NPROC backstop (4 x 64) bounds it.
    assert result.ended_by.startswith("process cap (watchdog): ") and "cap 64" in result.ended_by
    assert "done" not in kinds(result) and result.seconds < 4
    assert max(counts, default=0) <= 4 * 64
    after = run(sandbox, job_dir, "sleep")
    assert kinds(after) == ["started", "done"] and after.ended_by == ""


@pytest.mark.slow
@root_only
def test_sandboxes_run_from_two_threads_at_once(job_dir):
    for mechanism in ("auto", "watchdog"):
        sandbox = Sandbox(limits=Limits(memory_mechanism=mechanism))
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: run(sandbox, job_dir, "sleep"), range(2)))
        assert [kinds(r) for r in results] == [["started", "done"]] * 2, [r.stderr_tail for r in results]
        (a_start, a_end), (b_start, b_end) = [(r.records[0]["at"], r.records[-1]["at"]) for r in results]
        assert a_start < b_end and b_start < a_end, "the two runs did not overlap"
    assert leftover_cgroups() == []


@pytest.mark.slow
@root_only
@needs_v1
def test_watchdog_overhead_on_a_normal_run(job_dir):
    cpu = {}
    for mechanism in ("cgroup-v1", "watchdog"):
        sandbox = Sandbox(limits=Limits(memory_mechanism=mechanism))
        before = time.process_time()  # this grader process, all its threads
        result = run(sandbox, job_dir, "work")
        cpu[mechanism] = (time.process_time() - before, result.seconds)
        assert kinds(result) == ["started", "done"] and result.ended_by == ""
        assert result.peak_memory_bytes > 100 * MiB  # the job keeps 100 MiB
    extra = (cpu["watchdog"][0] - cpu["cgroup-v1"][0]) / cpu["watchdog"][1]
    measured("grader CPU (s) and run wall time (s)", cpu, f"watchdog overhead {extra:.3f} CPU s per wall s")
    assert extra < 0.1  # 20 scans of /proc a second on a quiet host: a few percent of a core


# -- the watchdog's view of a process tree (no sandbox needed) ----------------------------------
def test_process_tree_sums_resident_memory_and_tasks_of_all_descendants():
    code = ("import os, sys, threading, time\n"
            "if os.fork() == 0:\n"
            "    hoard = bytearray(120 * 2**20)\n"
            "    [threading.Thread(target=time.sleep, args=(30,), daemon=True).start() for _ in range(3)]\n"
            "    print('ready', flush=True)\n"
            "    time.sleep(30)\n"
            "else:\n"
            "    time.sleep(30)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert child.stdout.readline().strip() == b"ready"
        resident, tasks, tree = caps.process_tree(child.pid)
        assert len(tree) == 2 and tree[0] == child.pid
        assert resident >= 120 * MiB
        assert tasks == 1 + 4  # the parent, the grandchild and its three threads
    finally:
        os.killpg(child.pid, 9)
        child.wait()


def test_watchdog_kills_the_tree_over_the_memory_cap():
    code = "import time\nhoard = bytearray(200 * 2**20)\ntime.sleep(30)\n"
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    cap = caps.WatchdogCap(Limits(memory_bytes=100 * MiB), "unit")
    cap.setup()
    cap.started(child)
    try:
        assert child.wait(timeout=10) == -9
    finally:
        cap.stop()
        if child.poll() is None:
            child.kill()
    outcome = cap.finish(child.returncode)
    assert outcome.killed and outcome.peak_bytes > 100 * MiB
    assert outcome.ended_by.startswith("memory cap (watchdog): ") and outcome.ended_by.endswith("cap 100 MiB")


# -- choosing -----------------------------------------------------------------------------------
@root_only
@needs_v1
def test_auto_picks_v1_here_and_says_why_not_v2(monkeypatch):
    monkeypatch.delenv(caps.ENVIRONMENT_VARIABLE, raising=False)
    try:
        caps.CgroupV2Cap.probe(caps.Host())
        pytest.skip("this host's cgroup v2 can cap memory: auto picks it")
    except caps.CapUnavailable:
        pass
    choice = caps.choose_cap(Limits())
    assert choice.cap is caps.CgroupV1Cap and "writable" in choice.reason
    assert any(reason.startswith("cgroup-v2: ") for reason in choice.passed_over), choice.passed_over
    assert choice.explain().startswith("cgroup v1 memory controller: ")


def test_forcing_the_watchdog(monkeypatch):
    monkeypatch.delenv(caps.ENVIRONMENT_VARIABLE, raising=False)
    assert caps.choose_cap(Limits(), force="watchdog").cap is caps.WatchdogCap
    choice = caps.choose_cap(Limits(memory_mechanism="watchdog"))
    assert choice.cap is caps.WatchdogCap and choice.reason == "forced by Limits.memory_mechanism"
    monkeypatch.setenv(caps.ENVIRONMENT_VARIABLE, "watchdog")
    choice = caps.choose_cap(Limits())
    assert choice.cap is caps.WatchdogCap and choice.reason == f"forced by {caps.ENVIRONMENT_VARIABLE}"
    monkeypatch.setenv(caps.ENVIRONMENT_VARIABLE, "cgroup-v9")
    with pytest.raises(ValueError, match="choose one of auto, cgroup-v2, cgroup-v1, watchdog"):
        caps.choose_cap(Limits())
    with pytest.raises(SandboxUnavailable, match="GRADCLINIC_CAP='cgroup-v9'"):
        Sandbox(limits=Limits(), unsafe=True)


def test_forcing_an_unavailable_mechanism_raises_sandbox_unavailable(tmp_path, monkeypatch):
    monkeypatch.delenv(caps.ENVIRONMENT_VARIABLE, raising=False)
    host = caps.Host(proc_cgroup=tmp_path / "none", mountinfo=tmp_path / "none", v1_root=tmp_path)
    with pytest.raises(caps.CapUnavailable, match="cgroup-v1 was forced .force. but is not available here: "
                                                   "no cgroup v1 memory hierarchy"):
        caps.choose_cap(Limits(), force="cgroup-v1", host=host)
    with pytest.raises(caps.CapUnavailable, match="cgroup-v2 was forced .* no cgroup2 filesystem is mounted"):
        caps.choose_cap(Limits(), force="cgroup-v2", host=host)
    # Through the Sandbox, with this host's real cgroups.
    try:
        caps.CgroupV2Cap.probe(caps.Host())
        pytest.skip("this host's cgroup v2 can cap memory")
    except caps.CapUnavailable as problem:
        why = str(problem)
    with pytest.raises(SandboxUnavailable) as raised:
        Sandbox(limits=Limits(memory_mechanism="cgroup-v2"), unsafe=True)
    assert str(raised.value) == ("memory and process caps: cgroup-v2 was forced (Limits.memory_mechanism) "
                                 f"but is not available here: {why}")


# -- cgroup v2, on a fake tree -----------------------------------------------------------------
@pytest.fixture
def fake_v2(tmp_path, monkeypatch):
    """A fake cgroup2 mount with the grader in a delegated cgroup (a systemd user scope)."""
    root = tmp_path / "cgroup"
    own = root / "user.slice" / "grader.scope"
    own.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("1\n")
    (own / "cgroup.controllers").write_text("cpu memory pids\n")
    (own / "cgroup.subtree_control").write_text("")
    (own / "cgroup.procs").write_text("4242\n4343\n")
    (tmp_path / "cgroup-of-self").write_text("0::/user.slice/grader.scope\n")
    (tmp_path / "mountinfo").write_text(
        f"25 1 0:22 / /proc rw - proc proc rw\n"
        f"30 25 0:26 / {root} rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw,nsdelegate\n")
    host = caps.Host(proc_cgroup=tmp_path / "cgroup-of-self", mountinfo=tmp_path / "mountinfo",
                     v1_root=tmp_path / "no-v1")
    writes = []

    def record(path, text):
        writes.append((str(Path(path).relative_to(root)), text))
        with open(path, "w") as f:  # a file stands in for the cgroupfs entry
            f.write(text)
    # Plain directories keep the files written into them; the kernel removes a cgroup's own.
    monkeypatch.setattr(caps, "_write", record)
    monkeypatch.setattr(caps, "_rmdir", shutil.rmtree)
    monkeypatch.setattr(caps, "_v2_ready", set())
    monkeypatch.delenv(caps.ENVIRONMENT_VARIABLE, raising=False)
    return root, own, host, writes


def test_v2_is_chosen_on_a_delegated_cgroup_and_delegates_memory_and_pids(fake_v2):
    root, own, host, writes = fake_v2
    choice = caps.choose_cap(Limits(), host=host)
    assert choice.cap is caps.CgroupV2Cap and choice.passed_over == []
    assert choice.options == {"base": own}
    # The grader's processes move to a leaf first (no processes in a cgroup with controllers
    # enabled for its children), then memory and pids are enabled for the children.
    assert writes == [("user.slice/grader.scope/gradclinic-grader/cgroup.procs", "4242"),
                      ("user.slice/grader.scope/gradclinic-grader/cgroup.procs", "4343"),
                      ("user.slice/grader.scope/cgroup.subtree_control", "+memory +pids")]
    # Once done (by this process), not again; nor after /proc/self/cgroup shows the leaf.
    (host.proc_cgroup).write_text("0::/user.slice/grader.scope/gradclinic-grader\n")
    assert caps.choose_cap(Limits(), host=host).options == {"base": own}
    assert len(writes) == 3


def test_v2_root_cgroup_needs_no_leaf(fake_v2):
    root, own, host, writes = fake_v2
    (host.proc_cgroup).write_text("0::/\n")
    choice = caps.choose_cap(Limits(), force="cgroup-v2", host=host)
    assert choice.options == {"base": root} and choice.reason == "forced by force"
    assert writes == [("cgroup.subtree_control", "+memory +pids")]


def test_v2_run_writes_caps_joins_before_exec_reads_peak_and_oom_kill_and_cleans_up(fake_v2):
    root, own, host, writes = fake_v2
    limits = Limits(memory_bytes=400 * MiB, processes=64)
    cap = caps.choose_cap(limits, host=host).new(limits, "job-1")
    del writes[:]
    prefix = cap.setup()
    job = own / "gradclinic-job-1"
    assert writes == [("user.slice/grader.scope/gradclinic-job-1/memory.max", str(400 * MiB)),
                      ("user.slice/grader.scope/gradclinic-job-1/pids.max", "64"),
                      ("user.slice/grader.scope/gradclinic-job-1/memory.swap.max", "0"),
                      ("user.slice/grader.scope/gradclinic-job-1/memory.oom.group", "1")]
    # The prefix writes the child's own pid, then execs: the pid in cgroup.procs is the pid
    # of the command that runs (the sandbox), so it was in the cgroup before it started.
    ran = subprocess.run([*prefix, "sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    assert (job / "cgroup.procs").read_text().strip() == ran.stdout.strip()
    # What the kernel would report after an OOM kill.
    (job / "memory.peak").write_text(f"{400 * MiB}\n")
    (job / "memory.events").write_text("low 0\nhigh 0\nmax 212\noom 3\noom_kill 1\noom_group_kill 1\n")
    (job / "pids.events").write_text("max 7\n")
    (job / "cgroup.kill").write_text("")
    cap.started(None)
    outcome = cap.finish(-9)
    assert outcome.peak_bytes == 400 * MiB and outcome.killed
    assert outcome.ended_by == ("memory cap (cgroup v2 memory.max): killed by the kernel's OOM killer at "
                                "400 MiB, cap 400 MiB")
    assert outcome.events == "process cap (cgroup v2 pids.max 64) refused 7 new tasks"
    del writes[:]
    cap.cleanup()
    assert writes == [("user.slice/grader.scope/gradclinic-job-1/cgroup.kill", "1")]
    assert not job.exists() and own.exists()
    cap.cleanup()  # twice is harmless


def test_v2_run_without_oom_kill_and_without_memory_peak_samples_memory_current(fake_v2):
    root, own, host, writes = fake_v2
    limits = Limits()
    cap = caps.choose_cap(limits, host=host).new(limits, "job-2")
    cap.setup()
    job = own / "gradclinic-job-2"
    (job / "memory.events").write_text("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
    (job / "memory.current").write_text("5000\n")
    cap.started(None)  # Linux < 5.19 has no memory.peak: a poller samples memory.current
    time.sleep(0.3)
    (job / "memory.current").write_text("900000\n")
    time.sleep(0.3)
    (job / "memory.current").write_text("100\n")
    time.sleep(0.3)
    outcome = cap.finish(0)
    assert outcome.peak_bytes == 900000 and not outcome.killed and outcome.ended_by == "" and outcome.events == ""
    cap.cleanup()
    assert not job.exists()


def test_v2_counts_each_jobs_own_peak_where_the_kernel_can_restart_it(fake_v2, monkeypatch):
    root, own, host, writes = fake_v2
    cap = caps.choose_cap(Limits(), host=host).new(Limits(), "runner")
    cap.setup()
    job = own / "gradclinic-runner"
    (job / "memory.events").write_text("oom_kill 0\n")
    (job / "pids.events").write_text("max 0\n")
    (job / "memory.peak").write_text(f"{900 * MiB}\n")  # the runner's peak so far: an earlier, bigger job
    cap.started(None)
    cap.begin_job()
    # Linux 6.12+: the restart is a write through the job's own open file ...
    assert (job / "memory.peak").read_text().startswith("reset\n")
    (job / "memory.peak").write_text(f"{300 * MiB}\n")  # ... whose reads the kernel then counts from there
    assert cap.outcome(0).peak_bytes == 300 * MiB
    # An older kernel refuses the write: the runner's peak so far is all there is.
    (job / "memory.peak").write_text(f"{900 * MiB}\n")

    def refuse(fd, data):
        raise OSError(22, "Invalid argument")
    with monkeypatch.context() as older_kernel:
        older_kernel.setattr(caps.os, "write", refuse)
        cap.begin_job()
    assert cap.job_peak is None and cap.outcome(0).peak_bytes == 900 * MiB
    cap.finish(0)
    cap.cleanup()
    assert not job.exists()


def test_v2_not_offered_or_not_delegated_falls_back_and_says_why(fake_v2):
    root, own, host, writes = fake_v2
    (own / "cgroup.controllers").write_text("cpu io\n")
    with pytest.raises(caps.CapUnavailable, match=r"offers controllers \['cpu', 'io'\]: memory and pids"):
        caps.CgroupV2Cap.probe(host)
    (own / "cgroup.controllers").write_text("cpu memory pids\n")
    # An instructor (uid 1000) whose cgroup was not delegated to them: owned by root, 0755.
    instructor = caps.Host(**{**host.__dict__, "euid": 1000})
    with pytest.raises(caps.CapUnavailable, match="not writable by this user .not delegated"):
        caps.CgroupV2Cap.probe(instructor)
    choice = caps.choose_cap(Limits(), host=instructor)
    assert choice.cap is caps.WatchdogCap
    assert [reason.split(":")[0] for reason in choice.passed_over] == ["cgroup-v2", "cgroup-v1"]
    assert writes == []


def test_v2_delegated_to_an_instructor_who_is_not_root(fake_v2):
    root, own, host, writes = fake_v2
    for path in (own, *own.iterdir()):
        os.chown(path, 1000, 1000)
    instructor = caps.Host(**{**host.__dict__, "euid": 1000})
    choice = caps.choose_cap(Limits(), host=instructor)
    assert choice.cap is caps.CgroupV2Cap and choice.options == {"base": own}


def test_non_root_without_cgroups_gets_the_watchdog_with_its_backstop(monkeypatch):
    monkeypatch.delenv(caps.ENVIRONMENT_VARIABLE, raising=False)
    instructor = caps.Host(euid=1000)  # this host's real cgroup files, seen as uid 1000
    choice = caps.choose_cap(Limits(), host=instructor)
    assert choice.cap is caps.WatchdogCap
    assert choice.reason == "no writable cgroup with memory and pids controllers"
    assert choice.new(Limits(), "x").backstop
    sandbox = Sandbox(limits=Limits(memory_mechanism="watchdog"), unsafe=True)
    assert ["--nproc=1024:1024", f"--as={12 * 2**30}:{12 * 2**30}"] == sandbox._rlimits(sandbox.cap.new(sandbox.limits, "x"))[-3:-1]


# -- cgroup v1 bookkeeping and failures, on fake files ------------------------------------------
def test_v1_without_an_oom_kill_count_infers_the_kill_from_failcnt_usage_and_sigkill(tmp_path):
    memory, pids = tmp_path / "memory", tmp_path / "pids"
    memory.mkdir(), pids.mkdir()
    cap = caps.CgroupV1Cap(Limits(memory_bytes=400 * MiB), "fake")
    cap.paths = {"memory": memory, "pids": pids}
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")  # Linux < 4.13
    (memory / "memory.failcnt").write_text("12\n")
    (memory / "memory.max_usage_in_bytes").write_text(f"{400 * MiB - 4096}\n")
    assert cap.finish(-9).killed and "OOM" in cap.finish(-9).ended_by
    assert not cap.finish(0).killed  # ended on its own despite reaching the limit
    (memory / "memory.max_usage_in_bytes").write_text(f"{100 * MiB}\n")
    assert not cap.finish(-9).killed  # killed, but not for memory
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    (memory / "memory.max_usage_in_bytes").write_text(f"{400 * MiB}\n")
    assert not cap.finish(-9).killed  # the kernel counts OOM kills: none


def test_a_runners_next_job_counts_only_its_own_kills_refusals_and_peak(tmp_path, monkeypatch):
    """A runner serves jobs in turn under one cap: what an earlier job hit is not the next one's."""
    memory, pids = tmp_path / "memory", tmp_path / "pids"
    memory.mkdir(), pids.mkdir()
    monkeypatch.setattr(caps, "_write", lambda path, text: Path(path).write_text(text))
    cap = caps.CgroupV1Cap(Limits(memory_bytes=400 * MiB, processes=64), "fake")
    cap.paths = {"memory": memory, "pids": pids}
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    (memory / "memory.failcnt").write_text("5\n")
    (memory / "memory.max_usage_in_bytes").write_text(f"{400 * MiB}\n")
    (pids / "pids.events").write_text("max 7\n")
    assert cap.outcome(-9).killed and cap.outcome(-9).events  # the first job's
    cap.begin_job()
    assert (memory / "memory.max_usage_in_bytes").read_text() == "0"  # the kernel restarts the peak
    (memory / "memory.max_usage_in_bytes").write_text(f"{100 * MiB}\n")
    quiet = cap.outcome(0)
    assert (quiet.killed, quiet.events, quiet.peak_bytes) == (False, "", 100 * MiB)
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (pids / "pids.events").write_text("max 9\n")
    assert cap.outcome(-9).killed and cap.outcome(-9).events.endswith("refused 2 new tasks")
    watchdog = caps.WatchdogCap(Limits(), "fake")
    watchdog.setup()
    watchdog.peak = 2 * 2**30
    watchdog.begin_job()
    assert watchdog.outcome(0).peak_bytes == 0


def test_a_child_that_cannot_enter_its_cgroup_never_runs_and_the_run_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv(caps.ENVIRONMENT_VARIABLE, raising=False)
    marker = tmp_path / "ran"

    class Broken(caps.WatchdogCap):
        def setup(self):
            super().setup()
            return caps.join_prefix([tmp_path / "missing" / "cgroup.procs"])
    sandbox = Sandbox(limits=Limits(memory_mechanism="watchdog"), unsafe=True)
    sandbox.cap = caps.CapChoice(Broken, {}, "test")
    with pytest.raises(SandboxUnavailable, match="(?s)could not enter its watchdog: .*cannot join cgroup .*missing"):
        sandbox.run(tmp_path, lambda fd: ["touch", str(marker)], {})
    assert not marker.exists()
