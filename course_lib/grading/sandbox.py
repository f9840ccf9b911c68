"""The kernel that runs untrusted submissions while they are graded.

    python -m course_lib.grading.sandbox -f CONNECTION_FILE      (argv of the grading kernelspec)

Before ipykernel starts, with settings from the JSON in $COURSE_SANDBOX (written by the grader):
- the process starts again (execve) with an allow-listed environment (``KEEP_ENV``), so nothing
  else of the grader's environment reaches the submission;
- resource limits: address space (memory), largest file written, CPU seconds;
- an audit hook (``sys.addaudithook``: Python code cannot remove it) whose ``Policy`` refuses
  reading under ``deny_read`` (the course checkout with solutions/ and the gradebook, the grading
  work directory with other students' work, the submissions folder) and under /proc/<pid> of any
  other process (the worker's and the grader's environment) except under ``allow`` and
  ``allow_read`` (the Python installation and course_lib); writing, removing or renaming anything
  outside ``allow`` (the submission's autograded folder and its scratch folder) and /dev/null;
  starting or signalling processes; loading native libraries from outside ``allow_read``; and the
  network (connect, bind, sendto, name lookups);
- stdout and stderr capped per stream, so a flood of output is cut, not carried to the grader.
Every refusal raises PermissionError in the student's code and is appended as one JSON line to
the log file named in the settings, so the grader can say in the feedback what was refused.
The settings come from ``course_lib.grading.worker.sandbox_env``; the kernelspec that starts this
module is written by ``course_lib.grading.batch.write_kernelspec``.
"""
import json
import os
import resource
import sys
import threading
import traceback

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
SPAWN_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                "os.fork", "os.forkpty", "pty.spawn", "os.startfile"}
SIGNAL_EVENTS = {"os.kill", "os.killpg", "signal.pthread_kill"}
NETWORK_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"}
READ_EVENTS = {"os.listdir", "os.scandir", "glob.glob", "sqlite3.connect", "os.chdir"}
WRITE_EVENTS = {"os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown",
                "os.utime", "shutil.rmtree", "os.removexattr", "os.setxattr"}
MOVE_EVENTS = {"os.rename", "shutil.move"}                                   # (src, dst): both change
COPY_EVENTS = {"shutil.copyfile", "shutil.copytree", "os.link", "os.symlink"}  # (src, dst): dst changes


def _under(path: str, roots) -> str | None:
    """The longest root that contains path, or None."""
    best = None
    for root in roots:
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            if best is None or len(root) > len(best):
                best = root
    return best


def _other_process(path: str) -> bool:
    """Whether path lies under /proc/<pid> of another process: the grader's and the worker's
    environment, command line and open files are there (/proc/self resolves to this process)."""
    parts = path.split(os.sep)
    return len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and int(parts[2]) != os.getpid()


# The only variables the kernel keeps of the worker's environment (``clean_environment``): what
# Python, ipykernel, the numeric libraries and the sandbox need; never the instructor's secrets.
KEEP_ENV = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH",
            "PYTHONDONTWRITEBYTECODE", "JUPYTER_PATH", "IPYTHONDIR", "MPLCONFIGDIR", "MPLBACKEND",
            "COURSE_SANDBOX", "COURSE_CPU_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "OMP_WAIT_POLICY")
KEEP_PREFIXES = ("LC_", "JPY_")


def clean_environment(environ) -> dict:
    """The kernel's environment: the allow-listed variables of ``environ``, nothing else."""
    return {k: v for k, v in environ.items() if k in KEEP_ENV or k.startswith(KEEP_PREFIXES)}


