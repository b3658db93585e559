"""What every other package builds on and none depends on: the base errors instrec raises at its users.

``features/`` and ``storage/`` import from here, never from ``pipeline/`` (the layers go
``core`` -> ``features`` -> ``storage`` -> ``pipeline`` -> ``training`` / ``evaluation`` -> ``flows``).
"""
