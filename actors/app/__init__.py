"""The composition root: the application's settings, its actor tree and the daemon.

Everything below it is either framework (``actors.runtime``) or a role; this package is the
only place that knows them all, so imports point down from here and never up to it.
"""
