import pytest
import torch

from course_lib import device as dev


def test_picks_best_available(monkeypatch):
    monkeypatch.delenv(dev.ENV_VAR, raising=False)
    assert dev.get_device().type == dev.available_devices()[0]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.get_device().type == "cuda"


def test_cpu_is_always_there_and_env_overrides(monkeypatch):
    monkeypatch.setenv(dev.ENV_VAR, "cpu")
    assert dev.get_device() == torch.device("cpu")
    assert "cpu" in dev.available_devices()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device_names_the_available_ones(monkeypatch):
    monkeypatch.setenv(dev.ENV_VAR, "cuda")
    with pytest.raises(RuntimeError) as err:
        dev.get_device()
    assert "COURSE_DEVICE" in str(err.value) and "cpu" in str(err.value)
    with pytest.raises(RuntimeError, match="Available here: .*cpu"):
        dev.get_device("cuda:0")


def test_nonsense_name(monkeypatch):
    monkeypatch.delenv(dev.ENV_VAR, raising=False)
    with pytest.raises(RuntimeError, match="not a device name"):
        dev.get_device("gpu-please")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA-only check; no GPU here")
def test_cuda_index_out_of_range():
    with pytest.raises(RuntimeError, match="CUDA device"):
        dev.get_device(f"cuda:{torch.cuda.device_count()}")


def test_set_cpu_threads_obeys_the_cap(monkeypatch):
    from course_lib.device import set_cpu_threads

    old = torch.get_num_threads()
    try:
        monkeypatch.setenv("COURSE_CPU_THREADS", "1")
        assert set_cpu_threads(2) == 1 == torch.get_num_threads()
        monkeypatch.delenv("COURSE_CPU_THREADS")
        assert set_cpu_threads(2) == 2 == torch.get_num_threads()
    finally:
        torch.set_num_threads(old)
