"""`python -m trainer.launch ARGS…` runs `accelerate launch ARGS…` in this process, tied to its parent.

The training activity starts multi-process runs (training.gpusPerRun > 1) this way: the launcher dies with the
worker that spawned it (PR_SET_PDEATHSIG, like the single-process trainer), and its training processes die
with the launcher (`trainer.__main__._die_with_parent`), so a killed worker leaves no orphan holding GPUs."""
import signal
import sys


def main() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    sys.stdout = sys.stderr  # the processes' JSON progress lines alone go to stdout (fd 1, inherited)
    from accelerate.commands.launch import main as accelerate_launch

    sys.argv = ["accelerate launch", *sys.argv[1:]]
    accelerate_launch()


if __name__ == "__main__":
    main()
