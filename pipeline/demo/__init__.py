"""The demo corpus: generated multitrack songs in the AAM or Slakh2100 layout.

``generate_corpus`` composes, renders (FluidSynth) and writes a corpus; ``compose_corpus``
only composes.  See :mod:`pipeline.demo.corpus`.  Both are imported on first use
(:mod:`core.lazy_exports`): ``instrec --help`` loads ``commands`` and ``choices`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from pipeline.demo.corpus import compose_corpus, generate_corpus

__all__ = ["compose_corpus", "generate_corpus"]
__getattr__, __dir__ = lazy_exports(__name__, {name: "pipeline.demo.corpus" for name in __all__})
