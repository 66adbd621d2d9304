"""The base of every explorer: ipywidgets controls beside one matplotlib figure that is
created once and updated in place when a control moves."""

import io


class Explorer:
    """Controls plus a figure. Subclasses build ``self.figure`` and its artists once, declare
    ``self.controls`` (name → ipywidget) and implement :meth:`draw`, which recomputes and
    mutates the existing artists for the given control values.

    :meth:`update` is what a slider move runs; tests and benchmarks call it directly.
    """

    def __init__(self, figure, controls):
        import matplotlib.pyplot as plt
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = figure
        self.controls = controls
        self._output = None
        plt.close(figure)  # drawn by the explorer's own output, not again by the inline backend
        FigureCanvasAgg(figure)  # closing left a canvas that draws nothing: render with Agg

    def values(self):
        """Current control values by name."""
        return {name: control.value for name, control in self.controls.items()}

    def draw(self, **values):
        """Recompute and update the figure's artists in place. Subclasses implement this."""
        raise NotImplementedError

    def update(self, **values):
        """Redraw in place for ``values`` (controls not named keep their current value) and
        refresh the view. The widgets themselves are not moved: a slider move calls this with
        no arguments, tests and benchmarks pass values directly.

        Returns the figure (the same object every time).
        """
        for name, value in values.items():
            if name not in self.controls:
                raise ValueError(f"unknown control {name!r}; this explorer has {sorted(self.controls)}")
        current = {**self.values(), **values}
        self.draw(**current)
        self.figure.canvas.draw()
        self._refresh_view()
        return self.figure

    def png(self):
        """The figure as PNG bytes, exactly as the learner sees it."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def _refresh_view(self):
        if self._output is None:
            return
        from IPython.display import Image, display

        self._output.clear_output(wait=True)
        with self._output:
            display(Image(self.png()))

    def widget(self):
        """The explorer as one ipywidgets box: controls above, the live figure below."""
        import ipywidgets as widgets

        if self._output is None:
            self._output = widgets.Output()
            for control in self.controls.values():
                control.observe(lambda change: self.update(), names="value")
            self.update()
        return widgets.VBox([widgets.HBox(list(self.controls.values())), self._output])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())
