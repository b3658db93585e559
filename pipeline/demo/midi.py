"""Standard MIDI files for a :class:`~pipeline.demo.song.Song` (built with mido).

* :func:`stem_midi`: one instrument, as in Slakh's ``MIDI/SXX.mid`` (format 1: a tempo track
  and a note track) or AAM's ``<id>_<Instrument>.mid`` (format 0).
* :func:`song_midi`: all instruments, each on its own channel (Slakh's ``all_src.mid``).

The files the synthesizer plays are built by :func:`pipeline.demo.render.batch_midi`.

Notes on the same tick are written note-off first, so a key struck again at the moment it is
released sounds twice.  Drums play on channel 10 (index 9) with program 0.
"""

from __future__ import annotations

import io

import mido

from pipeline.demo.song import Part, Song

DRUM_CHANNEL = 9
_MELODIC_CHANNELS = tuple(c for c in range(16) if c != DRUM_CHANNEL)


def midi_bytes(midi: mido.MidiFile) -> bytes:
    """The bytes of a MIDI file (deterministic for the same content)."""
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def part_channels(song: Song) -> list[int]:
    """A distinct MIDI channel per part: drums on 9, the others on 0-8 then 10-15."""
    if sum(not p.voice.is_drum for p in song.parts) > len(_MELODIC_CHANNELS):
        raise ValueError(f"a song can have at most {len(_MELODIC_CHANNELS)} melodic parts")
    melodic = iter(_MELODIC_CHANNELS)
    return [DRUM_CHANNEL if p.voice.is_drum else next(melodic) for p in song.parts]


def _tempo_messages(song: Song) -> list[tuple[int, int, mido.MetaMessage]]:
    return [
        (0, 0, mido.MetaMessage("set_tempo", tempo=song.tempo, time=0)),
        (0, 0, mido.MetaMessage("time_signature", numerator=song.meter[0], denominator=song.meter[1], time=0)),
    ]


def _part_messages(part: Part, channel: int, shift: int = 0) -> list[tuple[int, int, mido.Message]]:
    """(absolute tick, order, message) for a part's program change and notes."""
    program = 0 if part.voice.is_drum else part.voice.program
    events: list[tuple[int, int, mido.Message]] = [
        (shift, 0, mido.Message("program_change", channel=channel, program=program, time=0))
    ]
    for note in part.notes:
        on = mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)
        off = mido.Message("note_off", channel=channel, note=note.pitch, velocity=64)
        events.append((shift + note.start, 2, on))
        events.append((shift + note.end, 1, off))
    return events


def _track(events: list, name: str | None = None) -> mido.MidiTrack:
    """A track from (absolute tick, order, message) triples, with delta times."""
    track = mido.MidiTrack()
    if name is not None:
        track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, _order, message in sorted(events, key=lambda e: (e[0], e[1], getattr(e[2], "note", -1))):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def stem_midi(song: Song, part: Part, *, single_track: bool = False) -> mido.MidiFile:
    """One instrument's MIDI file.

    Parameters
    ----------
    song, part : Song, Part
    single_track : bool
        Format 0 (tempo and notes in one track, as AAM's per-instrument files) instead of
        format 1 with a tempo track and a note track (as Slakh's ``MIDI/SXX.mid``).
    """
    channel = DRUM_CHANNEL if part.voice.is_drum else 0
    midi = mido.MidiFile(type=0 if single_track else 1, ticks_per_beat=song.ticks_per_beat)
    if single_track:
        midi.tracks.append(_track(_tempo_messages(song) + _part_messages(part, channel), part.label))
    else:
        midi.tracks.append(_track(_tempo_messages(song)))
        midi.tracks.append(_track(_part_messages(part, channel), part.label))
    return midi


def song_midi(song: Song) -> mido.MidiFile:
    """All instruments in one format-1 file, one track and one channel per part."""
    midi = mido.MidiFile(type=1, ticks_per_beat=song.ticks_per_beat)
    midi.tracks.append(_track(_tempo_messages(song)))
    for part, channel in zip(song.parts, part_channels(song)):
        midi.tracks.append(_track(_part_messages(part, channel), part.label))
    return midi
