"""Security suite: no pickle code execution, local-only servers, no credentials in output.

Beyond ``tests/training/test_training_loop.py`` and ``tests/features/test_vggish.py`` (which
call the loaders directly), the malicious checkpoints here go through the command line
(``instrec predict --run``, ``instrec extract --features vggish --vggish-weights``) and carry a
live payload: a control load with ``weights_only=False`` proves it would write its marker file,
and the real commands must refuse the file with a message naming it and never write the marker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import (
    aam_song, arff_text, listening_sockets, off_loopback, openmic_root, run_cli, slakh_track, write_audio, zero_byte,
)

REPO = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickling this runs ``exec`` of a line that writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('payload ran')",))


def evil_checkpoint(path: Path, marker: Path, state: dict) -> Path:
    """A torch checkpoint of ``state`` plus a live payload, proven live on a copy."""
    import torch

    torch.save({**state, "payload": Payload(marker)}, path)
    control_marker = marker.with_name(marker.name + ".control")
    control = path.with_name("control.pt")
    torch.save({**state, "payload": Payload(control_marker)}, control)
    torch.load(control, weights_only=False)  # an unsafe load runs it ...
    assert control_marker.read_text() == "payload ran"
    control.unlink()
    return path


def test_malicious_model_checkpoint_is_refused_by_predict(tmp_path):
    marker = tmp_path / "PWNED"
    run_dir = tmp_path / "EVIL"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"window": 32}))
    (run_dir / "classes.json").write_text(json.dumps(["Piano", "Drums"]))
    (run_dir / "features.json").write_text(json.dumps({"name": "logmel", "params": {}, "config_hash": "0" * 64}))
    evil_checkpoint(run_dir / "model.pt", marker, {"format": "instrec-model-1", "state_dict": {}, "n_classes": 2})
    song = write_audio(tmp_path / "songs" / "song.wav", 1.0)
    rc, out, err = run_cli(["predict", str(song), "--run", str(run_dir), "--out", str(tmp_path / "out")])
    assert rc == 2, out + err
    assert re.search(r"EVIL/model\.pt: refused to load: the file holds objects other than weights", err), err
    assert "Traceback" not in err
    assert not marker.exists()  # ... the command never did


def test_malicious_vggish_weights_are_refused_by_extract(tmp_path):
    marker = tmp_path / "PWNED"
    weights = evil_checkpoint(tmp_path / "evil.pth", marker, {})
    root = tmp_path / "aam"
    aam_song(root, "0001")
    store = tmp_path / "store"
    rc, out, err = run_cli(["extract", str(root), "--dataset", "aam", "--store", str(store), "--features", "vggish",
                            "--vggish-weights", str(weights), "--workers", "0", "--no-progress"])
    assert rc == 2, out + err
    assert re.search(r"evil\.pth: refused to load", err), err
    assert "Traceback" not in err
    assert not marker.exists()
    assert not store.exists() or not (store / "manifest.json").exists() or not list(store.glob("vggish-*"))


def test_malicious_resume_checkpoint_is_refused(tmp_path):
    """``instrec train --resume`` reads ``last.pt`` (optimizer, RNG states ...) with weights_only too."""
    import argparse

    from training.commands import config_from_args, register

    marker = tmp_path / "PWNED"
    out = tmp_path / "run"
    out.mkdir()
    store = tmp_path / "store"
    root = tmp_path / "aam"
    for i in range(4):
        aam_song(root, f"{i:04d}", seconds=1.5)
    assert run_cli(["extract", str(root), "--dataset", "aam", "--store", str(store), "--workers", "0",
                    "--no-progress"])[0] == 0
    argv = ["train", "--store", str(store), "--out", str(out), "--model", "mlp", "--epochs", "2", "--window", "32",
            "--batch-size", "4", "--workers", "0", "--no-progress", "--device", "cpu"]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    config = config_from_args(parser.parse_args(argv))
    (out / "config.json").write_text(json.dumps(config.to_json()))
    evil_checkpoint(out / "last.pt", marker, {"model": {}, "fit_state": {"epoch": 1}})
    rc, stdout, err = run_cli([*argv, "--resume"])
    assert rc == 2, stdout + err
    assert re.search(r"run/last\.pt: refused to load", err), err
    assert not marker.exists()


# --- servers bind to 127.0.0.1 -------------------------------------------------------------

def test_serve_script_binds_the_prefect_server_to_localhost():
    text = (REPO / "scripts" / "serve.sh").read_text()
    starts = [line for line in text.splitlines() if re.search(r"\bprefect\"? server start\b", line)]
    assert starts, "scripts/serve.sh does not start a Prefect server any more; update this test"
    for line in starts:
        assert re.search(r"--host 127\.0\.0\.1\b", line), line
    assert re.search(r"^export PREFECT_SERVER_API_HOST=127\.0\.0\.1$", text, re.M)
    assert re.search(r"^export PREFECT_API_URL=\"http://127\.0\.0\.1:", text, re.M)
    assert re.search(r"^export PREFECT_SERVER_ANALYTICS_ENABLED=false$", text, re.M)


def test_no_project_file_binds_every_interface():
    files = [REPO / "prefect.yaml", REPO / "Makefile", *(REPO / "scripts").glob("*.sh")]
    for package in ("flows", "pipeline", "storage", "training", "evaluation", "features"):
        files += (REPO / package).rglob("*.py")
    offenders = [f"{path.relative_to(REPO)}: {line.strip()}" for path in files if path.is_file()
                 for line in path.read_text(errors="replace").splitlines()
                 if re.search(r"0\.0\.0\.0|host\s*=\s*['\"]['\"]|--host\s+::|\[::\]", line)]
    assert not offenders, offenders


def test_off_loopback_catches_every_interface_and_network_addresses():
    assert off_loopback({("0.0.0.0", 8787), ("::", 8787), ("192.0.2.2", 1), ("127.0.0.1", 2), ("::1", 3)}) == [
        ("0.0.0.0", 8787), ("192.0.2.2", 1), ("::", 8787)]
    with socket.socket() as sock:  # and the listing sees a real socket bound to every interface
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        assert ("0.0.0.0", sock.getsockname()[1]) in off_loopback(listening_sockets())


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_local_dask_cluster_of_an_extraction_listens_on_localhost_only(processes):
    """Every socket of the extraction's local cluster (the default in-process threads, or worker
    processes with ``local_processes``) listens on 127.0.0.1, and it advertises no dashboard."""
    from pipeline.extraction.driver import _Cluster

    before = listening_sockets()
    cluster = _Cluster(workers=2, address=None, processes=processes)
    try:
        client = cluster.client()
        assert client.submit(sum, [1, 2]).result(timeout=60) == 3
        opened = listening_sockets() - before
        assert opened, "the cluster opened no listening socket (its scheduler and workers serve HTTP)"
        assert not off_loopback(opened), opened
        assert client.dashboard_link == ""
    finally:
        cluster.close()


def test_instrec_extract_default_cluster_listens_on_localhost_only(tmp_path):
    """``instrec extract`` with its default (2 threads) cluster, watched from outside while it runs."""
    root = tmp_path / "aam"
    for i in range(3):
        aam_song(root, f"{i:04d}")
    proc = subprocess.Popen([sys.executable, "-m", "instrec", "extract", str(root), "--dataset", "aam",
                             "--store", str(tmp_path / "store"), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    seen: set[tuple[str, int]] = set()
    try:
        while proc.poll() is None:
            try:
                seen |= listening_sockets(proc.pid)
            except Exception:  # the process ended between poll() and the listing
                pass
            time.sleep(0.01)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode(errors="replace")
    assert b"3 done" in out, out
    assert seen, "no listening socket seen: did the run start its local cluster?"
    assert not off_loopback(seen), seen
    assert b"dashboard" not in out + err and b"INFO distributed" not in err, err  # no library chatter


# --- nothing outside the dataset root is read ----------------------------------------------

OUTSIDE = "links to a file outside the dataset root"


@pytest.fixture
def outside(tmp_path):
    """Files outside every dataset root: a credentials file whose every line holds a unique
    secret (whatever line a parser quotes, it quotes the secret), and real, readable audio."""
    secret = "instrecLINKSECRET" + uuid.uuid4().hex
    credentials = tmp_path / "home" / ".aws" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.write_text(f"[{secret}]\naws_access_key_id = {secret}\n{secret}: {secret}\n- {secret}\n")
    audio = write_audio(tmp_path / "elsewhere" / "song.flac", 1.0, format="FLAC")
    return {"secret": secret, "credentials": credentials, "audio": audio}


def relink(path: Path, target: Path) -> Path:
    """Replace ``path`` (a dataset file) by a symbolic link to ``target``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    os.symlink(target, path)
    return path


