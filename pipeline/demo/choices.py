"""The values ``instrec demo-corpus`` offers, without importing the renderer (NumPy, SciPy,
pretty_midi, pedalboard): ``instrec --help`` builds its choices from these."""

from __future__ import annotations

LAYOUTS = ("aam", "slakh")
"""On-disk layouts a demo corpus is written in (:func:`pipeline.demo.instruments.voices_for`)."""

SOUNDFONT_SPLITS = ("stem", "holdout", "cycle", "random")
"""How stems get soundfonts (:func:`pipeline.demo.corpus.assign_soundfonts`)."""

SOUNDFONT_ENV = "INSTREC_SOUNDFONTS"
"""Environment variable listing extra soundfonts (``os.pathsep``-separated)."""
