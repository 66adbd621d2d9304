"""Every explorer's two-layer rendering (a cached background, moving artists drawn over it)
gives exactly the frame a render from scratch gives, over a sweep of its controls, and that
frame shows what a plain full matplotlib render shows."""

import numpy as np
import pytest

from bench.explorers import EXPLORERS, explorer_classes, sweep
from gradclinic.widgets import Explorer


def stale_moves(explorer, moves):
    """The moves after which the cached frame differs from a frame rendered from scratch."""
    stale = []
    for move in moves:
        explorer.update(**move)
        cached = explorer.pixels()
        explorer.render(cached=False)
        if not np.array_equal(cached, explorer.pixels()):
            stale.append(move)
    return stale


def full_render_difference(explorer):
    """Fraction of pixels where the explorer's frame and a plain full render differ (they
    may only where a moving artist crosses a static one drawn above it in zorder)."""
    explorer.render()
    frame = explorer.pixels()
    explorer.figure.canvas.draw()
    return float(np.mean(np.any(frame != explorer.pixels(), axis=-1)))


def test_every_explorer_is_in_the_catalogue():
    assert sorted(explorer_classes()) == sorted(EXPLORERS)


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_cached_frames_equal_frames_rendered_from_scratch(name):
    explorer = EXPLORERS[name]()
    moves = sweep(explorer, steps=5)
    assert stale_moves(explorer, moves) == []
    assert full_render_difference(explorer) < 0.02


class _RelabellingExplorer(Explorer):
    """Changes a static part of its figure (the x label) without saying so in its key."""

    def __init__(self):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt

        figure, self.axes = plt.subplots(figsize=(4, 3))
        (self.line,) = self.axes.plot([0, 1], [0, 1])
        super().__init__(figure, {"n": widgets.IntSlider(value=1, min=1, max=3)})
        self.moving(self.line)

    def draw(self, n):
        self.line.set_ydata([0, n])
        self.axes.set_xlabel(f"label {n}" * n)


def test_a_stale_background_is_caught():
    explorer = _RelabellingExplorer()
    explorer.axes.set_ylim(0, 3)
    assert stale_moves(explorer, [{"n": 1}, {"n": 3}]) == [{"n": 3}]


def test_moves_within_one_axis_range_reuse_its_background(monkeypatch):
    from gradclinic.widgets import CACHED_BACKGROUNDS

    explorer = EXPLORERS["DeepLinearExplorer"]()
    rendered = []
    original = explorer._render_background
    monkeypatch.setattr(explorer, "_render_background", lambda: rendered.append(1) or original())
    explorer.update(depth=100, scale=0.5)
    explorer.update(depth=100, scale=1.5)  # the same axes: only the points move
    explorer.update(depth=60, scale=1.0)   # depth 51..100 share the axis that ends at 100
    assert len(rendered) == 1
    for depth in range(1, CACHED_BACKGROUNDS + 4):  # more ranges than the cache keeps: it stays bounded
        explorer.axes.set_xlim(0, depth)
        explorer.render()
    assert len(explorer._backgrounds) == CACHED_BACKGROUNDS
