"""Headless runs (nbgrader validate and autograde, the tests' notebook runs) open no widget comm:
nbclient can wait out its whole cell timeout after a cell that opened one (jupyter/nbclient#312).
An explorer then makes no ipywidgets widget and shows its figure as a still PNG."""

import time
from pathlib import Path

import pytest

from bench.explorers import EXPLORERS

EXPLORER_MODULES = sorted((Path(__file__).resolve().parent.parent / "gradclinic" / "explorers").glob("*.py"))


@pytest.fixture
def widgets_made(monkeypatch):
    """A list that grows by one for every ipywidgets Widget constructed while the test runs."""
    import ipywidgets

    made, original = [], ipywidgets.Widget.__init__

    def counting(self, *args, **kwargs):
        made.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ipywidgets.Widget, "__init__", counting)
    return made


@pytest.fixture
def headless(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("GRADCLINIC_HEADLESS", "1")


@pytest.fixture
def with_frontend(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("GRADCLINIC_HEADLESS", raising=False)


@pytest.mark.parametrize("environment, expected", [
    ({}, False),
    ({"GRADCLINIC_HEADLESS": "1"}, True),
    ({"GRADCLINIC_HEADLESS": "0"}, False),
    ({"NBGRADER_EXECUTION": "validate"}, True),
    ({"NBGRADER_EXECUTION": "autograde", "GRADCLINIC_HEADLESS": "0"}, True),  # grading is never shown live
])
def test_headless_switch(monkeypatch, environment, expected):
    from gradclinic.runtime import headless

    for name in ("GRADCLINIC_HEADLESS", "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert headless() is expected


def test_a_headless_explorer_makes_no_widget_and_shows_the_widgets_first_frame(headless, widgets_made, monkeypatch):
    import IPython.display

    from gradclinic.widgets import HEADLESS_NOTE

    explorer = EXPLORERS["DeepLinearExplorer"]()
    assert explorer.values() == {"depth": 30, "scale": 1.2, "weights": "identity"}
    first_frame = explorer.png()
    explorer.update(depth=5, scale=0.5)  # what tests and benches do: still works
    assert explorer.png() != first_frame
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **options: shown.extend(objects))
    explorer._ipython_display_()
    image, note = shown
    assert image.data == first_frame, "the still image is the frame the widget opens on"
    assert note == {"text/plain": HEADLESS_NOTE}
    with pytest.raises(RuntimeError, match="headless"):
        explorer.widget()
    assert widgets_made == []


def test_with_a_frontend_the_explorer_builds_its_controls(with_frontend, widgets_made):
    import ipywidgets

    explorer = EXPLORERS["DeepLinearExplorer"]()
    assert all(isinstance(control, ipywidgets.ValueWidget) for control in explorer.controls.values())
    assert explorer.values() == {"depth": 30, "scale": 1.2, "weights": "identity"}
    assert len(widgets_made) >= 3
    box = explorer.widget()
    assert list(box.children[0].children) == list(explorer.controls.values())


def test_headless_parts_of_controls_are_not_widgets_either(headless, widgets_made):
    from gradclinic.widgets import controls

    dropdown = controls.Dropdown(options=["a", "b"], value="b", layout=controls.Layout(width="420px"))
    assert (dropdown.kind, dropdown.value, dropdown.options, dropdown.layout.width) == ("Dropdown", "b", ["a", "b"],
                                                                                        "420px")
    assert widgets_made == []


@pytest.mark.parametrize("module", EXPLORER_MODULES, ids=lambda path: path.stem)
def test_explorers_make_controls_through_the_headless_aware_factory(module):
    # An explorer that imports ipywidgets itself would open comms in a headless run.
    assert "import ipywidgets" not in module.read_text()


@pytest.mark.slow
def test_lesson_01_runs_headless_without_opening_a_comm(tmp_path, record_property):
    from nbclient import NotebookClient

    from autograder.build import notebook_from_source, source_path
    from conftest import course_environment

    class RecordingClient(NotebookClient):
        """Keeps the type of every message the kernel sends on iopub."""

        def process_message(self, msg, cell, cell_index):
            self.message_types.append(msg["msg_type"])
            return super().process_message(msg, cell, cell_index)

    notebook = notebook_from_source(source_path("01_the_problem"))
    client = RecordingClient(notebook, timeout=300, kernel_name="python3",
                             resources={"metadata": {"path": str(tmp_path)}})
    client.message_types = []
    start = time.perf_counter()
    client.execute(env=course_environment())
    seconds = time.perf_counter() - start
    record_property("seconds", round(seconds, 1))
    print(f"\n01_the_problem executed headless in {seconds:.1f} s")

    assert "display_data" in client.message_types, "the recorder must see the kernel's iopub messages"
    assert "comm_open" not in client.message_types
    explorer_cell = next(cell for cell in notebook.cells
                         if cell.cell_type == "code" and cell.source.strip().endswith("\nexplorer"))
    shown = [output.get("data", {}) for output in explorer_cell.outputs]
    assert any("image/png" in data for data in shown), shown
    assert not any("application/vnd.jupyter.widget-view+json" in data for data in shown), shown


def _slow_explorer():
    """An explorer whose every frame takes 0.2 s and is remembered (made under with_frontend)."""
    import matplotlib.pyplot as plt

    from gradclinic.widgets import Explorer, controls

    class Slow(Explorer):
        def __init__(self):
            figure, ax = plt.subplots(figsize=(2, 2))
            super().__init__(figure, {"n": controls.IntSlider(value=1, min=1, max=100)})
            (self.line,) = ax.plot([0, 1], [0, 1])
            self.moving(self.line)
            self.drawn = []

        def draw(self, n):
            if n == 13:
                raise ValueError("thirteen is not drawn")
            time.sleep(0.2)
            self.line.set_ydata([0, n / 100])
            self.drawn.append(n)

    return Slow()


def test_a_drag_draws_its_last_position_without_drawing_every_move(with_frontend):
    explorer = _slow_explorer()
    explorer.widget()
    slider, opening = explorer.controls["n"], explorer._view.value
    for n in range(20, 40):  # twenty moves in far less than one frame's 0.2 s
        slider.value = n
    assert explorer.settle()
    assert explorer.drawn[0] == 1 and explorer.drawn[-1] == 39
    assert len(explorer.drawn) <= 3, explorer.drawn  # the opening frame, perhaps the first move, the last
    assert explorer._view.value == explorer.png(render=False) != opening


def test_a_frame_that_fails_says_why_under_the_figure_and_the_next_clears_it(with_frontend):
    explorer = _slow_explorer()
    box = explorer.widget()
    explorer.controls["n"].value = 13
    assert explorer.settle()
    assert "ValueError: thirteen is not drawn" in box.children[-1].value
    explorer.controls["n"].value = 14
    assert explorer.settle() and box.children[-1].value == "" and explorer.drawn[-1] == 14
