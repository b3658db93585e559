"""One module per model family; :mod:`training.registry` maps names to these classes."""
