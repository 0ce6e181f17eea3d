"""The interactive widget (anywidget): Python state and messages here, the front end in ``js/``.

Imported only when ``ImageGenWidget`` is first asked for: ipywidgets and anywidget are heavy.
"""
