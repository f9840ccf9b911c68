"""course_lib.model_cache: trains once, loads after, retrains when the configuration changes."""
import pytest
import torch
from torch import nn

from course_lib import model_cache


def build():
    return nn.Linear(3, 2)


def make_train(calls):
    def train(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.fill_(float(len(calls)))
        return {"loss": [1.0, 0.5]}
    return train


def test_second_call_loads_instead_of_training(tmp_path):
    calls = []
    first, hist1, cached1 = model_cache.cached_training("m", {"a": 1}, build, make_train(calls),
                                                        directory=tmp_path)
    second, hist2, cached2 = model_cache.cached_training("m", {"a": 1}, build, make_train(calls),
                                                         directory=tmp_path)
    assert (cached1, cached2) == (False, True) and len(calls) == 1
    assert torch.equal(first.weight, second.weight) and second.weight[0, 0].item() == 1.0
    assert hist2["loss"] == [1.0, 0.5] and hist2["train_seconds"][0] >= 0
    assert not second.training


def test_a_new_configuration_retrains(tmp_path):
    calls = []
    model_cache.cached_training("m", {"a": 1}, build, make_train(calls), directory=tmp_path)
    model, _, cached = model_cache.cached_training("m", {"a": 2}, build, make_train(calls),
                                                   directory=tmp_path)
    assert not cached and len(calls) == 2 and model.weight[0, 0].item() == 2.0
    assert len(list(tmp_path.glob("m-*.pt"))) == 2 and not list(tmp_path.glob("*.tmp*"))


def test_key_depends_on_module_source_and_names_bad_modules():
    plain = model_cache.cache_key({"a": 1}, [])
    assert model_cache.cache_key({"a": 1}, ["course_lib.rnn"]) != plain
    assert model_cache.cache_key({"a": 1}, ["course_lib.rnn"]) != model_cache.cache_key({"a": 1}, ["course_lib.lstm"])
    with pytest.raises(FileNotFoundError, match="course_lib.nothing"):
        model_cache.cache_key({}, ["course_lib.nothing"])


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(model_cache.ENV_VAR, str(tmp_path))
    assert model_cache.cache_dir() == tmp_path
    monkeypatch.delenv(model_cache.ENV_VAR)
    assert model_cache.cache_dir() == model_cache.CHECKOUT / "_build" / "model_cache"


def _train_in_a_process(directory, log):
    """Run in a child process: ask for the model; training appends a line to ``log`` and takes 1 s."""
    import time as _time

    def train(model):
        with open(log, "a") as f:
            f.write("trained\n")
        _time.sleep(1.0)
        return {"loss": [0.0]}
    _, _, cached = model_cache.cached_training("shared", {"a": 1}, build, train, directory=directory)
    with open(log, "a") as f:
        f.write("loaded\n" if cached else "saved\n")


def test_processes_asking_at_once_train_once(tmp_path):
    """Two book pages executed in parallel that need the same model: one trains, the other waits and loads."""
    import multiprocessing
    log = tmp_path / "log.txt"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_train_in_a_process, args=(tmp_path, log)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert sorted(log.read_text().split()) == ["loaded", "saved", "trained"]
