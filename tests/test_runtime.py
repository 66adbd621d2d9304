"""gradclinic's set-up: import is side-effect free; seeding is deterministic; TF is quiet."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import COURSE_ROOT


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=COURSE_ROOT,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(COURSE_ROOT)})


def test_import_changes_no_global_state():
    done = _python("import os, sys, gradclinic, gradclinic.data, gradclinic.models, gradclinic.plots\n"
                   "assert 'tensorflow' not in sys.modules, 'importing gradclinic imported TensorFlow'\n"
                   "assert 'TF_CPP_MIN_LOG_LEVEL' not in os.environ\n"
                   "import matplotlib; assert matplotlib.rcParams['axes.grid'] is False\n")
    assert done.returncode == 0, done.stderr


def test_setup_silences_tensorflow_stderr():
    done = _python("import gradclinic; gradclinic.setup(0)\nimport keras\n"
                   "keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])(__import__('numpy').ones((1, 3)))\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", f"TensorFlow wrote to stderr after setup():\n{done.stderr}"


# Draws from every generator setup() seeds, with NumPy and Python drawn from before and after
# TensorFlow comes in (whether setup() imported it or a later cell did).
_DRAWS = """
import json, random, sys
import numpy as np
import gradclinic
gradclinic.setup(0)
before = [np.random.rand(), random.random()]
imported_by_setup = 'tensorflow' in sys.modules
import keras, tensorflow as tf
layer = keras.layers.Dense(3)
layer.build((None, 4))
print(json.dumps({'before': before, 'after': [np.random.rand(), random.random()], 'imported_by_setup': imported_by_setup,
                  'weights': layer.kernel.numpy().ravel().tolist(), 'tf': tf.random.uniform((2,)).numpy().tolist(),
                  'keras': keras.random.normal((2,)).numpy().tolist(),
                  'deterministic': __import__('tensorflow.python.framework.config', fromlist=['config'])
                                   .is_op_determinism_enabled()}))
"""


def _notebook(path, first_cell):
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "# A lesson"},
                                          {"cell_type": "code", "source": first_cell}]}))
    return path


def _preloading(notebook):
    """Code that starts the preload as the kernel's configuration does, for ``notebook``."""
    return (f"import os; os.environ['JPY_SESSION_NAME'] = {str(notebook)!r}\n"
            "import gradclinic.runtime; assert gradclinic.runtime.preload_tensorflow()\n")


def test_tensorflow_imported_after_setup_draws_what_it_would_have_drawn(tmp_path):
    """setup() leaves TensorFlow to the first cell that needs it (seconds sooner to a lesson's
    first figure), and seeds it when it comes: every number is the same as when TensorFlow was
    imported before setup() (as the grader's warmed runners do), and as when the kernel began
    importing it in the background before the first cell ran (preload_tensorflow)."""
    notebook = _notebook(tmp_path / "lesson.ipynb", "import gradclinic\nrng = gradclinic.setup(0)\nimport keras\n")
    lazy, eager, preloaded = (_python(prefix + _DRAWS) for prefix in (
        "", "import tensorflow  # before setup()\n", _preloading(notebook)))
    assert lazy.returncode == eager.returncode == preloaded.returncode == 0, \
        lazy.stderr + eager.stderr + preloaded.stderr
    assert lazy.stderr == preloaded.stderr == "", f"TensorFlow wrote to stderr:\n{lazy.stderr}{preloaded.stderr}"
    lazy, eager, preloaded = (json.loads(done.stdout) for done in (lazy, eager, preloaded))
    assert not lazy.pop("imported_by_setup") and eager.pop("imported_by_setup") and preloaded.pop("imported_by_setup")
    assert lazy == eager == preloaded and lazy["deterministic"]


def test_only_a_notebook_that_imports_tensorflow_first_is_preloaded(tmp_path):
    """No Jupyter session (a grader, a headless run), a notebook whose first code cell does not
    import TensorFlow or Keras, or no notebook to read: nothing is imported ahead."""
    cases = {"no session": None, "numpy first": _notebook(tmp_path / "a.ipynb", "import numpy as np\n"),
             "keras later": tmp_path / "b.ipynb", "missing": tmp_path / "gone.ipynb",
             "not a notebook": tmp_path / "c.ipynb"}
    (tmp_path / "b.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["x = 1\n"]},
                                                            {"cell_type": "code", "source": ["import keras\n"]}]}))
    (tmp_path / "c.ipynb").write_text("not json")
    done = _python("import json, os, sys\nimport gradclinic.runtime as r\nstarted = {}\n"
                   f"for name, notebook in {({k: v and str(v) for k, v in cases.items()})!r}.items():\n"
                   "    os.environ.pop('JPY_SESSION_NAME', None)\n"
                   "    if notebook: os.environ['JPY_SESSION_NAME'] = notebook\n"
                   "    started[name] = r.preload_tensorflow()\n"
                   "print(json.dumps([started, 'tensorflow' in sys.modules]))\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{name: False for name in cases}, False]


def test_seed_makes_keras_and_numpy_repeatable():
    import keras

    import gradclinic

    def draw():
        gradclinic.seed(3)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        return np.random.rand(3), model.get_weights()[0]

    (a1, w1), (a2, w2) = draw(), draw()
    assert np.array_equal(a1, a2) and np.array_equal(w1, w2)


def test_setup_returns_a_seeded_generator_and_applies_style():
    import matplotlib

    import gradclinic

    first = gradclinic.setup(5).normal(size=3)
    assert np.array_equal(first, np.random.default_rng(5).normal(size=3))
    assert matplotlib.rcParams["axes.grid"] is True


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_seed_rejects_bad_values(bad):
    import gradclinic

    with pytest.raises(ValueError, match="seed"):
        gradclinic.seed(bad)


def test_grading_flag(monkeypatch):
    import gradclinic

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not gradclinic.grading()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert gradclinic.grading()
