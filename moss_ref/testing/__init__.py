"""Test helpers shipped with moss_ref. ``pytest_plugin`` is the pytest plugin (PLUG-1..PLUG-5).

Nothing here is imported by ``import moss_ref``, and pytest is not a dependency of the core: the
plugin module is loaded by pytest itself, through the ``pytest11`` entry point ``moss_ref``.
"""
