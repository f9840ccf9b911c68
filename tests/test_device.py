import pytest
import torch

from course_lib import device as dev


@pytest.fixture
def machine(monkeypatch):
    """Pretend the machine has the given accelerators: machine(cuda=2, mps=True)."""
    monkeypatch.delenv(dev.ENV_VAR, raising=False)

    def pretend(cuda: int = 0, mps: bool = False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return pretend


@pytest.mark.parametrize("cuda, mps, best, available", [
    (0, False, "cpu", ["cpu"]),
    (0, True, "mps", ["mps", "cpu"]),
    (1, False, "cuda", ["cuda", "cpu"]),
    (2, True, "cuda", ["cuda", "mps", "cpu"]),
])
def test_preference_is_cuda_then_mps_then_cpu(machine, cuda, mps, best, available):
    machine(cuda=cuda, mps=mps)
    assert dev.available_devices() == available
    assert dev.get_device() == torch.device(best)


def test_environment_overrides_the_preference(machine, monkeypatch):
    machine(cuda=1, mps=True)
    monkeypatch.setenv(dev.ENV_VAR, "cpu")
    assert dev.get_device() == torch.device("cpu")
    monkeypatch.setenv(dev.ENV_VAR, " MPS ")
    assert dev.get_device() == torch.device("mps")
    assert dev.get_device("cuda") == torch.device("cuda"), "an explicit name beats the environment"


def test_unavailable_device_names_the_available_ones(machine, monkeypatch):
    machine(cuda=0, mps=True)
    monkeypatch.setenv(dev.ENV_VAR, "cuda")
    with pytest.raises(RuntimeError) as err:
        dev.get_device()
    assert "$COURSE_DEVICE is 'cuda'" in str(err.value) and "mps, cpu" in str(err.value)
    monkeypatch.delenv(dev.ENV_VAR)
    with pytest.raises(RuntimeError, match="the requested device is 'cuda:0'.*Available here: mps, cpu"):
        dev.get_device("cuda:0")


def test_cuda_index_is_checked_against_the_count(machine):
    machine(cuda=2)
    assert dev.get_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(RuntimeError, match="asks for GPU 2, but this machine has 2 CUDA device"):
        dev.get_device("cuda:2")


def test_nonsense_name(machine):
    machine()
    with pytest.raises(RuntimeError, match="'gpu-please' is not a device name.*Available here: cpu"):
        dev.get_device("gpu-please")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA-only check; no GPU here")
def test_real_cuda_index_out_of_range():
    with pytest.raises(RuntimeError, match="CUDA device"):
        dev.get_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("cap, asked, got", [(None, 2, 2), ("1", 2, 1), ("3", 2, 2), ("1", 1, 1), (None, 0, 1)])
def test_set_cpu_threads_obeys_the_cap(monkeypatch, cap, asked, got):
    old = torch.get_num_threads()
    torch.set_num_threads(3 if got != 3 else 2)  # a different count before, so the call must change it
    try:
        if cap is None:
            monkeypatch.delenv("COURSE_CPU_THREADS", raising=False)
        else:
            monkeypatch.setenv("COURSE_CPU_THREADS", cap)
        assert dev.set_cpu_threads(asked) == got
        assert torch.get_num_threads() == got
    finally:
        torch.set_num_threads(old)
