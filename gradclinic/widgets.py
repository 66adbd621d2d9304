"""The base of every explorer: ipywidgets controls beside one matplotlib figure that is
created once and updated in place when a control moves.

A slider move must feel instant (≤ 100 ms), and a full matplotlib render of a figure with
ticks, labels and a legend costs 100–200 ms, nearly all of it text. So an explorer renders
in two layers: the *background* (axes, ticks, labels, legends: everything that only changes
when an axis range changes) is rendered once per range and cached; a move restores it and
draws only the *moving* artists (lines, markers, images, titles) on top. The layout is
computed once, at the first render, and then kept, so tick labels do not shift the axes.

A drag sends the kernel many moves, faster than frames can be made. Moves do not queue: the
widget's frames are made on the explorer's own render thread, and a move that arrives while a
frame is being made replaces any move still waiting. The figure is never more than one frame
behind the hand, however long the drag.

A run without a frontend (nbgrader validate or autograde, the tests' notebook runs: see
:func:`gradclinic.runtime.headless`) makes no widget at all, since each one opens a comm and
nbclient can then stall for its whole cell timeout (jupyter/nbclient#312). Explorers make their
controls through :data:`controls`, which hands out value holders there, and the explorer shows
its figure as a still image.
"""

import functools
import html
import io
import threading
import traceback
from collections import OrderedDict

from gradclinic.runtime import headless

# Backgrounds kept per explorer: each is one RGBA copy of the figure (about 1 MB).
CACHED_BACKGROUNDS = 32
HEADLESS_NOTE = "A still image of the explorer: its controls appear when the notebook is opened in Jupyter."


class HeadlessControl:
    """A widget made without a frontend (a control, or a part such as a Layout): ``kind``, the
    ipywidgets class name, and the options it was made with, as attributes, ``value`` among them."""

    def __init__(self, kind, **options):
        self.kind = kind
        vars(self).update(options)

    def __repr__(self):
        options = ", ".join(f"{name}={option!r}" for name, option in vars(self).items() if name != "kind")
        return f"HeadlessControl({self.kind!r}, {options})"


class _Controls:
    """``controls.IntSlider(...)``: the ipywidgets class of that name, or in a headless run a
    :class:`HeadlessControl` of that kind (read at each call, so a test can switch modes)."""

    def __getattr__(self, kind):
        if kind.startswith("_"):
            raise AttributeError(kind)
        if headless():
            return functools.partial(HeadlessControl, kind)
        import ipywidgets

        return getattr(ipywidgets, kind)


controls = _Controls()


