"""What a generation gives back, and where it goes: results, their display, previews, cache, store.

Results are plain data that decode lazily and display without raising; the replay cache and the
image store keep them on disk. Nothing here sends a request: the core builds results, and the
front ends show them.
"""
