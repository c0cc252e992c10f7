"""riskwatch's composition root: the process registry, the command line and the supervisor.

``shared/`` is the library every process uses; this package is the only one that knows
which services exist.
"""
