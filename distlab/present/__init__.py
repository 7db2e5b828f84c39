"""Presentation: what the notebooks show.

Widgets, plots, the exercises, the quiz and the glossary (their content lives in data files
in ``present/data``). Thin by design: a widget's callback calls a function of a lower layer
or a pure table-building function here, which is what the tests call. Every widget is
returned through ``static_fallback.with_fallback``, so its output also holds what it shows
as static HTML and text, for readers of the committed notebook who do not run it.

May import: every layer below (apps, engines, concepts, checks), matplotlib, ipywidgets.
Never: ``distlab.cli`` (tests/test_layers.py).
"""
