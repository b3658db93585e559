"""Note intervals from MIDI files (pretty_midi), with errors a user can act on."""

from __future__ import annotations

import warnings
from pathlib import Path

from pipeline.track import DatasetError


def midi_note_intervals(path: Path) -> list[tuple[float, float]]:
    """Every note of every instrument in a MIDI file, as (start, end) in seconds.

    Notes whose end is not after their start are left out.  Tempo changes are honoured
    (pretty_midi converts ticks to seconds).

    Raises
    ------
    DatasetError
        The file is missing, is not a MIDI file, or holds no note.
    """
    import pretty_midi

    if not path.is_file():
        raise DatasetError(f"{path}: MIDI file is missing; re-download the track or remove it")
    try:
        with warnings.catch_warnings():
            # Files written by some generators put tempo events on every track; harmless.
            warnings.simplefilter("ignore")
            midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # mido raises OSError, EOFError, KeySignatureError, ...
        # Only the error's type: mido's messages can carry bytes of the file.
        raise DatasetError(
            f"{path}: cannot parse the MIDI file ({type(exc).__name__}); expected a Standard MIDI File "
            "(an MThd header, then MTrk chunks); re-download or re-export it"
        ) from exc
    intervals = [
        (float(note.start), float(note.end))
        for instrument in midi.instruments
        for note in instrument.notes
        if note.end > note.start >= 0.0
    ]
    if not intervals:
        raise DatasetError(f"{path}: MIDI file has no notes; the stem's labels cannot be built, remove the stem")
    return sorted(intervals)
