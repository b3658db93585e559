"""Feature names and defaults the command line offers, without importing NumPy.

``instrec --help`` builds its option choices from these; the modules that implement them use
the same values and check, when imported, that they agree (:mod:`features.registry`,
:mod:`features.activity`, :mod:`features.musicnn_weights`).
"""

from __future__ import annotations

FEATURE_SETS = ("logmel", "logmel-vggish", "musicnn", "scalogram", "vggish", "vggish-input")
"""Feature-set families :func:`features.registry.build_config` builds (``instrec extract --features``)."""

ACTIVITY_MODES = ("notes", "stem-energy")
"""How frame labels are made (:class:`features.activity.ActivityConfig`)."""

ACTIVITY_THRESHOLD_DB = 30.0
"""``stem-energy``: a frame is active within this many dB of the stem's loud level (the default)."""

MUSICNN_MODELS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")
"""musicnn checkpoints (:data:`features.musicnn_weights.CHECKPOINTS`): MagnaTagATune or Million Song
Dataset, musicnn or its VGG baseline."""

MUSICNN_PATCH_FRAMES = 187
"""musicnn's input, in 16 ms mel frames: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``."""
