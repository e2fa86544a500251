"""mmedpo trainer: SFT and clinical-aware weighted DPO (MMedPO, Eq. 3) for LLaVA-family VLMs.

Entry point: ``python -m trainer {init-tiny,sft,dpo,generate,serve}``. Progress goes to stdout as
JSON lines; human logs go to stderr.
"""

EXIT_PREEMPTED = 75  # SIGTERM: a checkpoint was written, the run can be resumed
