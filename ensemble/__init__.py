"""Ensemble's entry points: the command line (:mod:`ensemble.cli`, also ``python -m ensemble``
and the ``ensemble`` console script) and the example configuration generator
(:mod:`ensemble.example_config`). The system itself is in ``actors/``, ``messages/`` and
``web/``; this package sits on top of them and nothing imports it."""
