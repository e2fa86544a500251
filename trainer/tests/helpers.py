"""`python -m trainer …` in this process (saves the interpreter + torch start-up of a subprocess; the subprocess
path is covered by the SIGTERM, serve and multi-process tests and the activity's integration test)."""
import contextlib
import hashlib
import io
import json
import logging
import os
import signal

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(*args, check=True) -> Result:
    from trainer.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    logging.getLogger().addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
                if not isinstance(e.code, int):
                    print(e.code, file=err)
    finally:
        logging.getLogger().removeHandler(handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    p = Result(code, out.getvalue(), err.getvalue())
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr[-3000:]}")
    return p


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def losses(stdout: str) -> list[float]:
    return [e["loss"] for e in events(stdout) if e["event"] == "step"]


def sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
