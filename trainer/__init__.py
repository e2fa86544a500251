"""mmedpo trainer: SFT and clinical-aware weighted DPO (MMedPO, Eq. 3) for HF image-text-to-text models.

Entry point: ``python -m trainer {init-tiny,demo-data,sft,dpo,generate,serve,log-metrics}``. Progress goes to
stdout as JSON lines (and nothing else does: library prints are sent to stderr); human logs go to stderr.
"""
import json
import sys

EXIT_PREEMPTED = 75  # SIGTERM: a checkpoint was written, the run can be resumed
EXIT_BAD_INPUT = 2   # bad data, flags or model: one line on stderr

# Where progress lines go: the process's stdout as it was when `main` started (main() then points sys.stdout
# at stderr, so that libraries printing to stdout, e.g. DeepSpeed's logger, cannot interleave with them).
events_stream = sys.stdout


def emit(event: str, **kw) -> None:
    events_stream.write(json.dumps({"event": event, **kw}) + "\n")
    events_stream.flush()