def slakh_links(root: Path, outside: dict) -> tuple[list[str], list[Path]]:
    """A good track, and one track per kind of file linked outside (metadata, mix, stem audio, MIDI)."""
    slakh_track(root, "Track00001")
    links = [
        relink(slakh_track(root, "Track00002") / "metadata.yaml", outside["credentials"]),
        relink(slakh_track(root, "Track00003") / "mix.flac", outside["audio"]),
        relink(slakh_track(root, "Track00004") / "stems" / "S00.flac", outside["audio"]),
        relink(slakh_track(root, "Track00005") / "MIDI" / "S00.mid", outside["credentials"]),
    ]
    return ["Track00001"], links


def aam_links(root: Path, outside: dict) -> tuple[list[str], list[Path]]:
    aam_song(root, "0001")
    aam_song(root, "0002")
    aam_song(root, "0003")
    links = [relink(root / "0002_onsets.arff", outside["credentials"]),
             relink(root / "0003_mix.flac", outside["audio"])]
    return ["0001"], links


def folder_links(root: Path, outside: dict) -> tuple[list[str], list[Path]]:
    write_audio(root / "good.wav", 1.0)
    links = [relink(root / "secret.wav", outside["credentials"]), relink(root / "sub" / "song.flac", outside["audio"])]
    return ["good"], links


