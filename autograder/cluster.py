"""Grading on many machines: sandboxed runs on Dask workers, judging and the gradebook here.

``python -m autograder grade ASSIGNMENT --scheduler tls://HOST:PORT --certs DIR`` sends each
submission's *plan* (its cells, the graded calls and their input arrays: plain data, never the
references or the hidden checks) to a Dask worker, which runs it in a sandbox of its own
(:class:`autograder.plan.RunnerPool`: runners warmed ahead, each submission forked into
namespaces of its own) and sends the records back as plain data.
The instructor's process checks them as untrusted input, judges them and writes the gradebook,
one submission at a time, exactly as a local run does.

A worker machine needs the course's Python environment (with ``gradclinic`` and
``distributed``), bubblewrap and the sandbox user; not the course directory. The grader's
worker half (this module, the sandbox and its runner: :data:`WORKER_FILES`) reaches the workers
as a zip through Dask's ``upload_file``; the references stay here.

A Dask scheduler runs whatever code it is sent, so the cluster speaks TLS only, with mutual
certificates from a CA the course makes itself (:func:`make_certificates`, ``python -m
autograder certs DIR``): a client or worker without a certificate signed by it is refused.
"""

import dataclasses
import datetime
import io
import os
import threading
import zipfile
from pathlib import Path

# What a worker imports: nothing that holds a reference solution or a hidden check.
WORKER_FILES = ("caps.py", "sandbox.py", "plan.py", "sandbox_runner.py", "harness.py", "cluster.py")
ROLES = ("scheduler", "worker", "client")
CERTIFICATE_DAYS = 365


class ClusterError(RuntimeError):
    """The cluster cannot be used; the message says why and what to do."""


# -- certificates -----------------------------------------------------------------------------
def make_certificates(directory, days=CERTIFICATE_DAYS):
    """Write a private CA and a certificate and key for each of :data:`ROLES` into ``directory``
    (keys readable by their owner only). Returns the paths written. Refuses to overwrite."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = Path(directory)
    if (directory / "ca.pem").exists():
        raise ClusterError(f"{directory} already holds a CA: remove it first to make a new one "
                           "(every node then needs the new files)")
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common):
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gradient Clinic grading"),
                          x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def certificate(subject, public_key, issuer, signing_key, is_ca):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
        return builder.sign(signing_key, hashes.SHA256())

    def write(path, data, private=False):
        path.write_bytes(b"")
        os.chmod(path, 0o600 if private else 0o644)
        path.write_bytes(data)
        written.append(path)

    written = []
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate(name("grading CA"), ca_key.public_key(), name("grading CA"), ca_key, True)
    pem = serialization.Encoding.PEM
    key_bytes = dict(encoding=pem, format=serialization.PrivateFormat.PKCS8,
                     encryption_algorithm=serialization.NoEncryption())
    write(directory / "ca.pem", ca.public_bytes(pem))
    write(directory / "ca-key.pem", ca_key.private_bytes(**key_bytes), private=True)
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        issued = certificate(name(f"grading {role}"), key.public_key(), ca.subject, ca_key, False)
        write(directory / f"{role}.pem", issued.public_bytes(pem))
        write(directory / f"{role}-key.pem", key.private_bytes(**key_bytes), private=True)
    return written


def security(directory, role="client"):
    """Dask's ``Security`` for ``role`` from the files :func:`make_certificates` wrote."""
    from distributed.security import Security

    directory = Path(directory)
    missing = [p.name for p in (directory / "ca.pem", directory / f"{role}.pem", directory / f"{role}-key.pem")
               if not p.is_file()]
    if missing:
        raise ClusterError(f"no {', '.join(missing)} in {directory}: make them with "
                           f"`python -m autograder certs {directory}` and copy them to every node")
    files = {"tls_ca_file": str(directory / "ca.pem"), f"tls_{role}_cert": str(directory / f"{role}.pem"),
             f"tls_{role}_key": str(directory / f"{role}-key.pem")}
    return Security(require_encryption=True, **files)


