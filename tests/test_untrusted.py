"""What comes out of the sandbox is read as untrusted input: bounded before it is decoded,
checked against the calls asked, and refused with a reason instead of crashing the grader."""

import base64
import io
import resource
import time
import zipfile

import numpy as np
import pytest

from autograder import harness
from autograder.untrusted import MAX_SUBMISSION_BYTES, load_arrays, read_records


def npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return base64.b64encode(buffer.getvalue()).decode()


def answer(index, result, **arrays):
    return {"type": "answer", "index": index, "answer": {"result": result}, "arrays": npz(**arrays)}


def cell(index, **fields):
    return {"type": "cell", "index": index, "stdout": "", "stderr": "", "error": None, "timed_out": False,
            "seconds": 0.1, **fields}


def test_honest_records_are_read_with_their_arrays():
    reading = read_records([{"type": "started"}, cell(0, stdout="hi"), cell(1),
                            answer(0, {"__ndarray__": "c0_a0"}, c0_a0=np.arange(3.0)),
                            answer(1, 2.5), {"type": "done"}], n_cells=2, n_calls=2)
    assert not reading.refused and [c["stdout"] for c in reading.cells] == ["hi", ""]
    assert np.array_equal(harness.decode_plain(reading.answers[0]["result"], reading.arrays), np.arange(3.0))
    assert reading.answers[1]["result"] == 2.5


@pytest.mark.parametrize("records, said", [
    ([{"type": "answer", "index": "test_compound", "answer": {"result": 3.0}}], "not asked"),
    ([answer(5, 1.0)], "not asked"),
    ([answer(0, 1.0), answer(0, 2.0)], "two answers to call 0"),
    ([{"type": "answer", "index": 0, "answer": [1, 2], "arrays": npz()}], "neither a result nor an error"),
    ([{"type": "answer", "index": 0, "answer": {"error": 7}, "arrays": npz()}], "error is not text"),
    ([answer(0, 1.0, c1_a0=np.ones(2))], "does not belong to this call"),
    ([{"type": "answer", "index": 0, "answer": {"result": 1}, "arrays": "!!not base64!!"}], "base64"),
    ([cell(1)], "out of order"),
    ([cell(0, timed_out="yes")], "timed_out"),
    ([{"type": "verdict", "score": 3}], "unknown type"),
])
def test_forged_records_are_refused_with_a_reason(records, said):
    reading = read_records(records, n_cells=1, n_calls=1)
    assert said in reading.refused and not reading.answers


def test_object_arrays_are_refused_without_unpickling():
    buffer = io.BytesIO()
    np.savez(buffer, c0_a0=np.array([object()], dtype=object))
    with pytest.raises(Exception, match="not plain numbers"):
        load_arrays(base64.b64encode(buffer.getvalue()).decode(), "c0_", [MAX_SUBMISSION_BYTES])


def _bomb(declared_items, written_bytes):
    """A .npz whose one array declares ``declared_items`` float64s, of which ``written_bytes`` are
    zeros (deflate squeezes them ~1000 to 1)."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (declared_items,)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("c0_a0.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            for _ in range(written_bytes // 8_000_000):
                member.write(bytes(8_000_000))
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_deflate_bomb_is_refused_before_it_is_inflated():
    bomb = _bomb(200_000_000, 1_600_000_000)  # 1.6 GB of zeros that travel as under 2 MB
    assert len(bomb) < 20_000_000
    before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    reading = read_records([{"type": "answer", "index": 0, "answer": {"result": {"__ndarray__": "c0_a0"}},
                             "arrays": bomb}], n_cells=0, n_calls=1)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "more than the grader reads" in reading.refused
    assert grew_mb < 200 and time.perf_counter() - started < 5, (grew_mb, "the bomb was inflated")


def test_a_header_that_claims_more_than_it_holds_is_refused():
    with pytest.raises(Exception, match="claims more than it holds"):
        load_arrays(_bomb(10**9, 8_000_000), "c0_", [MAX_SUBMISSION_BYTES])


def test_the_budget_is_shared_by_all_answers_of_a_submission():
    big = np.zeros(1_000_000)  # 8 MB each
    budget = [20_000_000]
    load_arrays(npz(c0_a0=big), "c0_", budget)
    load_arrays(npz(c1_a0=big), "c1_", budget)
    with pytest.raises(Exception, match="more than the grader reads"):
        load_arrays(npz(c2_a0=big), "c2_", budget)


def test_deeply_nested_answers_are_bad_results_not_crashes():
    tree = 1.0
    for _ in range(500):
        tree = [tree]
    with pytest.raises(harness.BadResult, match="nested"):
        harness.decode_plain(tree, harness.ArrayStore())
    with pytest.raises(harness.BadResult, match="not sent"):
        harness.decode_plain({"__ndarray__": "c0_a9"}, harness.ArrayStore())


def test_tracebacks_keep_the_learners_frames_only():
    import linecache

    source, namespace = "def halve(v):\n    return v / 0\n", {}
    linecache.cache["<ipython-input-3-abc>"] = (len(source), None, source.splitlines(True), "<ipython-input-3-abc>")
    exec(compile(source, "<ipython-input-3-abc>", "exec"), namespace)  # a cell, as IPython registers it
    got = harness.invoke(namespace["halve"], {"function": "halve", "args": [1.0]}, harness.ArrayStore())
    assert got["error_type"] == "ZeroDivisionError" and "ArithmeticError" in got["error_mro"]
    assert "ipython-input-3" in got["traceback"] and "return v / 0" in got["traceback"]
    assert "harness.py" not in got["traceback"]