def openmic_links(root: Path, outside: dict) -> tuple[list[str], list[Path]]:
    openmic_root(root, {"000001_0": True, "000002_0": True})
    return ["000001_0"], [relink(root / "audio" / "000" / "000002_0.wav", outside["audio"])]


LINKED_DATASETS = {"slakh": slakh_links, "aam": aam_links, "folder": folder_links, "openmic": openmic_links}


def assert_secret_nowhere(secret: str, texts: dict[str, str], store: Path) -> None:
    for where, text in texts.items():
        assert secret not in text, f"the linked file's content appears in {where}"
    files = [path for path in store.rglob("*") if path.is_file()]
    assert any(path.parent.name == "runs" for path in files) and store / "manifest.json" in files, files
    for path in files:  # run logs, manifest, source hashes, zarr metadata and chunks
        assert secret.encode() not in path.read_bytes(), f"the linked file's content appears in {path}"


@pytest.mark.parametrize("dataset", sorted(LINKED_DATASETS))
def test_file_links_out_of_the_dataset_root_are_refused_and_never_quoted(tmp_path, outside, dataset):
    root = tmp_path / dataset
    good, links = LINKED_DATASETS[dataset](root, outside)
    rc, manifest_out, manifest_err = run_cli(["manifest", str(root), "--dataset", dataset])
    assert rc == 0, manifest_err
    assert [json.loads(line)["track_id"] for line in manifest_out.splitlines()] == good
    for link in links:
        assert f"{link}: {OUTSIDE} {root}; refusing to read it" in manifest_err, (link, manifest_err)
    store = tmp_path / "store"
    rc, out, err = run_cli(["extract", str(root), "--dataset", dataset, "--store", str(store), "--workers", "0",
                            "--no-progress", "--json"])
    summary = json.loads(out)
    assert rc == 1 and summary["done"] == len(good), summary
    assert sorted(f["path"] for f in summary["failed"]) == sorted(map(str, links)), summary["failed"]
    assert all(f["problem"].startswith(f"{f['path']}: {OUTSIDE}") for f in summary["failed"]), summary["failed"]
    assert_secret_nowhere(outside["secret"], {"manifest stdout": manifest_out, "manifest stderr": manifest_err,
                                              "extract stdout": out, "extract stderr": err}, store)


