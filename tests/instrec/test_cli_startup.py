"""``instrec --help`` stays fast: the command line imports no heavy library until a command runs.

Checked on ``sys.modules`` in a fresh interpreter, not with a timing (robust on a loaded machine);
``benchmarks/bench_startup.py`` measures the time.  When one of these fails, find the import
with ``python -X importtime -c "from instrec.cli import build_parser; build_parser()"`` and move
it into the command's handler, or the constant it provides into a ``choices`` module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from instrec.cli import COMMAND_MODULES

ROOT = Path(__file__).resolve().parents[2]
# numpy too: 0.1 s of a 0.07 s budget
HEAVY = ("torch", "sklearn", "scipy", "librosa", "numba", "dask", "distributed", "zarr", "fsspec", "prefect",
         "matplotlib", "numpy", "pandas", "soundfile", "pretty_midi", "pedalboard", "music21", "xarray")


def heavy_modules_after(code: str) -> list[str]:
    """The :data:`HEAVY` packages in ``sys.modules`` once ``code`` has run in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, sys
        print(json.dumps(sorted({{name.partition(".")[0] for name in sys.modules}} & set({HEAVY!r}))))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_nothing_heavy():
    assert heavy_modules_after("import instrec.cli") == []


@pytest.mark.parametrize("module", sorted(COMMAND_MODULES))
def test_each_command_module_registers_without_heavy_imports(module):
    found = heavy_modules_after(f"""
        import argparse, importlib
        importlib.import_module({module!r}).register(argparse.ArgumentParser().add_subparsers())
    """)
    assert found == [], f"{module} imports {found} when its parser is built; import them in its handlers"


def test_every_help_runs_without_heavy_imports():
    commands = [[name] for names in COMMAND_MODULES.values() for name in names if name != "store"]
    commands += [["store", sub] for sub in ("info", "verify", "export")]
    found = heavy_modules_after(f"""
        import contextlib, io
        from instrec.cli import main
        for argv in [[], ["--version"], ["--help"]] + [command + ["--help"] for command in {commands!r}]:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                try:
                    main(argv)
                except SystemExit as exited:
                    assert exited.code == 0, (argv, exited.code)
            assert "usage: instrec" in out.getvalue() or argv == ["--version"], argv
    """)
    assert found == []


def test_a_no_op_extract_of_an_unchanged_store_imports_no_zarr_scipy_or_torch(tmp_path):
    import numpy as np
    import soundfile

    from instrec.cli import main

    (tmp_path / "songs").mkdir()
    for i in range(2):
        soundfile.write(str(tmp_path / "songs" / f"s{i}.wav"), np.zeros(22050, dtype=np.float32), 22050)
    argv = ["extract", str(tmp_path / "songs"), "--dataset", "folder", "--store", str(tmp_path / "store"),
            "--workers", "0", "--no-progress"]
    assert main(argv) == 0  # builds the store
    found = heavy_modules_after(f"""
        import contextlib, io
        from instrec.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main({argv!r}) == 0
        assert "0 done, 2 skipped unchanged" in out.getvalue(), out.getvalue()
    """)
    # what it needs: NumPy (configs), soundfile (the folder reader), fsspec (the store's files), and
    # librosa's package shell (features.logmel imports it; it loads its submodules lazily: 1 ms)
    assert set(found) <= {"numpy", "soundfile", "fsspec", "librosa"}, found


def test_the_check_can_fail():
    assert heavy_modules_after("import numpy") == ["numpy"]