def tls_address(scheduler):
    """``tls://HOST:PORT`` for a scheduler given as tls://, tcp:// (the cluster speaks TLS only)
    or HOST:PORT."""
    scheme, _, rest = scheduler.rpartition("://")
    if scheme not in ("", "tcp", "tls") or ":" not in rest:
        raise ClusterError(f"--scheduler {scheduler!r}: expected tls://HOST:PORT")
    return f"tls://{rest}"


def connect(scheduler, certificates, timeout=30):
    """A Dask client of the grading cluster, with the grader's worker half uploaded to it."""
    from distributed import Client

    try:
        client = Client(tls_address(scheduler), security=security(certificates), timeout=timeout)
    except OSError as problem:
        raise ClusterError(f"cannot reach the grading scheduler at {scheduler}: {problem}") from None
    client.upload_file(str(_worker_package(Path(certificates))))
    return client


def _worker_package(folder):
    """The zip of :data:`WORKER_FILES` as the package ``autograder`` (without the references)."""
    here = Path(__file__).resolve().parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("autograder/__init__.py", '"""The grader\'s worker half: sandboxed runs only."""\n')
        for name in WORKER_FILES:
            archive.write(here / name, f"autograder/{name}")
    path = folder / "autograder-worker.zip"
    path.write_bytes(buffer.getvalue())
    return path


# -- the work sent to workers -----------------------------------------------------------------
def plan_payload(plan):
    """What a worker needs of a plan: its cells, calls and input arrays (npz bytes)."""
    import numpy as np

    arrays = io.BytesIO()
    np.savez(arrays, **plan.arrays)
    return {"cell_indices": plan.cell_indices, "sources": plan.sources, "calls": plan.calls,
            "arrays": arrays.getvalue()}


_pools, _pools_lock = {}, threading.Lock()


def run_on_worker(payload, limits, modules):
    """On a Dask worker: run one plan in a sandboxed runner of this machine; return plain data
    (the run's fields, the cells it was given, the note). Its pool of warm runners lives as
    long as the worker process, one runner ahead per worker thread."""
    import numpy as np

    import gradclinic
    from autograder.plan import GradingPlan, RunnerPool, run_plan
    from autograder.sandbox import Limits, Sandbox

    with np.load(io.BytesIO(payload["arrays"]), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    plan = GradingPlan(payload["cell_indices"], payload["sources"], {}, payload["calls"], arrays)
    settings = (tuple(sorted(limits.items())), tuple(modules))
    with _pools_lock:
        if settings not in _pools:
            sandbox = Sandbox(toolkit_dir=str(Path(gradclinic.__file__).parent), limits=Limits(**limits))
            _pools[settings] = RunnerPool(sandbox, _worker_threads(), modules)
        pool = _pools[settings]
    done = run_plan(plan, pool.sandbox, pool)
    return {"run": dataclasses.asdict(done.run), "cells_run": done.cells_run, "note": done.note}


def _worker_threads():
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return 1


def sandboxed_run(answer):
    """The :class:`autograder.plan.SandboxedRun` a worker's answer describes."""
    from autograder.plan import SandboxedRun
    from autograder.sandbox import RunResult

    return SandboxedRun(RunResult(**answer["run"]), answer["cells_run"], answer["note"])


def runs_on_cluster(client, plans, limits, modules, stream):
    """Send every plan to the cluster; yield ``(student, plan_key, SandboxedRun or None)`` as
    runs come back (None: the run failed there, and the conversion runs it here). A worker
    lost mid-run costs nothing: Dask runs its tasks again on another."""
    from distributed import as_completed

    limits = dataclasses.asdict(limits)
    futures = {client.submit(run_on_worker, plan_payload(plan), limits, modules, pure=False,
                             key=f"gradclinic-{student}-{plan.key[:12]}"): (student, plan.key)
               for student, plan in plans.items()}
    for future in as_completed(futures):
        student, key = futures[future]
        try:
            yield student, key, sandboxed_run(future.result())
        except Exception as problem:  # a worker-side failure: graded here instead, and said so
            stream.write(f"\n{student}: the cluster could not run it ({type(problem).__name__}: {problem}); "
                         "running it here\n")
            yield student, key, None
        finally:
            future.release()
