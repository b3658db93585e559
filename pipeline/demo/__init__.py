"""The demo corpus: generated multitrack songs in the AAM or Slakh2100 layout.

``generate_corpus`` composes, renders (FluidSynth) and writes a corpus; ``compose_corpus``
only composes.  See :mod:`pipeline.demo.corpus`.
"""

from pipeline.demo.corpus import compose_corpus, generate_corpus

__all__ = ["compose_corpus", "generate_corpus"]
