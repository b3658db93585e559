"""What every other package builds on and none depends on.

:mod:`core.errors` is the catalogue of every error instrec raises (each package re-exports its
own), :mod:`core.device` the one rule for choosing a torch device, :mod:`core.lazy_exports` the
packages' lazy attributes.  The layers go ``core`` -> ``features`` -> ``storage`` -> ``pipeline``
-> ``training`` / ``evaluation`` -> ``flows`` -> ``instrec`` (the command line), and
``tests/test_layers.py`` keeps the imports pointing down.
"""
