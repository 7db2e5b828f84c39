"""How distlab's plotting functions make a figure."""
from __future__ import annotations


def closed_figure(**kwargs):
    """A pyplot figure closed at once: it shows once, as the cell's result, and pyplot
    keeps no reference to it (importing pyplot also turns on Jupyter's inline images).
    ``kwargs`` go to ``pyplot.figure``, which raises for one it does not know."""
    import matplotlib.pyplot as plt

    fig = plt.figure(**kwargs)
    plt.close(fig)
    return fig
