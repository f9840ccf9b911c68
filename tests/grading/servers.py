"""Servers the grading tests start on this machine: a free port, a PostgreSQL server's databases."""
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server of the test session: ``database(name)`` creates a database, returns its URL."""

    def __init__(self, bindir: Path, sock: Path, port: int, as_user: list[str]):
        self.bindir, self.sock, self.port, self.as_user = bindir, sock, port, as_user

    def run(self, *cmd):
        proc = subprocess.run(self.as_user + list(cmd), capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"

    def database(self, name: str) -> str:
        self.run(str(self.bindir / "createdb"), "-h", str(self.sock), "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql+psycopg2://postgres@/{name}?host={self.sock}&port={self.port}"
