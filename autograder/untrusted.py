"""Everything a sandbox sends back is the learner's claim: read it as untrusted input.

Records are checked against what was asked (a cell record per cell run, in order; at most one
answer per call asked) and every array is bounded before it is decoded: the archive's member
count, each member's declared size against what is left of the submission's budget, and the
array header's dtype and shape against the member's size — so neither a forged header nor a
deflate bomb can make the grader allocate more than the budget. A record that breaks these rules
is not a mistake an honest notebook can make: the submission scores 0 with the reason recorded.
"""

import base64
import binascii
import io
import math
import zipfile
from dataclasses import dataclass, field

import numpy as np

from autograder import harness

MAX_ARRAYS_PER_ANSWER = 1_000
MAX_ARRAY_BYTES = 8 * harness.MAX_RESULT_ITEMS      # one array: the harness's own cap, as float64
MAX_SUBMISSION_BYTES = 512 * 2**20                  # all arrays of one submission, decoded
MAX_TEXT_CHARS = 200_000                            # one cell record's text fields
PLAIN_KINDS = "biufc"                               # bool, ints, floats, complex: no objects, no records


class Refused(Exception):
    """A record the grader will not read; the message says what was wrong with it."""


@dataclass
class Reading:
    """What a run's records hold once checked: cell logs in order, answers by call index (each
    with its arrays in :attr:`arrays`), and ``refused``: why the records were rejected, if they were."""

    cells: list = field(default_factory=list)
    answers: dict = field(default_factory=dict)
    arrays: harness.ArrayStore = field(default_factory=harness.ArrayStore)
    refused: str = ""


def _text(record, name):
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Refused(f"its {name!r} is not text")
    return value[:MAX_TEXT_CHARS]


def _cell(record, expected_index, n_cells):
    if record.get("index") != expected_index or expected_index >= n_cells:
        raise Refused(f"a cell record out of order (index {str(record.get('index'))[:20]}, expected {expected_index})")
    if not isinstance(record.get("timed_out", False), bool):
        raise Refused("a cell record whose 'timed_out' is not true or false")
    seconds = record.get("seconds", 0)
    if type(seconds) not in (int, float) or not math.isfinite(seconds):
        raise Refused("a cell record whose 'seconds' is not a number")
    return {"stdout": _text(record, "stdout") or "", "stderr": _text(record, "stderr") or "",
            "error": _text(record, "error"), "traceback": _text(record, "traceback"),
            "timed_out": record.get("timed_out", False), "seconds": float(seconds)}


def load_arrays(encoded, prefix, budget):
    """Decode one answer's base64 .npz, bounded. ``budget`` is a one-item list holding the bytes
    the submission may still decode; it is spent here. Keys must start with ``prefix``."""
    if not isinstance(encoded, str) or len(encoded) > 4 * (MAX_SUBMISSION_BYTES // 3) + 4:
        raise Refused("its arrays are not a base64 string of a bounded size")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("its arrays are not valid base64") from None
    arrays = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARRAYS_PER_ANSWER:
                raise Refused(f"{len(members)} arrays in one answer")
            for member in members:
                key = member.filename[:-4] if member.filename.endswith(".npy") else ""
                if not key.startswith(prefix):
                    raise Refused(f"an array named {member.filename[:40]!r} that does not belong to this call")
                if member.file_size > min(MAX_ARRAY_BYTES, budget[0]):
                    raise Refused(f"an array of {member.file_size:,} bytes, more than the grader reads")
                with archive.open(member) as stream:  # reads at most file_size bytes, whatever the header says
                    version = np.lib.format.read_magic(stream)
                    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                                   (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read_header is None:
                        raise Refused(f"an array in .npy format {version}")
                    shape, _, dtype = read_header(stream, max_header_size=10_000)
                    if dtype.hasobject or dtype.fields is not None or dtype.kind not in PLAIN_KINDS:
                        raise Refused(f"an array of dtype {dtype}, not plain numbers")
                    if math.prod(shape) * dtype.itemsize > member.file_size:
                        raise Refused(f"an array whose header ({shape}, {dtype}) claims more than it holds")
                with archive.open(member) as stream:
                    arrays[key] = np.lib.format.read_array(stream, allow_pickle=False)
                budget[0] -= member.file_size
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as problem:
        raise Refused(f"its arrays are not a readable .npz ({type(problem).__name__})") from None
    return arrays


def read_records(records, n_cells, n_calls):
    """Check a run's records against a plan of ``n_cells`` cells and ``n_calls`` calls."""
    reading, budget = Reading(), [MAX_SUBMISSION_BYTES]
    try:
        for record in records:
            kind = record.get("type")
            if kind in ("started", "done"):
                continue
            if kind == "cell":
                reading.cells.append(_cell(record, len(reading.cells), n_cells))
            elif kind == "answer":
                index = record.get("index")
                if type(index) is not int or not 0 <= index < n_calls:
                    raise Refused(f"an answer to a call that was not asked ({str(index)[:20]})")
                if index in reading.answers:
                    raise Refused(f"two answers to call {index}")
                answer = record.get("answer")
                if not isinstance(answer, dict) or not ({"result", "error"} & set(answer)):
                    raise Refused(f"an answer to call {index} that is neither a result nor an error")
                if "error" in answer and not isinstance(answer["error"], str):
                    raise Refused(f"an answer to call {index} whose error is not text")
                for name in ("error_type", "traceback"):
                    if name in answer and not isinstance(answer[name], str):
                        raise Refused(f"an answer to call {index} whose {name} is not text")
                mro = answer.get("error_mro", [])
                if not isinstance(mro, list) or not all(isinstance(n, str) for n in mro):
                    raise Refused(f"an answer to call {index} whose error_mro is not a list of names")
                reading.arrays.arrays.update(load_arrays(record.get("arrays", ""), f"c{index}_", budget))
                reading.answers[index] = answer
            else:
                raise Refused(f"a record of unknown type {str(kind)[:20]!r}")
    except Refused as problem:
        return Reading(refused=f"the sandbox sent {problem}")
    return reading
