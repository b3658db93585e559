"""Functional check of the musicnn port: do MTT tags rank as expected on single-instrument clips?

Usage::

    python benchmarks/musicnn_tags.py --songs 24 --seconds 12      # renders an AAM demo corpus
    python benchmarks/musicnn_tags.py --corpus demo/aam            # or reads one

Each stem ``<id>_<Instrument>.flac`` of an AAM-layout demo corpus (``instrec demo-corpus``) is
one instrument rendered alone (FluidR3_GM, MuseScore General or TimGM6mb).  Its clip taggram is
the mean of the MTT musicnn taggram over the stem's 3 s patches (as musicnn's own tagger
summarises a song; patches where the part rests are skipped: peak below -50 dBFS).  A stem of
an instrument with MTT tags (``evaluation.zero_shot.MTT_TAGS``) is a hit when one of them is
among the clip's top 5 of the 50 tags.  Prints the per-instrument and overall top-5 (and
top-1) hit rates and each instrument's most frequent top tags.
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
from pathlib import Path

import numpy as np

STEM = re.compile(r"^(\d+)_([A-Za-z]+)\.flac$")


def clip_taggram(config, path: Path) -> np.ndarray | None:
    from pipeline.audio import load_resampled

    y = load_resampled(path, {16000})[16000]
    taggram = config.compute(y)
    hop = config.grid.hop_length
    loud = [i for i in range(len(taggram)) if np.abs(y[i * hop : (i + 1) * hop]).max(initial=0) > 10 ** (-50 / 20)]
    return taggram[loud].mean(axis=0) if loud else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=None, help="an AAM-layout demo corpus (default: render one)")
    parser.add_argument("--songs", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default="MTT_musicnn", choices=("MTT_musicnn", "MTT_vgg"))
    parser.add_argument("--no-sound-design", action="store_true", help="render without per-stem effect chains")
    args = parser.parse_args()
    from evaluation.zero_shot import mtt_tags_for
    from features.musicnn_weights import MTT_LABELS
    from pipeline.demo import generate_corpus
    from pipeline.musicnn_options import MusicnnOptions, musicnn_config

    config = musicnn_config(MusicnnOptions(model=args.model, layer="taggram"))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if corpus is None:
            corpus = Path(tmp) / "aam"
            generate_corpus(corpus, layout="aam", songs=args.songs, seconds=args.seconds, seed=args.seed, workers=2,
                            sound_design=not args.no_sound_design)
        hits: dict[str, list[tuple[bool, bool]]] = collections.defaultdict(list)
        tops: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        skipped = collections.Counter()
        for path in sorted(corpus.glob("*.flac")):
            match = STEM.match(path.name)
            if not match or match.group(2) == "mix":
                continue
            instrument = match.group(2)
            tags = mtt_tags_for(instrument)
            if not tags:
                skipped[instrument] += 1
                continue
            taggram = clip_taggram(config, path)
            if taggram is None:
                continue
            order = [MTT_LABELS[i] for i in np.argsort(-taggram)]
            hits[instrument].append((bool(set(tags) & set(order[:5])), order[0] in tags))
            tops[instrument].update(order[:3])
    print(f"{args.model}, {sum(map(len, hits.values()))} single-instrument stems of {corpus}")
    print(f"{'instrument':22s} {'tags':18s} {'stems':>5s} {'top-5':>6s} {'top-1':>6s}  most frequent top-3 tags")
    for instrument in sorted(hits):
        rows = hits[instrument]
        top5, top1 = np.mean([h for h, _ in rows]), np.mean([h for _, h in rows])
        common = ", ".join(f"{t} {n}" for t, n in tops[instrument].most_common(4))
        print(f"{instrument:22s} {'/'.join(mtt_tags_for(instrument)):18s} {len(rows):5d} {top5:6.0%} {top1:6.0%}  {common}")
    every = [h for rows in hits.values() for h in rows]
    per_class = np.mean([np.mean([h for h, _ in rows]) for rows in hits.values()])
    print(f"overall top-5 hit rate {np.mean([h for h, _ in every]):.1%} of stems ({per_class:.1%} averaged over "
          f"instruments), top-1 {np.mean([h for _, h in every]):.1%}")
    print(f"not scored (no MTT tag): {', '.join(f'{k} ({v})' for k, v in sorted(skipped.items()))}")


if __name__ == "__main__":
    main()
