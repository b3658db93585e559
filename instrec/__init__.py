"""The ``instrec`` program: the top of the layers, which may import every package and which none imports.

:mod:`instrec.cli` assembles each package's subcommands (``pipeline``, ``storage``, ``training``,
``evaluation``, ``flows``); ``python -m instrec`` and the ``instrec`` console script run it.
"""
