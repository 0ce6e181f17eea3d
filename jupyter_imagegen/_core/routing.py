"""Routing after the first choice: what a wrong-route refusal allows, and what it teaches.

:func:`~.adapters.choose_api` picks an API from the catalogue before anything is sent. The real
service may still refuse the model there, in one of the families :mod:`.._wire.errors` names (the
"Use the /api/v1/images endpoint" 404, the output-modalities 404, the 500 recorded for image-only
models, the documented ``wrong_endpoint``). The client's ``_send_with_fallback`` sends once more,
to the other API, only when these functions agree: the route was the client's own choice, the
service named no third endpoint, and the catalogue does not already know the other API cannot take
the request. What worked is remembered in the catalogue per model, so the next request goes
straight there. Pure decisions over the catalogue: no HTTP here.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._exceptions import ImageGenError
from .._wire.errors import WRONG_ENDPOINT, WRONG_MODALITIES, route_refusal
from .catalogue import Catalogue
from .model import Model
from .request import Request

__all__ = ["confirm_available", "learned_route", "neither_serves", "retry_route"]


def learned_route(catalogue: Catalogue, request: Request, model: Model | None, api: str,
                  chose: bool) -> str:
    """The API that served this model after a refusal, when the route is the client's own.

    With a record the catalogue already routes there (the refused API is dropped from it);
    without one (``check_models=False``, listings unreadable) this is where it is remembered.
    """
    learned = catalogue.route_for(request.model)
    if learned is None or learned == api or not chose:
        return api
    try:
        request.check_api(learned)
        if model is not None and model.caps(learned) is not None:
            request.validated(model, learned)
    except ImageGenError:
        return api  # this request needs the API it was routed to: let the service say
    return learned


def confirm_available(catalogue: Catalogue, request: Request, model: Model | None,
                      api: str) -> Model | None:
    """Read the endpoints record first when the listing describes no parameter at all.

    An empty descriptor map is how the real listing shows a model no provider serves
    (meta/muse-image: ``supported_parameters: {}``, beside an endpoints record
    ``{"endpoints": [], "id": "meta/muse-image"}``, rbb-dev/Open-WebUI-OpenRouter-pipe@25465782).
    One GET settles it before anything billable is sent; other models send no extra request.
    """
    caps = model.caps(api) if model is not None else None
    if model is None or caps is None or api != "images" or caps.descriptors or not caps.known:
        return model
    model = catalogue.with_endpoints(model)
    request.validated(model, api)  # refuses an unavailable model, with its reason
    return model


def retry_route(catalogue: Catalogue, request: Request, model: Model | None, api: str,
                exc: ImageGenError, chose: bool) -> tuple[str, Model | None]:
    """The other API to send ``request`` to after ``exc``, and the model's record as it now is.

    Raises ``exc``, with advice, when the refusal allows no retry. A refusal that named the
    route (``wrong_endpoint``) is learnt at once; the others only once the other API served.
    """
    family, other = _allowed(catalogue, request, model, api, exc, chose)
    if family == WRONG_ENDPOINT:
        catalogue.learn_refused(request.model, api)
    return other, (catalogue.lookup(request.model) if model is not None else None)


def _allowed(catalogue: Catalogue, request: Request, model: Model | None, api: str,
             exc: ImageGenError, chose: bool) -> tuple[str, str]:
    """``(family, other API)`` to send ``request`` to after ``exc``; else raise ``exc`` with advice."""
    family = route_refusal(exc, api=api, image_only=model.image_only if model else None)
    if family is None:
        _learn_from(catalogue, request, api, exc)
        raise exc
    other = "images" if api == "chat" else "chat"
    hint = exc.endpoint_hint
    if hint not in (None, other):
        exc.hint = (f"The service names {hint}, which this kit does not speak: "
                    f"{request.model!r} is not a model it can generate images with.")
        raise exc
    if not chose:
        exc.hint = _advice(request, family, other)
        raise exc
    try:
        request.check_api(other)
        if model is not None and model.caps(other) is not None:
            request.validated(model, other)
    except ImageGenError as why:
        exc.hint = f"{_advice(request, family, other)} Not retried there: {why.message}"
        raise exc from None
    return family, other


def neither_serves(first: ImageGenError, second: ImageGenError, request: Request, other: str,
                   model: Model | None) -> bool:
    """True when the retry was refused as well (then the first refusal is the one to raise)."""
    image_only = model.image_only if model is not None else None
    if route_refusal(second, api=other, image_only=image_only) is None:
        return False
    first.hint = (f"Neither API serves {request.model!r}: the {other} API refused it too "
                  f"({second.message}).")
    return True


def _learn_from(catalogue: Catalogue, request: Request, api: str, exc: ImageGenError) -> None:
    """A ``no_endpoints`` answer: no provider serves the model there (so say so next time)."""
    availability = exc.metadata.get("availability")
    if isinstance(availability, Mapping) and availability.get("code") == "no_endpoints":
        catalogue.learn_unavailable(request.model, api)


def _advice(request: Request, family: str, other: str) -> str:
    """What to change when a wrong-route refusal is not retried (an explicit ``api=``...)."""
    if family == WRONG_MODALITIES and request.modalities:
        return (f"{request.model!r} cannot output {', '.join(request.modalities)}: image-only "
                f"models take modalities=['image'], or use api={other!r} (or api='auto').")
    return (f"{request.model!r} is served by the {'Image' if other == 'images' else 'chat'} API "
            f"here: use api={other!r}, or api='auto' to let the client route it.")