class Explorer:
    """Controls plus a figure. Subclasses build ``self.figure`` and its artists once, declare
    ``self.controls`` (name → control, made through :data:`controls`), register the artists
    that :meth:`draw` changes with :meth:`moving`, and implement :meth:`draw`, which recomputes
    and mutates those artists for the given control values.

    The background is cached by :meth:`background_key`: every axes' limits and scales. A
    subclass whose draw changes anything else that is not registered as moving (say a tick
    label) must add it to the key. ``tests/test_explorer_rendering.py`` checks, for every
    explorer, that a cached frame is pixel-identical to one rendered from scratch.

    :meth:`update` is what a slider move runs; tests and benchmarks call it directly.
    """

    def __init__(self, figure, controls):
        import matplotlib.pyplot as plt
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = figure
        self.controls = controls
        self._view = None  # the widget's image, once a frontend shows the explorer
        self._drawing = threading.RLock()  # one draw at a time: the render thread's or a cell's
        self._wake = threading.Condition()  # guards the next two
        self._wanted, self._busy = None, False  # the newest move's values; a frame being made
        self._moving = []
        self._backgrounds = OrderedDict()
        self._layout_done = False
        plt.close(figure)  # drawn by the explorer's own output, not again by the inline backend
        FigureCanvasAgg(figure)  # closing left a canvas that draws nothing: render with Agg

    def moving(self, *artists):
        """Register artists that :meth:`draw` changes: they are drawn over the cached background
        on every move (in zorder), and hidden while a background is rendered."""
        self._moving.extend(a for a in artists if a not in self._moving)

    def values(self):
        """Current control values by name."""
        return {name: control.value for name, control in self.controls.items()}

    def draw(self, **values):
        """Recompute and update the figure's artists in place. Subclasses implement this."""
        raise NotImplementedError

    def background_key(self):
        """What the background depends on: each axes' limits and scales. Extend it in a subclass
        whose draw changes other static parts of the figure."""
        return tuple((ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale()) for ax in self.figure.axes)

    def update(self, **values):
        """Redraw in place for ``values`` (controls not named keep their current value) and
        refresh the view. The widgets themselves are not moved: a slider move calls this with
        no arguments, tests and benchmarks pass values directly.

        Returns the figure (the same object every time).
        """
        for name, value in values.items():
            if name not in self.controls:
                raise ValueError(f"unknown control {name!r}; this explorer has {sorted(self.controls)}")
        with self._drawing:
            self.draw(**{**self.values(), **values})
            self.render()
            self._refresh_view()
        return self.figure

    def render(self, cached=True):
        """Render the figure into its Agg canvas: the background for the current axis ranges
        (from the cache when ``cached``), then the moving artists over it."""
        canvas = self.figure.canvas
        if not self._layout_done:
            for ax in self.figure.axes:  # a title at a fixed height, not one re-fitted to each text
                ax.set_title(ax.get_title(), y=1.0, fontsize=ax.title.get_fontsize(),
                             fontweight=ax.title.get_fontweight())
            canvas.draw()  # the first render runs the layout engine (tight layout) once ...
            self.figure.set_layout_engine("none")  # ... and then the axes stay where it put them
            self._layout_done = True
        key = self.background_key()
        # With nothing registered as moving, the background is the whole frame: never reuse it.
        background = self._backgrounds.get(key) if cached and self._moving else None
        if background is None:
            background = self._render_background()
            self._backgrounds[key] = background
            while len(self._backgrounds) > CACHED_BACKGROUNDS:
                self._backgrounds.popitem(last=False)
        else:
            self._backgrounds.move_to_end(key)
        canvas.restore_region(background)
        renderer = canvas.get_renderer()
        for artist in sorted(self._moving, key=lambda a: a.get_zorder()):
            artist.draw(renderer)

    def _render_background(self):
        canvas = self.figure.canvas
        shown = [a.get_visible() for a in self._moving]
        for artist in self._moving:
            artist.set_visible(False)
        try:
            canvas.draw()
        finally:
            for artist, visible in zip(self._moving, shown):
                artist.set_visible(visible)
        return canvas.copy_from_bbox(self.figure.bbox)

    def png(self, render=True):
        """The figure as PNG bytes, exactly as the learner sees it. ``render=False`` encodes the
        canvas as last rendered (what :meth:`update` just drew) without rendering it again."""
        from PIL import Image

        if render:
            self.render()
        canvas = self.figure.canvas
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="png", compress_level=1)  # level 1: 10 ms, not 100
        return buffer.getvalue()

    def pixels(self):
        """The canvas as last rendered, an (height, width, 4) uint8 array (a copy)."""
        import numpy as np

        return np.array(self.figure.canvas.buffer_rgba())

    def _refresh_view(self):
        if self._view is not None:
            self._view.value = self.png(render=False)  # sent as a binary buffer, not base64

    def widget(self):
        """The explorer as one ipywidgets box: controls above, the live figure below (and,
        only if a frame failed, why)."""
        import ipywidgets as widgets

        if headless():  # before any widget is made: each one opens a comm
            raise RuntimeError("no widgets in a headless run (GRADCLINIC_HEADLESS or NBGRADER_EXECUTION is set); "
                               "display the explorer itself to get its figure")
        if self._view is None:
            self._view, self._problem = widgets.Image(format="png"), widgets.HTML()
            for control in self.controls.values():
                control.observe(lambda change: self._request_frame(), names="value")
            threading.Thread(target=self._make_frames, name=f"{type(self).__name__} frames", daemon=True).start()
            self.update()
        return widgets.VBox([widgets.HBox(list(self.controls.values())), self._view, self._problem])

    def _request_frame(self):
        """A control moved (on the kernel's thread): ask the render thread for a frame of the
        current values. It replaces a request still waiting, so superseded moves are never drawn."""
        with self._wake:
            self._wanted = self.values()
            self._wake.notify_all()

    def _make_frames(self):
        """The render thread: draw the newest requested values, one frame at a time, forever."""
        while True:
            with self._wake:
                while self._wanted is None:
                    self._wake.wait()
                values, self._wanted, self._busy = self._wanted, None, True
            try:
                self.update(**values)
                self._problem.value = ""
            except Exception:  # shown under the figure: a thread's traceback would reach no cell
                self._problem.value = f"<pre>{html.escape(traceback.format_exc(limit=-3))}</pre>"
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def settle(self, timeout=30.0):
        """Wait until every move so far is drawn (for tests and benchmarks: a learner never
        needs to). Returns False if frames were still being made after ``timeout`` seconds."""
        with self._wake:
            return self._wake.wait_for(lambda: self._wanted is None and not self._busy, timeout)

    def _ipython_display_(self):
        from IPython.display import Image, display

        if headless():  # the frame the widget would show first, and where its controls went
            self.update()
            display(Image(self.png(render=False)))
            display({"text/plain": HEADLESS_NOTE}, raw=True)
        else:
            display(self.widget())
