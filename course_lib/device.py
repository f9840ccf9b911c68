"""Pick the torch device at run time: cuda, then mps, then cpu; ``COURSE_DEVICE`` overrides."""
import os

import torch

ENV_VAR = "COURSE_DEVICE"


def available_devices() -> list[str]:
    """Names of the device types this machine can run on, best first."""
    names = []
    if torch.cuda.is_available():
        names.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    names.append("cpu")
    return names


def get_device(name: str | None = None) -> torch.device:
    """The device to run on.

    Inputs:
    - name: 'cuda', 'cuda:1', 'mps' or 'cpu'; None reads $COURSE_DEVICE, and if that is unset
      picks the best available (cuda > mps > cpu).
    Returns a torch.device. Raises RuntimeError naming the available devices if the requested
    one cannot be used here.
    """
    name = name or os.environ.get(ENV_VAR) or None
    available = available_devices()
    if name is None:
        return torch.device(available[0])
    try:
        device = torch.device(name.strip().lower())
    except RuntimeError as err:
        raise RuntimeError(f"'{name}' is not a device name ({err}). "
                           f"Available here: {', '.join(available)}.") from None
    if device.type not in available:
        source = f"${ENV_VAR}" if name == os.environ.get(ENV_VAR) else "the requested device"
        raise RuntimeError(f"{source} is '{name}', but this machine has no {device.type}. "
                           f"Available here: {', '.join(available)}. "
                           f"Unset {ENV_VAR} or set it to one of those.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(f"'{name}' asks for GPU {device.index}, but this machine has "
                           f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 ...).")
    return device


def set_cpu_threads(n: int) -> int:
    """``torch.set_num_threads(n)``, at most ``$COURSE_CPU_THREADS`` when that is set; returns the count.

    The test run builds the book beside other work on a two-core machine and sets it to 1 there:
    two training threads that share their cores with other processes run several times slower."""
    cap = os.environ.get("COURSE_CPU_THREADS")
    n = min(n, int(cap)) if cap else n
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()
