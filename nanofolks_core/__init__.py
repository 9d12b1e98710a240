"""nanofolks core: the plugin framework every feature of nanofolks plugs into.

Plugin authors import from :mod:`nanofolks_core.api` only; everything else is internal.
"""

__version__ = "0.1.0"
