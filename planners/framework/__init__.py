"""The planner framework: metadata, the catalog, the run lifecycle, limits and telemetry.

Import from the submodules (``planners.framework.base``, ``.catalog``, ...); this package keeps
no re-exports so importing it does not pull in the models before the app registry is ready.
"""
