"""Real compositions for the demo composer, from the score corpus shipped with music21.

Two kinds of piece (:data:`KINDS`):

* ``chorale``: the four-part chorales of J. S. Bach (``bach/bwv*.mxl``, about 400 files):
  four real voices, soprano to bass.
* ``tune``: folk melodies from the Essen folksong collection (``essenFolksong/*.abc``,
  about 8500 songs) and Ryan's Mammoth Collection of fiddle tunes (``ryansMammoth/*.abc``,
  about 1000), harmonised by the composer.

Only pieces in 4/4, 2/2, 2/4 (read as 4/4), 3/4, 6/8 or 3/8 (read as 6/8), without a change
of meter, with at least two bars after the pickup, are used; anything else is skipped.  A
:class:`PieceLibrary` lists the candidates once and keeps every parsed piece in memory for
the life of the object: no files are written (music21's pickle cache is bypassed, and an
ABC tune is parsed from its own text, not from its whole collection file).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from pipeline.demo.rhythm import METERS, TICKS_PER_BEAT

KINDS = ("chorale", "tune")
# music21 meter -> composer meter (2/4 and 3/8 bars are paired into 4/4 and 6/8 bars)
_METERS = {"4/4": "4/4", "2/2": "4/4", "2/4": "4/4", "3/4": "3/4", "6/8": "6/8", "3/8": "6/8"}
_VOICE_NAMES = ("soprano", "alto", "tenor", "bass")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    """A parsed piece, cut to start on its first full bar.

    Attributes
    ----------
    name : str
        Path inside music21's corpus, with ``#<number>`` for a song of a collection file.
    kind : str
        ``chorale`` or ``tune``.
    meter : str
        ``4/4``, ``3/4`` or ``6/8`` (a key of :data:`pipeline.demo.rhythm.METERS`).
    tonic, mode : int, str
        Key found by :func:`find_key` (``maj`` or ``min``).
    length : int
        Ticks (480 per quarter note), whole bars.
    lines : tuple of tuple of (pitch, start, end)
        One line per voice, highest voice first (chorales: soprano, alto, tenor, bass).
    """

    name: str
    kind: str
    meter: str
    tonic: int
    mode: str
    length: int
    lines: tuple[tuple[tuple[int, int, int], ...], ...]


def _ticks(quarters) -> int:
    return int(round(Fraction(quarters).limit_denominator(96) * TICKS_PER_BEAT))


class PieceLibrary:
    """The candidate pieces of each kind and the ones parsed so far (in memory only).

    Parameters
    ----------
    root : Path, optional
        music21's corpus folder (default: the installed package's).
    """

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._catalog: dict[str, tuple[tuple[str, int | None], ...]] | None = None
        self._abc: dict[tuple[str, int | None], str] = {}
        self._parsed: dict[tuple[str, int | None], Piece | None] = {}
        self.parse_seconds = 0.0

    @property
    def root(self) -> Path:
        if self._root is None:
            from music21 import corpus

            self._root = Path(corpus.__file__).parent
        return self._root

    def catalog(self) -> dict[str, tuple[tuple[str, int | None], ...]]:
        """Per kind, ``(path inside the corpus, song number or None)`` in a fixed order.

        Folk songs are listed only when their ``M:`` field is a meter the composer plays.
        """
        if self._catalog is None:
            chorales = tuple(
                (str(p.relative_to(self.root)), None) for p in sorted(self.root.glob("bach/bwv*.mxl"))
            )
            tunes = []
            for folder in ("essenFolksong", "ryansMammoth"):
                for path in sorted(self.root.glob(f"{folder}/*.abc")):
                    name = str(path.relative_to(self.root))
                    for number, text in _abc_tunes(path):
                        self._abc[name, number] = text
                        tunes.append((name, number))
            self._catalog = {"chorale": chorales, "tune": tuple(tunes)}
        return self._catalog

    def piece(self, kind: str, index: int, *, tries: int = 12) -> Piece | None:
        """The first usable piece at or after ``index`` (wrapping) of ``kind``, or None."""
        candidates = self.catalog()[kind]
        if not candidates:
            return None
        for k in range(tries):
            entry = candidates[(index + k) % len(candidates)]
            if entry not in self._parsed:
                self._parsed[entry] = self._load(kind, *entry)
            if self._parsed[entry] is not None:
                return self._parsed[entry]
        return None

    def _load(self, kind: str, path: str, number: int | None) -> Piece | None:
        started = time.perf_counter()
        name = path if number is None else f"{path}#{number}"
        try:
            source = self._abc.get((path, number), self.root / path)
            return parse_piece(source, kind=kind, name=name)
        except Exception as exc:  # noqa: BLE001 - a corpus piece music21 cannot read is skipped
            logger.debug("skipped %s: %s", name, exc)
            return None
        finally:
            self.parse_seconds += time.perf_counter() - started


# ABC meter fields the composer can play (C is common time, C| cut time)
_ABC_METERS = {"2/4", "4/4", "3/4", "6/8", "3/8", "2/2", "C", "C|"}


def _abc_tunes(path: Path) -> list[tuple[int, str]]:
    """(X number, tune text) of each tune in an ABC file whose first ``M:`` field is playable."""
    tunes: list[tuple[int, str]] = []
    current: list[str] = []
    for line in path.read_text(encoding="latin-1").splitlines() + ["X:0"]:
        if line.startswith("X:"):
            if current:
                meter = next((row[2:].strip() for row in current if row.startswith("M:")), "")
                number = current[0][2:].strip()
                if number.isdigit() and meter in _ABC_METERS:
                    tunes.append((int(number), "\n".join(current) + "\n"))
            current = [line]
        elif current:
            current.append(line)
    return tunes


# Krumhansl-Kessler key profiles (major, minor), from C.
_PROFILES = {
    "maj": (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
    "min": (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
}


def find_key(lines) -> tuple[int, str]:
    """(tonic, mode) of notes ``(pitch, start, end)``: the Krumhansl-Kessler profile that
    correlates best with the duration-weighted pitch-class histogram."""
    histogram = np.zeros(12)
    for line in lines:
        for pitch, start, end in line:
            histogram[pitch % 12] += end - start
    if histogram.std() == 0:
        return 0, "maj"
    best, best_r = (0, "maj"), -np.inf
    for mode, profile in _PROFILES.items():
        for tonic in range(12):
            r = float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            if r > best_r:
                best, best_r = (tonic, mode), r
    return best


def parse_piece(source: Path | str, *, kind: str, name: str) -> Piece | None:
    """Parse one piece with music21 (a MusicXML file, or the text of one ABC tune); None
    when it does not fit the composer.

    Raises whatever music21 raises for a piece it cannot read.
    """
    from music21 import converter, meter, stream

    parser = converter.Converter()
    if isinstance(source, Path):
        parser.parseFileNoPickle(source)
    else:
        parser.parseData(source, format="abc")
    score = parser.stream
    parts = [p for p in score.parts if p.recurse().notes] if isinstance(score, stream.Score) else [score]
    if kind == "chorale":
        named = {str(p.partName or "").lower(): p for p in parts}
        parts = (
            [named[v] for v in _VOICE_NAMES if v in named] if all(v in named for v in _VOICE_NAMES) else parts
        )
        if len(parts) != 4:
            return None
    else:
        parts = parts[:1]
    signatures = {ts.ratioString for ts in parts[0].recurse().getElementsByClass(meter.TimeSignature)}
    if len(signatures) != 1 or next(iter(signatures)) not in _METERS:
        return None
    meter_name = _METERS[next(iter(signatures))]
    bar_quarters = (
        parts[0].recurse().getElementsByClass(meter.TimeSignature).first().barDuration.quarterLength
    )
    measures = list(parts[0].getElementsByClass(stream.Measure))
    full = [m for m in measures if m.duration.quarterLength == bar_quarters]
    if not full:
        return None
    origin = _ticks(full[0].offset)
    lines = []
    for part in parts:
        notes = []
        for element in part.stripTies().flatten().notes:
            length = element.quarterLength
            if length <= 0:  # grace notes
                continue
            start = _ticks(element.offset) - origin
            end = start + max(1, _ticks(length))
            if start < 0:
                continue
            for pitch in element.pitches:
                notes.append((int(pitch.midi), start, end))
        lines.append(tuple(sorted(set(notes), key=lambda n: (n[1], n[0]))))
    bar = METERS[meter_name].bar
    last = max((n[2] for line in lines for n in line), default=0)
    length = (last // bar) * bar
    if length < 2 * bar or any(len(line) < 4 for line in lines):
        return None
    lines = [tuple(n for n in line if n[1] < length) for line in lines]
    tonic, mode = find_key(lines)
    return Piece(name, kind, meter_name, tonic, mode, int(length), tuple(lines))
