"""Process-wide set-up for a lesson: quiet TensorFlow, seed every generator, set the style.

Everything here changes global state on purpose, so nothing runs at import time: a notebook
calls :func:`setup` once, in its first code cell.
"""

import importlib.util
import json
import logging
import os
import random
import re
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

# TensorFlow reads these when it is first imported: set before that import, they keep its
# C++ start-up lines (CPU features, oneDNN notices) off stderr, where a grader counts them
# as a failed test and a learner takes them for errors.
_QUIET_TF_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "KERAS_BACKEND": "tensorflow",
}


def grading():
    """Return True when nbgrader (or the course's grader) is executing the notebook.

    nbgrader sets ``NBGRADER_EXECUTION`` to ``"validate"`` or ``"autograde"``. Lessons use it to
    shorten demonstrations, never the graded work.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def headless():
    """Return True when no frontend will show the notebook: explorers then make no widgets.

    ``GRADCLINIC_HEADLESS=1`` says so (the test suite sets it where it executes notebooks), and
    so does any nbgrader run (:func:`grading`). A widget opens a comm, and nbclient can wait out
    its whole cell timeout after a cell that opened one (jupyter/nbclient#312).
    """
    return grading() or os.environ.get("GRADCLINIC_HEADLESS", "") not in ("", "0")


def quiet_tensorflow_start():
    """Keep TensorFlow's C++ start-up lines off stderr in this process and the processes it
    starts. Only works before TensorFlow is first imported, so a program calls it first thing."""
    for name, value in _QUIET_TF_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def quiet_tensorflow():
    """Silence TensorFlow's C++ and Python log lines and Keras's Python warnings.

    Safe to call more than once. Returns the imported ``tensorflow`` module.
    """
    quiet_tensorflow_start()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    logging.getLogger("absl").setLevel(logging.ERROR)
    for module in ("tensorflow", "keras", "absl", "google.protobuf"):
        warnings.filterwarnings("ignore", module=module)
    return tf


def seed(value=0):
    """Seed Python's ``random``, NumPy's global generator, Keras and TensorFlow at once.

    Also asks TensorFlow for deterministic kernels, so the same notebook gives the same
    numbers on every run (and the same submission the same grade). Importing TensorFlow takes
    several seconds, and a lesson's first cells often do not need it: when it is not imported
    yet, Keras and TensorFlow are seeded the moment they are (Python's and NumPy's generators go
    on as if that import had not happened), which gives the same numbers as seeding them now.
    """
    if not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {value!r}")
    if _PRELOADING:  # TensorFlow half-imported would be neither seeded now nor on its import
        _PRELOADING[0].join()
    random.seed(int(value))
    np.random.seed(int(value))
    _SeedOnImport.cancel()
    if "tensorflow" in sys.modules:
        _seed_tensorflow(int(value))
    else:
        quiet_tensorflow_start()
        _SeedOnImport(int(value))


def _seed_tensorflow(value):
    """Keras's and TensorFlow's seeds and TensorFlow's deterministic kernels (Keras reseeds Python's
    and NumPy's generators too: :func:`seed` has just done the same; the import hook puts them back)."""
    quiet_tensorflow()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(value)
    tf.config.experimental.enable_op_determinism()


class _SeedOnImport:
    """Seeds Keras and TensorFlow with ``value`` right after the outermost import of either
    finishes (never inside a half-made one), once. Python's ``random`` and NumPy's generator are
    put back as they were before that import (TensorFlow draws from ``random`` as it loads), as
    the grader's runners do when they import TensorFlow ahead of a submission."""

    MODULES = ("tensorflow", "keras")
    _pending = None

    def __init__(self, value):
        self.value, self.depth, self.finding = value, 0, False
        type(self)._pending = self
        sys.meta_path.insert(0, self)

    @classmethod
    def cancel(cls):
        if cls._pending is not None and cls._pending in sys.meta_path:
            sys.meta_path.remove(cls._pending)
        cls._pending = None

    def find_spec(self, name, path=None, target=None):
        if name not in self.MODULES or self.finding or self._pending is not self:
            return None
        self.finding = True
        try:
            spec = importlib.util.find_spec(name)  # what the other finders make of it
        finally:
            self.finding = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            if self.depth == 0:
                self.generators = random.getstate(), np.random.get_state()
            self.depth += 1
            try:
                load(module)
            finally:
                self.depth -= 1
            if self.depth == 0 and self._pending is self:
                type(self).cancel()
                _seed_tensorflow(self.value)
                random.setstate(self.generators[0])
                np.random.set_state(self.generators[1])

        spec.loader.exec_module = exec_module  # this module's own loader: nothing else is touched
        return spec


_PRELOADING = []  # the thread importing TensorFlow while JupyterLab draws the notebook (see below)
_IMPORTS_TENSORFLOW = re.compile(r"^\s*(?:import|from)\s+(?:keras|tensorflow)\b", re.MULTILINE)


def preload_tensorflow():
    """In a kernel JupyterLab starts for a notebook whose first code cell imports Keras or
    TensorFlow, start that import (about 4 s) in a background thread at once: it then overlaps
    the page being drawn and the learner's first click instead of following them, and the
    lesson's first figure comes that much sooner. The kernel's configuration calls this at start
    (``etc/ipython/ipython_kernel_config.py``, installed with the course). Only a kernel started
    by a Jupyter server for a notebook has ``JPY_SESSION_NAME``: graders and headless runs never
    preload. :func:`seed` waits for the thread, so every number is what it would be without it.
    Returns whether the thread started."""
    session = os.environ.get("JPY_SESSION_NAME")
    if not session or "tensorflow" in sys.modules or _PRELOADING:
        return False
    notebook = Path(session) if Path(session).is_file() else Path.cwd() / Path(session).name
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        first = next(cell for cell in cells if cell.get("cell_type") == "code")
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return False  # not a notebook this can read: the notebook's own import does the work
    source = first.get("source", "")
    if not _IMPORTS_TENSORFLOW.search("".join(source) if isinstance(source, list) else source):
        return False
    quiet_tensorflow_start()
    _PRELOADING.append(threading.Thread(target=_import_keras, name="gradclinic-preload", daemon=True))
    _PRELOADING[0].start()
    return True


def _import_keras():
    try:
        import keras  # noqa: F401  (imports TensorFlow)
    except Exception:  # noqa: BLE001  the notebook's own import will say what is wrong
        pass


def setup(seed_value=0, style=True):
    """The one call at the top of every lesson: quiet TensorFlow, seed everything, set the style.

    Returns a :class:`numpy.random.Generator` seeded with ``seed_value`` for the lesson's own
    random draws, so a notebook never needs a second seeding call.
    """
    seed(seed_value)
    if style:
        from gradclinic.plots import use_course_style

        use_course_style()
    return np.random.default_rng(seed_value)


_BLAS_CONTROLLER = []  # made on first use: scanning the loaded libraries takes ~10 ms


def one_blas_thread():
    """A context in which NumPy's BLAS runs on one thread.

    Explorers multiply small matrices ((256, 100) @ (100, 100)): a second thread saves nothing,
    and on a busy machine waiting for OpenBLAS's threads made a move up to ten times slower.
    (threadpoolctl comes with scikit-learn.)
    """
    if not _BLAS_CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER.append(ThreadpoolController())
    return _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas")
