"""kill -9 an extraction mid-run: the store still opens and verifies, the rerun finishes the job."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from storage.store import open_store
from storage.verify import verify_store

RUNNER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from features.registry import build_config
    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.track import Event, Track, clip_labels_from_events, dominant_instrument, file_hash

    def tracks(folder):
        for path in sorted(Path(folder).glob("*.flac")):
            events = (Event("flute", 0.5, 1.5),)
            clip, mask = clip_labels_from_events(events, ("flute", "bass"))
            yield Track(track_id=path.stem, dataset="folder", audio=path, duration=3.0, sample_rate=44100,
                        split="train", classes=("flute", "bass"), events=events, clip_labels=clip,
                        clip_mask=mask, dominant=dominant_instrument(events),
                        source_hashes={path.name: file_hash(path)})

    if __name__ == "__main__":
        targets = [FeatureTarget.from_config(build_config("logmel")),
                   FeatureTarget.from_config(build_config("logmel-vggish"))]
        extract_dataset(tracks(sys.argv[1]), sys.argv[2], targets=targets, workers=0, progress=False,
                        commit_every_s=0.0)
''')


def _run(script, audio, url):
    return subprocess.Popen([sys.executable, str(script), str(audio), url], cwd=os.getcwd(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _committed(url):
    try:
        return sum(len(open_store(url).feature_set(k).tracks()) for k in open_store(url).feature_sets())
    except Exception:
        return 0


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_equals_uninterrupted(tmp_path, make_track, same_content):
    for i in range(10):
        make_track(f"song{i:02d}", duration=3.0, events=(("flute", 0.5, 1.5),), seed=i)
    audio = tmp_path / "audio"
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    reference = str(tmp_path / "reference")
    assert _run(script, audio, reference).wait(timeout=120) == 0
    assert _committed(reference) == 20

    url = str(tmp_path / "crashed")
    kills = 0
    for threshold in (3, 9, 15):  # kill after that many committed (feature set, track) pairs
        proc = _run(script, audio, url)
        deadline = time.monotonic() + 60
        while _committed(url) < threshold and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        report = verify_store(url)  # opens and verifies after every kill
        assert report.ok, report.problems
        assert _committed(url) < 20 or proc.returncode == 0
    assert kills >= 2
    final = _run(script, audio, url)  # takes over the dead writer's lock, finishes the job
    assert final.wait(timeout=120) == 0, final.stderr.read().decode()[-2000:]
    report = verify_store(url, deep=True)
    assert report.ok and not report.garbage  # the next writer removed the uncommitted versions
    same_content(reference, url)
