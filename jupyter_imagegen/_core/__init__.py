"""The core: the client and its send chain, transport, catalogue, request, adapters and policies.

One :class:`~.request.Request` is built per call and checked once against the model's merged
catalogue record; the client routes it to one of two adapters (chat or the Image API), wraps the
send in its policies (replay cache, spend guard, store) and hands the answer to the results.
Front ends call this part; they never parse a wire format or keep a table of what a model takes.
"""
