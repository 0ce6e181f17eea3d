"""The results one widget holds, by the keys the page knows them by, and which are starred.

The page names a result by a short key (``r3``): the gallery's cards, the grid's cells and the
zoom view all send it back to ask for the full image, a download, variations, an edit or a star.
Clearing the gallery forgets what it showed (the page can no longer ask for it), but never a
result (``results``) nor a pick: a session is meant to end with its short list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import InvalidInputError

if TYPE_CHECKING:
    from .._results.result import ImageResult
    from .._results.store import ImageStore

__all__ = ["KeptResults"]


class KeptResults:
    """Every result of one widget, oldest first; the shown ones by key; the starred ones."""

    def __init__(self) -> None:
        self.all: list[ImageResult] = []
        self._shown: dict[str, ImageResult] = {}
        self._stars: dict[str, ImageResult] = {}  # in the order they were starred

    def keep(self, result: ImageResult) -> str:
        """Keep ``result`` and return the key the page will name it by."""
        key = f"r{len(self.all) + 1}"
        self.all.append(result)
        self._shown[key] = result
        return key

    def get(self, key: str) -> ImageResult | None:
        """The result ``key`` names, or ``None`` once the gallery was cleared (and not starred)."""
        return self._shown.get(key) or self._stars.get(key)

    def named(self, key: str) -> ImageResult:
        """The result ``key`` names, or a typed error that says it is gone."""
        result = self.get(key)
        if result is None:
            raise InvalidInputError(f"no result {key!r} in this widget any more (the history was "
                                    "cleared); pick one from the gallery")
        return result

    def key_of(self, target: ImageResult | str | None) -> str:
        """The key of ``target`` (default: the newest); a result made elsewhere is kept first."""
        if target is None:
            if not self.all:
                raise InvalidInputError("nothing generated yet: generate an image first")
            target = self.all[-1]
        if isinstance(target, str):
            return target
        for key, result in [*self._shown.items(), *self._stars.items()]:
            if result is target:
                return key
        return self.keep(target)

    def forget_shown(self) -> None:
        """The gallery was cleared: its keys no longer reach results (stars still do)."""
        self._shown.clear()

    def star(self, key: str, starred: bool, store: ImageStore | None) -> list[str]:
        """Star or unstar ``key``; the store (if any) keeps the star. Returns the starred keys."""
        result = self.named(key)
        self._stars.pop(key, None)
        if starred:
            self._stars[key] = result
        if store is not None:
            store.star(result, starred)
        return list(self._stars)

    @property
    def picks(self) -> list[ImageResult]:
        """The starred results, in the order they were starred."""
        return list(self._stars.values())
