"""The grading sandbox's policy: what a submission may read, write and do, decided per audit event.

Policy is tested directly (fast, no kernel); ``install`` once in a fresh interpreter, since an
audit hook cannot be removed from the process that adds it."""
import json
import os
import subprocess
import sys

import pytest

from course_lib.grading.sandbox import CappedStream, Policy, clean_environment


@pytest.fixture
def tree(tmp_path):
    """course/ (denied) holding an allowed work folder and a readable library; an outside file."""
    course = tmp_path / "course"
    here, lib, secret = course / "work" / "student", course / "lib", course / "solutions" / "answers.py"
    for d in (here, lib, secret.parent):
        d.mkdir(parents=True)
    secret.write_text("ANSWER = 42\n")
    (lib / "helpers.py").write_text("")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("")
    policy = Policy({"deny_read": [str(course)], "allow": [str(here)], "allow_read": [str(lib)]})
    return {"policy": policy, "course": course, "here": here, "lib": lib, "secret": secret, "outside": outside}


def test_reads(tree):
    p = tree["policy"]
    assert p.check("open", (str(tree["secret"]), "r", os.O_RDONLY)) == f"reading {tree['secret']}"
    assert p.check("open", (str(tree["lib"] / "helpers.py"), "r", 0)) is None       # allow_read beats deny
    assert p.check("open", (str(tree["here"] / "notes.txt"), "r", 0)) is None       # allow beats deny
    assert p.check("open", (str(tree["outside"]), "r", 0)) is None                  # not denied at all
    assert p.check("os.listdir", (str(tree["course"]),)) == f"reading {tree['course']}"
    assert p.check("os.listdir", (str(tree["here"]),)) is None
    assert p.check("sqlite3.connect", (":memory:",)) is None


def test_other_processes_proc_entries_are_refused_and_its_own_are_not(tree):
    p, parent = tree["policy"], os.getppid()
    for path in (f"/proc/{parent}/environ", f"/proc/{parent}/cmdline", f"/proc/{parent}/task/{parent}/environ"):
        assert p.check("open", (path, "rb", 0)) == f"reading {path}"
    assert p.check("os.listdir", (f"/proc/{parent}/fd",)) == f"reading /proc/{parent}/fd"
    own = f"/proc/{os.getpid()}"
    for path in ("/proc/self/status", "/proc/self/environ", "/proc/cpuinfo", "/proc/meminfo"):
        assert p.check("open", (path, "r", 0)) is None, path
    assert p.check("open", (f"{own}/stat", "r", 0)) is None


def test_the_kernel_environment_keeps_only_the_allow_list():
    grader = {"PATH": "/usr/bin", "HOME": "/home/t", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1",
              "JPY_PARENT_PID": "7", "COURSE_SANDBOX": "{}", "NBGRADER_DB_URL": "postgresql://u:pw@h/db",
              "PGPASSWORD": "pw", "AWS_SECRET_ACCESS_KEY": "k", "GITHUB_TOKEN": "t", "PWD": "/course"}
    assert clean_environment(grader) == {"PATH": "/usr/bin", "HOME": "/home/t", "LC_ALL": "C.UTF-8",
                                         "OMP_NUM_THREADS": "1", "JPY_PARENT_PID": "7", "COURSE_SANDBOX": "{}"}


def test_paths_are_resolved_before_judging(tree):
    p = tree["policy"]
    sneaky = tree["here"] / ".." / ".." / "solutions" / "answers.py"
    assert p.check("open", (str(sneaky), "r", 0)) == f"reading {tree['secret']}"
    link = tree["here"] / "link.py"
    link.symlink_to(tree["secret"])
    assert p.check("open", (str(link), "r", 0)) == f"reading {tree['secret']}"
    prefix_twin = tree["course"].parent / (tree["course"].name + "2")  # /x/course2 is not under /x/course
    assert p.check("open", (str(prefix_twin / "f"), "r", 0)) is None


