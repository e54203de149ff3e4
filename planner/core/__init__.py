"""Core: errors, units and the declarative parameter fields every layer shares.

Imports nothing else of planner. The layers, bottom to top: ``core`` -> ``optimize`` -> ``io``
-> ``countries`` -> ``ground`` -> ``strategies`` -> ``app``; a module imports only from its own
layer and the ones below (``tests/test_import_graph.py`` checks it).
"""
