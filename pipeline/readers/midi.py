"""Note intervals from MIDI files (pretty_midi), with errors a user can act on.

Tempo changes (``set_tempo``) belong in track 0 of a type-1 file, and pretty_midi reads them
only there (it warns about others, and its times are then wrong).  Synthesizers and
sequencers (FluidSynth, which renders Slakh-style and demo stems, DAWs, mido's
``merge_tracks``) apply a tempo change on any track to the whole song, so that is what the
audio follows: tempo changes found on other tracks are moved into track 0 before the notes
are timed, and a warning names the file when they change its tempo map.  Two tracks setting
different tempos at the same tick leave the timing ambiguous: the file is refused.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from pipeline.track import DatasetError

log = logging.getLogger(__name__)


def _absolute(track: Any) -> list[tuple[int, Any]]:
    """(absolute tick, message) of a mido track's messages."""
    tick, events = 0, []
    for message in track:
        tick += message.time
        events.append((tick, message))
    return events


def _relative(events: list[tuple[int, Any]]) -> Any:
    """A mido track from (absolute tick, message) pairs in order."""
    import mido

    track, previous = mido.MidiTrack(), 0
    for tick, message in events:
        track.append(message.copy(time=tick - previous))
        previous = tick
    return track


def global_tempo_map(midi: Any, path: Path) -> Any:
    """``midi`` (a type-0/1 ``mido.MidiFile``) with every track's tempo changes in track 0.

    Returns the file unchanged when only track 0 sets tempos.  Tempo events repeated on
    several tracks (some generators write the tempo map into every track) count once.

    Raises
    ------
    DatasetError
        Two tracks set different tempos at the same tick.
    """
    if midi.type == 2 or len(midi.tracks) < 2:
        return midi
    tracks = [_absolute(track) for track in midi.tracks]
    tempos: dict[int, tuple[int, int]] = {}  # tick -> (tempo, track)
    moved = False
    for number, events in enumerate(tracks):
        for tick, message in events:
            if message.type != "set_tempo":
                continue
            moved = moved or number > 0
            if tick in tempos and tempos[tick][0] != message.tempo:
                other = tempos[tick][1]
                if other == number:  # two values at one tick of one track: the later one holds
                    tempos[tick] = (message.tempo, number)
                    continue
                raise DatasetError(
                    f"{path}: tracks {other} and {number} set different tempos at tick {tick} "
                    f"({6e7 / tempos[tick][0]:.2f} and {6e7 / message.tempo:.2f} BPM), so the note times are "
                    "ambiguous; re-export the MIDI file with its tempo changes in one track"
                )
            tempos.setdefault(tick, (message.tempo, number))
    if not moved:
        return midi
    own = [(tick, message.tempo) for tick, message in tracks[0] if message.type == "set_tempo"]
    if sorted(own) != sorted((tick, tempo) for tick, (tempo, _) in tempos.items()):
        others = sorted({number for number, events in enumerate(tracks) if number
                         for _, message in events if message.type == "set_tempo"})
        log.warning("%s: tempo changes on track(s) %s applied to the whole song, as synthesizers play them "
                    "(pretty_midi reads tempo changes from track 0 only)", path, ", ".join(map(str, others)))
    import mido

    rebuilt = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat, charset=midi.charset)
    for number, events in enumerate(tracks):
        kept = [(tick, m) for tick, m in events if m.type not in ("set_tempo", "end_of_track")]
        if number == 0:
            kept += [(tick, mido.MetaMessage("set_tempo", tempo=tempo)) for tick, (tempo, _) in tempos.items()]
            kept.sort(key=lambda item: (item[0], item[1].type != "set_tempo"))  # stable: others keep order
        end = max([tick for tick, _ in events] + [tick for tick, _ in kept] or [0])
        rebuilt.tracks.append(_relative(kept + [(end, mido.MetaMessage("end_of_track"))]))
    return rebuilt


def midi_note_intervals(path: Path) -> list[tuple[float, float]]:
    """Every note of every instrument in a MIDI file, as (start, end) in seconds.

    Notes whose end is not after their start are left out.  Tempo changes are honoured,
    also those written on other tracks than track 0 (see the module docstring).

    Raises
    ------
    DatasetError
        The file is missing, is not a MIDI file, holds no note, or has conflicting tempos.
    """
    import mido
    import pretty_midi

    if not path.is_file():
        raise DatasetError(f"{path}: MIDI file is missing; re-download the track or remove it")
    try:
        midi = mido.MidiFile(filename=str(path))
    except Exception as exc:  # mido raises OSError, EOFError, KeySignatureError, ...
        # Only the error's type: mido's messages can carry bytes of the file.
        raise DatasetError(
            f"{path}: cannot parse the MIDI file ({type(exc).__name__}); expected a Standard MIDI File "
            "(an MThd header, then MTrk chunks); re-download or re-export it"
        ) from exc
    midi = global_tempo_map(midi, path)
    try:
        with warnings.catch_warnings():
            # Left after global_tempo_map: key and time signatures on other tracks (no effect on timing).
            warnings.simplefilter("ignore")
            parsed = pretty_midi.PrettyMIDI(mido_object=midi)
    except Exception as exc:
        raise DatasetError(
            f"{path}: cannot read the MIDI file's notes ({type(exc).__name__}); re-download or re-export it"
        ) from exc
    intervals = [
        (float(note.start), float(note.end))
        for instrument in parsed.instruments
        for note in instrument.notes
        if note.end > note.start >= 0.0
    ]
    if not intervals:
        raise DatasetError(f"{path}: MIDI file has no notes; the stem's labels cannot be built, remove the stem")
    return sorted(intervals)