class Policy:
    """Decides, for one audit event, whether to refuse it; returns the reason or None."""

    def __init__(self, cfg: dict):
        norm = lambda paths: [os.path.realpath(p) for p in paths]
        self.deny_read = norm(cfg.get("deny_read", []))
        self.allow = norm(cfg.get("allow", []))            # read and write, beats deny_read
        self.allow_read = norm(cfg.get("allow_read", []))  # read only, beats deny_read
        self.allow_write = self.allow + ["/dev/null"]

    def _path(self, value) -> str | None:
        if isinstance(value, int) or value is None:
            return None
        try:
            return os.path.realpath(os.fsdecode(value))
        except (TypeError, ValueError):
            return None

    def can_read(self, path: str) -> bool:
        if _other_process(path):
            return False
        denied = _under(path, self.deny_read)
        allowed = _under(path, self.allow + self.allow_read)
        return denied is None or (allowed is not None and len(allowed) > len(denied))

    def can_write(self, path: str) -> bool:
        return _under(path, self.allow_write) is not None

    def check(self, event: str, args: tuple) -> str | None:
        if event == "open":
            path = self._path(args[0])
            if path is None:
                return None
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
            if writing and not self.can_write(path):
                return f"writing {path}"
            if not self.can_read(path):
                return f"reading {path}"
        elif event in READ_EVENTS:
            path = self._path(args[0]) if args else None
            if path and path != ":memory:" and not self.can_read(path):
                return f"reading {path}"
        elif event in WRITE_EVENTS or event in MOVE_EVENTS or event in COPY_EVENTS:
            paths = [self._path(v) if isinstance(v, (str, bytes, os.PathLike)) else None for v in args[:2]]
            changed = paths[1:2] if event in COPY_EVENTS else paths if event in MOVE_EVENTS else paths[:1]
            for path in changed:
                if path and not self.can_write(path):
                    return f"changing {path}"
            if event in COPY_EVENTS and paths[0] and not self.can_read(paths[0]):
                return f"reading {paths[0]}"
        elif event in SPAWN_EVENTS:
            return "starting a process"
        elif event in SIGNAL_EVENTS:
            return "sending a signal"
        elif event in NETWORK_EVENTS:
            return "using the network"
        elif event == "ctypes.dlopen":
            path = self._path(args[0])
            if path is None or _under(path, self.allow_read) is None:
                return f"loading native code {args[0]!r}"
        return None


def install(cfg: dict) -> None:
    """Apply the limits and the audit hook described by cfg (see module docstring)."""
    for name, key in [("RLIMIT_AS", "memory_bytes"), ("RLIMIT_FSIZE", "file_bytes"),
                      ("RLIMIT_CPU", "cpu_seconds")]:
        if cfg.get(key):
            resource.setrlimit(getattr(resource, name), (int(cfg[key]), int(cfg[key])))
    policy = Policy(cfg)
    log_fd = os.open(cfg["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if cfg.get("log") else None
    busy = threading.local()

    def hook(event, args):
        if getattr(busy, "on", False):
            return
        busy.on = True
        try:
            reason = policy.check(event, args)
            if reason and log_fd is not None:
                where = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack(limit=8)[:-2]]
                entry = {"event": event, "refused": reason, "where": where}
                os.write(log_fd, (json.dumps(entry) + "\n").encode())
        finally:
            busy.on = False
        if reason:
            raise PermissionError(f"grading sandbox: {reason} is not allowed for a submission.")

    sys.addaudithook(hook)


class CappedStream:
    """Wraps a kernel output stream; after ``limit`` characters it drops the rest, once noted."""

    def __init__(self, stream, limit: int):
        self._stream, self._left, self._noted = stream, limit, False

    def write(self, text):
        if self._left <= 0:
            if not self._noted:
                self._noted = True
                self._stream.write("\n[output truncated by the grader]\n")
            return len(text)
        self._left -= len(text)
        return self._stream.write(text[: max(0, self._left + len(text))])

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main() -> None:
    if os.environ.get("COURSE_SANDBOX_CLEAN") != "1":
        # Start again with only the allow-listed environment: the grader's variables (a database
        # URL, a cloud token) would otherwise sit in os.environ and in /proc/self/environ.
        env = clean_environment(os.environ) | {"COURSE_SANDBOX_CLEAN": "1"}
        os.execve(sys.executable, [sys.executable, "-m", "course_lib.grading.sandbox", *sys.argv[1:]], env)
    cfg = json.loads(os.environ.get("COURSE_SANDBOX", "{}"))
    from ipykernel.kernelapp import IPKernelApp

    from course_lib.grading.procs import tie_to_parent

    tie_to_parent()  # the kernel dies with the worker that started it

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])  # trusted set-up: sockets, profile, history
    install(cfg)                  # before the first line of a submission runs
    limit = int(cfg.get("output_chars", 1_000_000))
    sys.stdout, sys.stderr = CappedStream(sys.stdout, limit), CappedStream(sys.stderr, limit)
    app.start()


if __name__ == "__main__":
    main()
