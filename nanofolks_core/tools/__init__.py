"""Tools bots can call: the two forms a ``ToolSpec.factory`` may name, and the built-in tools.

* Function form: a plain function (sync or async) whose signature and docstring are the schema
  (:mod:`nanofolks_core.tools.schema`); a parameter annotated ``ToolContext`` receives the context.
* Class form: ``cls(spec=, config=, services=)`` with ``description``, ``parameters`` and
  ``async run(arguments, context)``.

:func:`~nanofolks_core.tools.runtime.build_tool` binds either into a
:class:`~nanofolks_core.tools.runtime.BoundTool` whose ``call`` never raises.
"""