def test_openmic_vggish_json_linked_outside_is_refused_by_the_import(tmp_path, outside):
    root = openmic_root(tmp_path / "openmic", {"000001_0": True, "000002_0": True})
    good = root / "vggish" / "000" / "000001_0.json"
    good.parent.mkdir(parents=True)
    good.write_text(json.dumps({"time_points": [0.0], "features": [[128] * 128]}))
    link = relink(root / "vggish" / "000" / "000002_0.json", outside["credentials"])
    store = tmp_path / "store"
    rc, out, err = run_cli(["import-openmic-vggish", str(root), "--store", str(store), "--json"])
    summary = json.loads(out)
    assert rc == 1 and summary["done"] == 1, (summary, err)
    assert [(f["path"], f["problem"].startswith(f"{link}: {OUTSIDE}")) for f in summary["failed"]] == [
        (str(link), True)], summary["failed"]
    assert_secret_nowhere(outside["secret"], {"stdout": out, "stderr": err}, store)


def test_a_whole_dataset_file_linked_outside_stops_the_run_naming_the_link(tmp_path, outside):
    root = openmic_root(tmp_path / "openmic", {"000001_0": True})
    link = relink(root / "openmic-2018-aggregated-labels.csv", outside["credentials"])
    rc, out, err = run_cli(["manifest", str(root), "--dataset", "openmic"])
    assert rc == 2 and err.startswith(f"instrec manifest: error: {link}: {OUTSIDE}"), err
    assert outside["secret"] not in out + err


def test_file_links_inside_the_dataset_root_keep_working(tmp_path):
    root = tmp_path / "slakh"
    first = slakh_track(root, "Track00001")
    second = slakh_track(root, "Track00002")
    relink(second / "metadata.yaml", Path("..") / "Track00001" / "metadata.yaml")  # relative, inside the root
    relink(second / "MIDI" / "S00.mid", first / "MIDI" / "S00.mid")  # absolute, inside the root
    store = tmp_path / "store"
    rc, out, err = run_cli(["extract", str(root), "--dataset", "slakh", "--store", str(store), "--workers", "0",
                            "--no-progress", "--json"])
    summary = json.loads(out)
    assert rc == 0 and summary["done"] == 2 and not summary["failed"], (summary, err)


# --- error messages name the file, the line and what was expected, never the content -------

SLAKH_META = "audio_dir: stems\nmidi_dir: MIDI\nstems:\n  S00:\n    is_drum: false\n    program_num: {program}\n"


