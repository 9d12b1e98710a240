"""``nanofolks gateway``: the always-on crew (see docs/gateway.md).

Modules: :mod:`.state` (run folder, lock, discovery: cheap, imported by the thin client),
:mod:`.server` (the :class:`~.server.Gateway` and its main loop), :mod:`.channel_build`
(building the enabled channels), :mod:`.supervisor` (channel tasks restarted with backoff),
:mod:`.inbox` (a channel message to the crew and back), :mod:`.health` (``GET /health``),
:mod:`.services` (background services), :mod:`.control` / :mod:`.client` / :mod:`.protocol`
(the thin client's socket). Other commands import only :mod:`.state`, :mod:`.client` and
:mod:`.protocol` (cheap), and only when they use them; the rest is for ``nanofolks gateway``.
"""
