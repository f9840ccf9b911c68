"""Forward+backward time of the course's LSTM and GRU against torch.nn.LSTM / torch.nn.GRU.

For each layer: the equation-level ``forward`` (a Python loop over T), ``fast_forward``
(torch.nn with the converted weights, cuDNN on a GPU) and torch.nn itself. One timed step is
forward over (N, T, D), a scalar loss of every output and the final state, and backward into
the inputs and parameters. The contenders take turns, so that a change in the machine's load
hits all alike; prints the median and the minimum over --repeats, after --warmup untimed rounds.
On a machine shared with other jobs, wall time measures their load too: ``--clock cpu`` times
the CPU time of this process instead (all its threads, so use it with ``--threads 1``).
Not part of `make test`: timings belong in benchmarks. Example:

    .venv/bin/python benchmarks/bench_gated.py --N 32 --T 100 --D 64 --H 128 --threads 1 --clock cpu
"""
import argparse
import statistics
import time

import torch

from course_lib.gru import GRU, to_torch_gru_state_dict
from course_lib.lstm import LSTM, to_torch_lstm_state_dict


def contenders(D: int, H: int, device, dtype):
    """(layer, implementation, module, run) rows; run(x) -> a scalar loss."""
    lstm = LSTM(D, H, device=device, dtype=dtype, generator=torch.Generator().manual_seed(0))
    torch_lstm = torch.nn.LSTM(D, H, batch_first=True, device=device, dtype=dtype)
    torch_lstm.load_state_dict(to_torch_lstm_state_dict(*(p.detach() for p in lstm.parameters())))
    gru = GRU(D, H, device=device, dtype=dtype, generator=torch.Generator().manual_seed(0))
    gru_before = GRU(D, H, reset_after=False, device=device, dtype=dtype)
    gru_before.load_state_dict(gru.state_dict())
    torch_gru = torch.nn.GRU(D, H, batch_first=True, device=device, dtype=dtype)
    torch_gru.load_state_dict(to_torch_gru_state_dict(*(p.detach() for p in gru.parameters())))

    def lstm_loss(run):
        return lambda x: (lambda h, s: h.sum() + s[0].sum() + s[1].sum())(*run(x))

    def gru_loss(run):
        return lambda x: (lambda h, h_T: h.sum() + h_T.sum())(*run(x))

    return [("LSTM", "course forward", lstm, lstm_loss(lstm)),
            ("LSTM", "course fast_forward", lstm, lstm_loss(lstm.fast_forward)),
            ("LSTM", "torch.nn.LSTM", torch_lstm, lstm_loss(torch_lstm)),
            ("GRU", "course forward", gru, gru_loss(gru)),
            ("GRU", "course forward, reset before", gru_before, gru_loss(gru_before)),
            ("GRU", "course fast_forward", gru, gru_loss(gru.fast_forward)),
            ("GRU", "torch.nn.GRU", torch_gru, gru_loss(torch_gru))]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_steps(rows, x, warmup: int, repeats: int, clock=time.perf_counter) -> list[list[float]]:
    """Seconds of each forward+backward step, per row; rows take turns so that load drifts hit all alike."""
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    times = [[] for _ in rows]
    for k in range(warmup + repeats):
        for (_, _, module, run), row_times in zip(rows, times):
            module.zero_grad(set_to_none=True)
            x.grad = None
            sync()
            start = clock()
            run(x).backward()
            sync()
            if k >= warmup:
                row_times.append(clock() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, default in (("N", 32), ("T", 100), ("D", 64), ("H", 128)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--clock", default="wall", choices=sorted(CLOCKS),
                        help="wall: elapsed time; cpu: CPU time of this process (all threads), "
                             "steadier on a shared machine, best with --threads 1")
    parser.add_argument("--no-onednn", action="store_true",
                        help="switch off oneDNN (mkldnn): torch.nn.LSTM then runs its unfused C++ loop")
    args = parser.parse_args()
    if args.no_onednn:
        torch.backends.mkldnn.enabled = False
    if args.clock == "cpu" and args.device != "cpu":
        parser.error("--clock cpu times CPU work only; a GPU needs the wall clock (--clock wall).")
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.manual_seed(0)
    x = torch.randn(args.N, args.T, args.D, device=device, dtype=dtype, requires_grad=True)
    print(f"N={args.N} T={args.T} D={args.D} H={args.H} {args.dtype} on {device} "
          f"({torch.get_num_threads()} threads), torch {torch.__version__}; "
          f"forward+backward, {args.clock} clock, median of {args.repeats}"
          f"{', oneDNN off' if args.no_onednn else ''}")
    print(f"{'layer':<5}  {'implementation':<29}  {'ms':>8}  {'min ms':>8}  {'x torch.nn':>10}")
    rows = contenders(args.D, args.H, device, dtype)
    times = time_steps(rows, x, args.warmup, args.repeats, CLOCKS[args.clock])
    rows = [(layer, impl, t) for (layer, impl, _, _), t in zip(rows, times)]
    reference = {layer: statistics.median(t) for layer, impl, t in rows if impl.startswith("torch.nn")}
    for layer, impl, times in rows:
        median = statistics.median(times)
        print(f"{layer:<5}  {impl:<29}  {1e3 * median:8.2f}  {1e3 * min(times):8.2f}  "
              f"{median / reference[layer]:10.2f}")


if __name__ == "__main__":
    main()
