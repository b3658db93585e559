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
