"""The wire protocol, pure: request bodies, answer parsing, SSE, data URLs, sizes and errors.

Nothing here does I/O or keeps state, so the client and the local server (which shares only this
part of the kit) read and write the service's shapes through one implementation, each field
with the published capture or document it comes from beside it.
"""