def quoting_cases(secret: str) -> dict[str, tuple[str, str, dict, str]]:
    """kind: (dataset, track id, file -> its text (bytes for MIDI), regex of the message).  Each file
    holds ``secret`` where the parser fails, so quoting the offending text would quote it."""
    piano = ["Onset events of Piano"]
    return {
        "YAML syntax error": ("slakh", "Track00001", {"metadata.yaml": f"[default]\naws_access_key_id = {secret}\n"},
                              r"metadata\.yaml: cannot read the track metadata: not valid YAML at line 2, column 1; "
                              r"expected a mapping with 'stems'"),
        "YAML unknown tag": ("slakh", "Track00001", {"metadata.yaml": f"stems: !{secret} x\n"},
                             r"metadata\.yaml: cannot read the track metadata: not valid YAML at line 1, column 8"),
        "YAML program_num not a number": ("slakh", "Track00001",
                                          {"metadata.yaml": SLAKH_META.format(program=secret)},
                                          r"metadata\.yaml: line 6: program_num is not a number; expected a General "
                                          r"MIDI program 0-127"),
        "YAML audio_dir outside": ("slakh", "Track00001",
                                   {"metadata.yaml": SLAKH_META.format(program=0).replace(
                                       "audio_dir: stems", f"audio_dir: ../../../{secret}")},
                                   r"metadata\.yaml: audio_dir is absolute or points outside the dataset root"),
        "MIDI bytes": ("slakh", "Track00001", {"MIDI/S00.mid": b"MThd\x00\x00\x00\x06" + secret.encode() * 4},
                       r"S00\.mid: cannot parse the MIDI file \(\w+\); expected a Standard MIDI File"),
        "ARFF bad key cell": ("aam", "0001", {"0001_onsets.arff": arff_text(piano, [f"0.0,'{secret}'", "0.9,'[]'"])},
                              r"0001_onsets\.arff: line 7 \(data row 1\), column 2: expected a bracketed list of "
                              r"MIDI keys like '\[\+36,42\]'"),
        "ARFF bad number": ("aam", "0001", {"0001_onsets.arff": arff_text(piano, [f"{secret},'[]'"])},
                            r"0001_onsets\.arff: malformed ARFF at line 7: a value that is not a number in a "
                            r"NUMERIC column"),
        "ARFF row wider than the header": ("aam", "0001",
                                           {"0001_onsets.arff": arff_text(piano, [f"0.0,'[]',{secret},{secret}"])},
                                           r"0001_onsets\.arff: malformed ARFF at line 7: a data row that does not "
                                           r"match the @ATTRIBUTE columns"),
        "ARFF unknown instrument": ("aam", "0001",
                                    {"0001_onsets.arff": arff_text([f"Onset events of {secret}"], ["0.0,'[]'"])},
                                    r"0001_onsets\.arff: line 4: column 2 names an instrument outside the AAM "
                                    r"vocabulary"),
        "ARFF column name": ("aam", "0001", {"0001_onsets.arff": arff_text([secret], ["0.0,'[]'"])},
                             r"0001_onsets\.arff: line 4: column 2 is not named 'Onset events of <Instrument>'"),
        "OpenMIC CSV instrument": ("openmic", "000001_0", {
            "openmic-2018-aggregated-labels.csv": f"sample_key,instrument,relevance,num_responses\n"
                                                  f"000001_0,{secret},1.0,3\n"},
                                   r"openmic-2018-aggregated-labels\.csv: line 2: unknown instrument; expected one "
                                   r"of accordion,"),
        "OpenMIC CSV relevance": ("openmic", "000001_0", {
            "openmic-2018-aggregated-labels.csv": f"sample_key,instrument,relevance,num_responses\n"
                                                  f"000001_0,piano,{secret},3\n"},
                                  r"openmic-2018-aggregated-labels\.csv: line 2: the relevance is not a probability "
                                  r"in \[0, 1\]"),
        "OpenMIC class map": ("openmic", "", {"class-map.json": json.dumps({"piano": secret})},
                              r"class-map\.json: expected a JSON object mapping each class name to its column index"),
        "OpenMIC class map syntax": ("openmic", "", {"class-map.json": f'{{"piano": 0,\n {secret}}}'},
                                     r"class-map\.json: not valid JSON at line 2, column 2; expected a JSON object"),
    }


def write_quoting_case(root: Path, dataset: str, track_id: str, files: dict) -> None:
    if dataset == "slakh":
        folder = slakh_track(root, track_id)
    elif dataset == "aam":
        folder = aam_song(root, track_id).parent
    else:
        folder = openmic_root(root, {"000001_0": True})
    for name, text in files.items():
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())


@pytest.mark.parametrize("kind", sorted(quoting_cases("x")))
def test_reader_errors_name_file_line_and_expectation_never_the_content(tmp_path, kind):
    secret = "instrecQUOTED" + uuid.uuid4().hex[:12]
    dataset, track_id, files, pattern = quoting_cases(secret)[kind]
    root = tmp_path / dataset
    write_quoting_case(root, dataset, track_id, files)
    rc, out, err = run_cli(["manifest", str(root), "--dataset", dataset])
    assert rc == 2, out + err  # the only track (or the whole dataset) fails
    assert re.search(pattern, err), err
    assert secret not in out + err
    assert len(err.strip().splitlines()) == (1 if not track_id else 3), err  # one line per failure


# --- no credentials in prefect.yaml, output, logs or the store ---------------------------------

KEY_LIKE = [
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
    r"(?i)(secret|password|passwd|token|api[_-]?key|access[_-]?key)\s*[:=]\s*['\"]?[^\s'\"{}$][^\s'\"]{7,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"(?i)https?://[^/\s:@]+:[^/\s@]+@",  # credentials in a URL
    r"\b[A-Za-z0-9+/]{40}\b",  # AWS secret access key shape
]


