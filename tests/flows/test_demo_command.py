from flows.commands import demo_prefect_home


def test_demo_prefect_home_is_created_with_parents(tmp_path):
    environ = {}
    out = tmp_path / "not" / "yet" / "there"
    demo_prefect_home(str(out), environ)
    assert environ["PREFECT_HOME"] == str((out / ".prefect").resolve())
    assert (out / ".prefect").is_dir()


def test_demo_prefect_home_respects_the_users_choice(tmp_path):
    for environ in ({"PREFECT_HOME": "/somewhere"}, {"PREFECT_API_URL": "http://127.0.0.1:4200/api"}):
        before = dict(environ)
        demo_prefect_home(str(tmp_path / "demo"), environ)
        assert environ == before
    assert not (tmp_path / "demo").exists()


def test_demo_score_table_has_both_baselines_for_every_score():
    from flows.demo import DEMO_SCORES, baseline_key, score_table

    assert baseline_key("baseline_majority", "frame@micro.f1_micro") == "baseline_majority.frame.f1_micro"
    assert baseline_key("baseline", "dominant.accuracy") == "baseline.dominant.accuracy"
    row = {"model": 0.5, "baseline": 0.25, "baseline_majority": None}
    table = score_table({name: {key: row for key in DEMO_SCORES} for name in ("in_domain", "unseen_soundfont")})
    lines = table.splitlines()
    assert len(lines) == 1 + len(DEMO_SCORES)
    assert "prior" in lines[0] and "major." in lines[0]
    assert lines[1].split() == ["frame@micro.f1_micro", "0.500", "0.250", "n/a", "0.500", "0.250", "n/a"]
