"""Storage options are built in one place (``storage.options``) and every entry point uses it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from storage.options import storage_options

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("evaluation", "features", "flows", "pipeline", "storage", "training")


def test_an_endpoint_becomes_client_kwargs_and_nothing_gives_none():
    assert storage_options(endpoint_url="http://127.0.0.1:9000") == {
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}
    assert storage_options() is None
    assert storage_options(endpoint_url="") is None


def test_extra_options_are_kept_and_their_client_kwargs_merged():
    extra = {"anon": True, "client_kwargs": {"region_name": "eu-west-1"}}
    assert storage_options(endpoint_url="http://minio:9000", extra=extra) == {
        "anon": True, "client_kwargs": {"region_name": "eu-west-1", "endpoint_url": "http://minio:9000"}}
    assert extra == {"anon": True, "client_kwargs": {"region_name": "eu-west-1"}}  # not modified
    assert storage_options(extra={"anon": True}) == {"anon": True}
    with pytest.raises(ValueError, match="client_kwargs must be a mapping"):
        storage_options(endpoint_url="http://minio:9000", extra={"client_kwargs": "x"})


def test_no_other_module_builds_fsspec_client_kwargs():
    pattern = re.compile(r"""["']client_kwargs["']""")
    offenders = [str(path.relative_to(ROOT)) for package in PACKAGES for path in (ROOT / package).rglob("*.py")
                 if path != ROOT / "storage" / "options.py" and pattern.search(path.read_text())]
    assert offenders == [], f"build storage options with storage.options.storage_options: {offenders}"


def _parse(register, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


ENDPOINT = "http://127.0.0.1:9000"
EXPECTED = {"client_kwargs": {"endpoint_url": ENDPOINT}}


def test_instrec_train_takes_endpoint_url_like_the_flow():
    from flows.params import TrainParams
    from training.commands import config_from_args, register

    args = _parse(register, "train", "--store", "s3://b/s", "--out", "run", "--endpoint-url", ENDPOINT)
    assert config_from_args(args).storage_options == EXPECTED
    assert config_from_args(_parse(register, "train", "--store", "s", "--out", "run")).storage_options == {}
    params = TrainParams(store="s3://b/s", out="run", endpoint_url=ENDPOINT)
    assert params.to_config().storage_options == EXPECTED
    assert "endpoint_url" not in str(config_from_args(args).to_json())  # config.json never holds options


def test_the_flows_parameters_build_the_same_options(tmp_path):
    from flows.params import EvaluateParams, ExtractParams

    extract = ExtractParams(dataset="folder", root=str(tmp_path), store="s3://b/s", endpoint_url=ENDPOINT)
    assert extract.storage_options() == EXPECTED
    assert EvaluateParams(store="s", run="r", out="o", endpoint_url=ENDPOINT).storage_options() == EXPECTED
    assert EvaluateParams(store="s", run="r", out="o").storage_options() is None


def test_every_command_that_opens_a_store_takes_the_same_endpoint_option():
    from instrec.cli import build_parser

    commands = [["train", "--store", "s", "--out", "o"], ["evaluate", "--store", "s", "--run", "r", "--out", "o"],
                ["tune-thresholds", "--run", "r", "--store", "s"], ["extract", "d", "--dataset", "folder", "--store", "s"],
                ["import-openmic-vggish", "d", "--store", "s"], ["pretrain-embedding", "--store", "s", "--out", "w.pt"],
                ["store", "info", "s"], ["store", "export", "s", "--feature-set", "logmel", "--out", "x.npz"],
                ["store", "verify", "s"], ["store", "log", "s"], ["store", "expire", "s", "--older-than", "1d"],
                ["store", "tag", "s", "name"], ["store", "rollback", "s", "00000001-00000000"]]
    for argv in commands:
        args = build_parser(argv).parse_args([*argv, "--endpoint-url", ENDPOINT])
        assert storage_options(endpoint_url=args.endpoint_url) == EXPECTED, argv
    defined = [str(path.relative_to(ROOT)) for package in PACKAGES for path in (ROOT / package).rglob("*.py")
               if path != ROOT / "storage" / "options.py" and '"--endpoint-url"' in path.read_text()]
    assert defined == [], f"add the option with storage.options.add_endpoint_url: {defined}"
