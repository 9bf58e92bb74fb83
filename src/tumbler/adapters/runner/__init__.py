"""Runs Lambda functions' Python handlers in worker processes.

``subprocess.SubprocessRunner`` is the parent side, ``bootstrap`` the worker's own loop.
Nothing is imported here: every worker starts as ``-m tumbler.adapters.runner.bootstrap``,
which loads this package first, and should load no more than the bootstrap.
"""
