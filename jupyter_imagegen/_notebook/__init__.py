"""The notebook front end: the ``%%imagegen`` cell magic, its line commands, status and tracebacks.

Loaded by ``%load_ext jupyter_imagegen``; it calls the client and shows results, and never parses a
wire format or keeps its own table of what a model accepts.
"""
