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


def test_the_demo_runs_the_shipped_recipe_at_demo_size():
    import json

    from flows.demo import DEMO_RECIPE, demo_config, recipe_file

    shipped = json.loads(recipe_file().read_text())
    config = demo_config(seed=3, epochs=2, training={"remix": 0.25})
    assert config.held_out_soundfont == shipped["held_out_soundfont"] not in config.train_soundfonts
    assert config.songs == DEMO_RECIPE["songs"] < shipped["songs"] and config.seed == 3
    assert config.training["model"] == shipped["training"]["model"]
    assert config.training["epochs"] == 2 and config.training["remix"] == 0.25
    assert demo_config(songs=20, model="cnn").training["model"] == "cnn"