def test_prefect_yaml_holds_no_key_like_strings():
    text = (REPO / "prefect.yaml").read_text()
    for pattern in KEY_LIKE:
        assert not re.search(pattern, text), pattern
    for probe in ("aws_secret_access_key: abcdefgh1234", "AKIAABCDEFGHIJKLMNOP", "token: 'x1y2z3w4v5'"):
        assert any(re.search(p, probe) for p in KEY_LIKE), probe  # the patterns do catch keys


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def moto_endpoint():
    server = shutil.which("moto_server") or os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(server):
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_run(tmp_path, moto_endpoint):
    """Run CLI commands on an S3 store (moto) with unique credentials in the environment.

    Yields ``run(argv, verbose) -> (rc, stdout, stderr)``, the credential tokens and an S3 client.
    """
    import boto3

    tokens = {"AWS_ACCESS_KEY_ID": "AKIA" + uuid.uuid4().hex[:16].upper(),
              "AWS_SECRET_ACCESS_KEY": "instrecSECRET" + uuid.uuid4().hex,
              "AWS_SESSION_TOKEN": "instrecSESSION" + uuid.uuid4().hex}
    env = {**os.environ, **tokens, "AWS_DEFAULT_REGION": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id=tokens["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=tokens["AWS_SECRET_ACCESS_KEY"],
                      aws_session_token=tokens["AWS_SESSION_TOKEN"], region_name="us-east-1")
    s3.create_bucket(Bucket="instrec")
    root = tmp_path / "aam"
    for i in range(2):
        aam_song(root, f"{i:04d}")
    zero_byte(root, "0002_mix.flac")  # a failure message is printed and logged too
    (root / "0002_onsets.arff").write_text((root / "0000_onsets.arff").read_text())

    def run(argv: list[str], *, verbose: bool = False) -> tuple[int, str, str]:
        argv = [a.replace("ROOT", str(root)) for a in argv] + ["--endpoint-url", moto_endpoint]
        proc = subprocess.run([sys.executable, "-m", "instrec", *(["-v"] if verbose else []), *argv],
                              env=env, capture_output=True, timeout=120)
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    return run, tokens, s3


def assert_no_token(text: str, tokens: dict, where: str) -> None:
    for name, token in tokens.items():
        assert token not in text, f"{name} appears in {where}"


URL = "s3://instrec/stores/aam"
EXTRACT = ["extract", "ROOT", "--dataset", "aam", "--store", URL, "--workers", "0", "--no-progress"]


def test_s3_credentials_never_reach_output_or_the_store(s3_run):
    run, tokens, s3 = s3_run
    transcript = [(argv, *run(argv)) for argv in (
        EXTRACT, ["store", "info", URL], ["store", "verify", "--deep", URL],
        ["store", "info", "s3://instrec/stores/missing"])]
    assert [rc for _, rc, _, _ in transcript] == [1, 0, 0, 2], transcript  # one bad song; a missing store
    assert "0002_mix.flac" in transcript[0][2] and "no feature store here" in transcript[3][3]
    for argv, _, out, err in transcript:
        assert_no_token(out + err, tokens, " ".join(argv[:2]))
    names = [o["Key"] for o in s3.list_objects_v2(Bucket="instrec")["Contents"]]
    assert any(n.startswith("stores/aam/runs/") for n in names) and "stores/aam/manifest.json" in names
    for name in names:  # run logs, manifest, source hashes, zarr metadata and chunks
        body = s3.get_object(Bucket="instrec", Key=name)["Body"].read().decode("latin-1")
        assert_no_token(body, tokens, name)


@pytest.mark.slow
def test_s3_credentials_never_reach_verbose_logs(s3_run):
    run, tokens, _ = s3_run
    rc, out, err = run(EXTRACT, verbose=True)
    assert rc == 1, err[-2000:]
    assert_no_token(out + err, tokens, "instrec -v extract output")


def test_verbose_logging_enables_only_instrec_debug_messages():
    import logging

    from instrec.cli import OWN_PACKAGES, configure_logging

    root = logging.getLogger()
    saved = (root.level, {name: logging.getLogger(name).level for name in OWN_PACKAGES})
    try:
        configure_logging(verbose=True)
        assert logging.getLogger("storage").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("botocore.endpoint").isEnabledFor(logging.DEBUG)  # signed requests
        assert not logging.getLogger("s3fs").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)