def test_writes_only_in_the_allowed_folders(tree):
    p = tree["policy"]
    assert p.check("open", (str(tree["here"] / "out.npy"), "wb", os.O_WRONLY | os.O_CREAT)) is None
    assert p.check("open", ("/dev/null", "w", os.O_WRONLY)) is None
    assert p.check("open", (str(tree["outside"]), "a", os.O_APPEND)) == f"writing {tree['outside']}"
    assert p.check("open", (str(tree["outside"]), None, os.O_RDWR)) == f"writing {tree['outside']}"
    assert p.check("open", (str(tree["lib"] / "helpers.py"), "r+", 0)) is not None  # read-only place
    assert p.check("os.remove", (str(tree["outside"]),)) == f"changing {tree['outside']}"
    assert p.check("os.remove", (str(tree["here"] / "out.npy"),)) is None


def test_moves_and_copies(tree):
    p, here, secret = tree["policy"], tree["here"], tree["secret"]
    assert p.check("os.rename", (str(here / "a"), str(here / "b"))) is None
    assert p.check("os.rename", (str(here / "a"), str(tree["outside"]))) == f"changing {tree['outside']}"
    assert p.check("os.rename", (str(secret), str(here / "b"))) == f"changing {secret}"  # the source changes too
    assert p.check("shutil.copyfile", (str(secret), str(here / "b"))) == f"reading {secret}"
    assert p.check("shutil.copyfile", (str(tree["outside"]), str(here / "b"))) is None


@pytest.mark.parametrize("event, args, reason", [
    ("subprocess.Popen", ("ls", ["ls"], None, None), "starting a process"),
    ("os.system", (b"ls",), "starting a process"),
    ("os.kill", (1, 9), "sending a signal"),
    ("socket.connect", (None, ("127.0.0.1", 80)), "using the network"),
    ("socket.getaddrinfo", ("example.org", 80, 0, 0, 0), "using the network"),
    ("ctypes.dlopen", ("/tmp/evil.so",), "loading native code '/tmp/evil.so'"),
    ("ctypes.dlopen", (None,), "loading native code None"),
])
def test_processes_signals_network_and_native_code_are_refused(tree, event, args, reason):
    assert tree["policy"].check(event, args) == reason


def test_ordinary_events_and_file_descriptors_pass(tree):
    p = tree["policy"]
    assert p.check("open", (3, "r", 0)) is None  # an already open descriptor
    assert p.check("import", ("numpy", None, None, None, None)) is None
    assert p.check("ctypes.dlopen", (str(tree["lib"] / "native.so"),)) is None


def test_capped_stream_cuts_once():
    class Sink:
        text = ""

        def write(self, s):
            Sink.text += s
            return len(s)

    stream = CappedStream(Sink(), limit=10)
    stream.write("0123456")
    stream.write("789abc")
    stream.write("more")
    assert Sink.text == "0123456789\n[output truncated by the grader]\n"


INSTALLED = r"""
import json, os, socket, subprocess, sys
from course_lib.grading.sandbox import install
cfg = json.loads(sys.argv[1])
install(cfg)
outcome = {}
def attempt(name, action):
    try:
        action()
        outcome[name] = "allowed"
    except PermissionError as err:
        outcome[name] = "refused" if "grading sandbox" in str(err) else f"other: {err}"
attempt("write here", lambda: open(os.path.join(cfg["allow"][0], "ok.txt"), "w").write("x"))
attempt("read secret", lambda: open(cfg["secret"]).read())
attempt("write outside", lambda: open(cfg["outside"], "w"))
attempt("spawn", lambda: subprocess.run(["true"]))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
print(json.dumps(outcome))
"""


def test_installed_hook_refuses_and_logs(tree, tmp_path):
    log = tmp_path / "refusals.jsonl"
    cfg = {"deny_read": [str(tree["course"])], "allow": [str(tree["here"])], "log": str(log),
           "allow_read": [sys.prefix, sys.base_prefix], "secret": str(tree["secret"]),
           "outside": str(tmp_path / "outside.txt"), "file_bytes": 2**20}
    proc = subprocess.run([sys.executable, "-c", INSTALLED, json.dumps(cfg)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome == {"write here": "allowed", "read secret": "refused", "write outside": "refused",
                       "spawn": "refused", "connect": "refused"}, outcome
    assert (tree["here"] / "ok.txt").read_text() == "x" and not (tmp_path / "outside.txt").exists()
    refused = [json.loads(line)["refused"] for line in log.read_text().splitlines()]
    assert f"reading {tree['secret']}" in refused and "starting a process" in refused
    assert "using the network" in refused
