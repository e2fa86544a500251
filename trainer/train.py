"""`sft` and weighted `dpo` on `transformers.Trainer`.

What is ours and small: the collators (x* and s′ travel with each pair, `batching.py`), `compute_loss` calling
the pure weighted loss (Eq. 3), the optional reference log-prob cache, TRL-style metrics, and a callback that
prints the JSON progress lines the training activity turns into heartbeats and checkpoint uploads. Everything
else is the Trainer's: data order and sharding, gradient accumulation, AdamW + cosine schedule, clipping,
mixed precision, DDP / FSDP / DeepSpeed through accelerate, checkpoints (safetensors weights, optimizer,
scheduler, RNG, trainer state; loaded with weights_only=True), rotation, resume, MLflow / TensorBoard.

Progress lines (stdout, one JSON object each, main process only):
  start {mode, family, pairs, totalSteps, trainableParams, device, dtype, batchSize, microBatchSize,
         gradientAccumulation, processes}
  resumed {step, checkpoint}       refCache {pairs, seconds}
  step {step, totalSteps, epoch, loss, lr, gradNorm, stepTime, tokensPerSec, [DPO: rewardMargin,
        rewardAccuracy, rewardChosen, rewardRejected, logpsChosen, logpsRejected, weightMean]}
  checkpoint {step, checkpoint}    preempted {step, checkpoint}    done {adapter, metrics, steps, finalLoss, checkpoint}
SIGTERM: every process finishes the current step, one checkpoint is written, exit 75."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import sys
import time

import torch

from . import EXIT_PREEMPTED, emit
from .batching import PreferenceCollator, SFTCollator
from .data import DataError, load_preferences, load_sft
from .modeling import load_model, sequence_logps, weighted_dpo_loss

log = logging.getLogger("trainer")

RUN_FILE = "mmedpo_run.json"      # in each checkpoint: what it must match to be resumed
REF_FILE = "ref_logps.safetensors"  # in each checkpoint of a --ref-cache run: [pairs, 2] reference log-probs


class Records(torch.utils.data.Dataset):
    """The set as (index, record) items: the index keys the reference cache."""

    def __init__(self, records: list[dict]):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        return i, self.records[i]


@functools.cache
def trainer_classes():
    """(MMedPOTrainer, Progress, MLflowRun). Defined late: transformers' Trainer pulls in accelerate and the
    tracking integrations, which `generate` / `serve` do not need."""
    from transformers import Trainer, TrainerCallback
    from transformers.integrations import MLflowCallback

    class MMedPOTrainer(Trainer):
        """`transformers.Trainer` whose loss is ours: SFT token-mean NLL over the answers, or MMedPO's weighted DPO.

        The loss of a micro-batch is normalized over the whole optimizer step (all micro-batches, all
        processes: pairs for DPO, answer tokens for SFT), so accumulation and data parallelism give the
        same step as one big batch (`loss_is_scaled_for_ga`)."""

        def __init__(self, *a, mode: str, beta: float, attn_impl: str, compute_dtype: torch.dtype, use_lora: bool,
                     mrope: bool = False, **kw):
            super().__init__(*a, **kw)
            self.mode, self.beta, self.attn_impl, self.compute_dtype = mode, beta, attn_impl, compute_dtype
            self.use_lora = use_lora
            self.mrope = mrope
            self.loss_is_scaled_for_ga = True
            self.ref_logps: torch.Tensor | None = None  # [pairs, 2] when cached
            self.want_ref_cache = False
            self.ref_cache_done = None  # callable(seconds) after the cache is built
            self.run_info: dict = {}
            self._stats = None

        # -- loss ------------------------------------------------------------------------------------
        def _get_num_items_in_batch(self, batch_samples, device):
            key = "weights" if self.mode == "dpo" else "tgt_ids"
            n = torch.tensor(sum(int(b[key].numel()) for b in batch_samples), device=device)
            if self.accelerator.num_processes > 1:
                n = self.accelerator.reduce(n, "sum")
            return n

        def _logps(self, model, inputs):
            return sequence_logps(model, inputs, self.attn_impl, self.compute_dtype, self.mrope)

        @torch.no_grad()
        def reference_logps(self, inputs) -> torch.Tensor:
            """log π_ref of every sequence [2n]: the cache, or the policy with its LoRA disabled (the base, or the
            base with the SFT adapter merged in). Full fine-tuning always uses the cache (built before step 1,
            when the policy is the reference): no second model copy."""
            if self.ref_logps is not None:
                c = self.ref_logps[inputs["pair_index"].cpu()].to(inputs["weights"].device)
                return torch.cat([c[:, 0], c[:, 1]])
            unwrapped = self.accelerator.unwrap_model(self.model)
            with unwrapped.disable_adapter():
                return self._logps(self.model, inputs)[0]

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            logps, counts = self._logps(model, inputs)
            if num_items_in_batch is None:  # not a training step (no accumulation bookkeeping)
                num_items_in_batch = inputs["weights"].numel() if self.mode == "dpo" else inputs["tgt_ids"].numel()
            norm = float(num_items_in_batch)
            if self.mode == "sft":
                loss_sum = -logps.sum()
                stats = torch.stack([inputs["tokens"].to(logps.dtype).detach(), torch.ones((), device=logps.device)])
            else:
                w = inputs["weights"]
                n = w.shape[0]
                ref = self.reference_logps(inputs)
                losses, cr, rr = weighted_dpo_loss(logps[:n], logps[n:], ref[:n], ref[n:], w, self.beta)
                loss_sum = losses.sum()
                d = lambda t: t.detach().sum()  # noqa: E731
                stats = torch.stack([inputs["tokens"].to(logps.dtype), d(cr), d(rr), d(cr - rr), d((cr > rr).float()),
                                     d(logps[:n]), d(logps[n:]), d(w), torch.tensor(float(n), device=w.device)])
            self._stats = stats if self._stats is None else self._stats + stats
            # DDP / FSDP / DeepSpeed average gradients over processes: × processes keeps the step a sum over all
            # its pairs divided by their number
            loss = loss_sum / norm * self.accelerator.num_processes
            return (loss, {"logps": logps}) if return_outputs else loss

        def log(self, logs: dict, start_time=None) -> None:
            if "loss" in logs and self._stats is not None:
                s = self._stats.detach().double()
                if self.accelerator.num_processes > 1:
                    s = self.accelerator.reduce(s, "sum")
                s = s.tolist()
                self._stats = None
                logs["tokens"] = s[0]
                if self.mode == "dpo":
                    n = max(s[8], 1.0)
                    logs.update({"rewards/chosen": s[1] / n, "rewards/rejected": s[2] / n, "rewards/margins": s[3] / n,
                                 "rewards/accuracies": s[4] / n, "logps/chosen": s[5] / n, "logps/rejected": s[6] / n,
                                 "weights/mean": s[7] / n})
            super().log(logs, start_time)

        # -- reference cache -------------------------------------------------------------------------------
        @torch.no_grad()
        def build_ref_cache(self) -> None:
            """Reference log-probs of every pair, once, with the prepared (possibly sharded) model before its
            first update. Each process takes every world-th pair; all run the same number of forwards (FSDP and
            ZeRO-3 gather weights inside forward); results are gathered in dataset order."""
            from accelerate.utils import gather_object

            t0 = time.perf_counter()
            model = self.model_wrapped
            was_training = model.training
            model.eval()
            N, P, rank = len(self.train_dataset), self.accelerator.num_processes, self.accelerator.process_index
            mine = list(range(rank, N, P))
            per = self.args.per_device_train_batch_size
            n_batches = math.ceil(math.ceil(N / P) / per)
            out: list[tuple[int, float, float]] = []
            for b in range(n_batches):
                idx = mine[b * per:(b + 1) * per] or mine[:1] or [0]  # every process runs every forward
                batch = self._prepare_inputs(self.data_collator([self.train_dataset[i] for i in idx]))
                if self.use_lora:
                    with self.accelerator.unwrap_model(self.model).disable_adapter():
                        lp = self._logps(model, batch)[0]
                else:
                    lp = self._logps(model, batch)[0]
                n = len(idx)
                if b * per < len(mine):
                    out += [(i, float(lp[k]), float(lp[n + k])) for k, i in enumerate(idx)]
            allv = gather_object(out) if P > 1 else out
            ref = torch.zeros((N, 2), dtype=torch.float32)
            for i, c, r in allv:
                ref[i, 0], ref[i, 1] = c, r
            self.ref_logps = ref
            if was_training:
                model.train()
            if self.ref_cache_done:
                self.ref_cache_done(time.perf_counter() - t0)

        def _prepare_for_training(self, max_steps, train_dataloader, resume_from_checkpoint):
            model, dl = super()._prepare_for_training(max_steps, train_dataloader, resume_from_checkpoint)
            if self.want_ref_cache and self.ref_logps is None:
                self.build_ref_cache()
            return model, dl

        def _save_checkpoint(self, model, trial):
            super()._save_checkpoint(model, trial)
            if self.args.should_save:
                from safetensors.torch import save_file

                d = os.path.join(self.args.output_dir, f"checkpoint-{self.state.global_step}")
                with open(os.path.join(d, RUN_FILE), "w") as f:
                    json.dump(self.run_info, f, indent=1, sort_keys=True)
                if self.ref_logps is not None:
                    save_file({"ref_logps": self.ref_logps.contiguous()}, os.path.join(d, REF_FILE))

    class Progress(TrainerCallback):
        """JSON progress lines (main process), `--pace-seconds`, and SIGTERM → checkpoint + stop (all processes
        agree on the step: the flag is reduced over processes at every step end)."""

        def __init__(self, trainer, pace: float):
            self.trainer, self.pace = trainer, pace
            self.sigterm = False
            self.preempted = False
            self.last_checkpoint: str | None = None
            self._t = None
            self._step_t0 = None
            signal.signal(signal.SIGTERM, self._on_sigterm)

        def _on_sigterm(self, *_):
            if not self.sigterm:
                print("trainer: SIGTERM received, checkpointing after this step", file=sys.stderr, flush=True)
            self.sigterm = True

        def on_train_begin(self, args, state, control, **kw):
            self._t = time.perf_counter()

        def on_step_begin(self, args, state, control, **kw):
            self._step_t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if self.pace > 0 and self._step_t0 is not None:
                time.sleep(max(0.0, self.pace - (time.perf_counter() - self._step_t0)))
            flag = self.sigterm
            acc = self.trainer.accelerator
            if acc.num_processes > 1:
                t = torch.tensor(int(flag), device=acc.device)
                torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
                flag = bool(t.item())
            if flag and state.global_step < state.max_steps:
                self.preempted = True
                control.should_save = True
                control.should_training_stop = True

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            now = time.perf_counter()
            dt = now - (self._t or now)
            self._t = now
            ev = {"step": state.global_step, "totalSteps": state.max_steps, "epoch": round(logs.get("epoch", 0.0), 4),
                  "loss": logs["loss"], "lr": logs.get("learning_rate"), "gradNorm": logs.get("grad_norm"),
                  "stepTime": round(dt, 4), "tokensPerSec": round(logs.get("tokens", 0.0) / dt, 1) if dt > 0 else None}
            if "rewards/margins" in logs:
                ev.update(rewardMargin=logs["rewards/margins"], rewardAccuracy=logs["rewards/accuracies"],
                          rewardChosen=logs["rewards/chosen"], rewardRejected=logs["rewards/rejected"],
                          logpsChosen=logs["logps/chosen"], logpsRejected=logs["logps/rejected"],
                          weightMean=logs["weights/mean"])
            emit("step", **ev)

        def on_save(self, args, state, control, **kw):
            self.last_checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            if state.is_world_process_zero:
                emit("checkpoint", step=state.global_step, checkpoint=self.last_checkpoint)

    class MLflowRun(MLflowCallback):
        """HF's MLflow callback attached to the run `tracking.attach_run` resolved (one run per campaign variant,
        found again by its key on a retry), logging our options as parameters rather than the TrainingArguments
        dump, whose per-attempt paths would conflict with the parameters of the attempt before."""

        def __init__(self, params: dict):
            super().__init__()
            self.params = params

        def setup(self, args, state, model):
            self._log_artifacts, self._nested_run = False, False
            self._async_log = True
            if state.is_world_process_zero:
                from .tracking import attach_run

                attach_run(self._ml_flow, self.params)
                self._auto_end_run = True
            self._initialized = True

    return MMedPOTrainer, Progress, MLflowRun


def _is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def set_determinism(seed: int, threads: int, cpu: bool) -> None:
    from transformers import set_seed

    set_seed(seed)
    if cpu:
        torch.set_num_threads(threads or 1)
        torch.use_deterministic_algorithms(True)
    elif threads:
        torch.set_num_threads(threads)


def run_fingerprint(records: list[dict], mode: str, opts: dict, world: int) -> str:
    """What a checkpoint must match to be resumed: the records (image paths by file name only: a retry stages
    the same images under another work dir) and the options that shape the run."""
    data = hashlib.sha256(json.dumps([{k: (os.path.basename(v) if k in ("image", "rejected_image") else v)
                                       for k, v in r.items()} for r in records], sort_keys=True).encode()).hexdigest()
    shape = {k: opts[k] for k in ("learningRate", "batchSize", "gradientAccumulation", "epochs", "maxSteps", "beta",
                                  "maxLength", "warmupRatio", "maxGradNorm", "weightDecay", "lora", "seed",
                                  "sharePrompt", "refCache")}
    return hashlib.sha256(json.dumps({"data": data, "mode": mode, "processes": world, **shape},
                                     sort_keys=True).encode()).hexdigest()[:16]


def train(args, opts: dict) -> int:
    """Run `args.mode` (sft | dpo) with the resolved options `opts` (options.resolve). Returns the exit code."""
    from transformers import TrainingArguments

    mode = args.mode
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    main = rank == 0
    device_opt = opts["device"]
    cpu = device_opt == "cpu" or (device_opt == "auto" and not torch.cuda.is_available())
    set_determinism(opts["seed"], args.threads, cpu)

    records = (load_preferences if mode == "dpo" else load_sft)(args.data, args.image_dir)
    if mode == "dpo" and not any(r["weight"] > 0 for r in records):
        raise DataError("every pair has weight 0: nothing to train")
    B, GA = opts["batchSize"], opts["gradientAccumulation"]
    if B % (GA * world):
        raise ValueError(f"batchSize {B} must be a multiple of gradientAccumulation {GA} × processes {world}")
    micro = B // (GA * world)
    # optimizer steps: accelerate gives every process ceil(N / (micro × world)) micro-batches an epoch
    steps_per_epoch = math.ceil(math.ceil(len(records) / (micro * world)) / GA)
    total = steps_per_epoch * opts["epochs"]
    if opts["maxSteps"] > 0:
        total = min(total, opts["maxSteps"])
    use_lora = opts["lora"]["enabled"]
    lora = {k: opts["lora"][k] for k in ("r", "alpha", "dropout")} if use_lora else None

    ld = load_model(args.model, device="cpu" if cpu else "auto", dtype=opts["dtype"], adapters=args.init_adapter,
                    lora=lora, chat_template=opts["chatTemplate"], place=False)
    model = ld.model
    if not use_lora:
        # full fine-tuning of the language model and projector; the vision encoder stays frozen (LLaVA recipe)
        for n, p in model.named_parameters():
            p.requires_grad_(not ld.family.is_vision_encoder(n))
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    cache = len(records) <= args.image_cache
    collator = (PreferenceCollator(ld, opts["maxLength"], cache, opts["sharePrompt"]) if mode == "dpo"
                else SFTCollator(ld, opts["maxLength"], cache))
    fingerprint = run_fingerprint(records, mode, opts, world)
    out = os.path.abspath(args.out)
    ckpt_root = os.path.abspath(args.checkpoint_dir or os.path.join(out, "checkpoints"))

    report = list(opts["reportTo"])
    if "tensorboard" in report:
        from .tracking import tensorboard_dir

        # HF's TensorBoard callback writes where this says (v5 has no TrainingArguments.logging_dir)
        os.environ["TENSORBOARD_LOGGING_DIR"] = tensorboard_dir(args.run_name or os.path.basename(out))
    bf16 = ld.dtype == torch.bfloat16 and not cpu
    targs = TrainingArguments(
        output_dir=ckpt_root, per_device_train_batch_size=micro, gradient_accumulation_steps=GA,
        learning_rate=opts["learningRate"], weight_decay=opts["weightDecay"], max_grad_norm=opts["maxGradNorm"],
        lr_scheduler_type="cosine", warmup_steps=math.ceil(opts["warmupRatio"] * total), max_steps=total,
        logging_steps=1, save_strategy="steps", save_steps=opts["checkpointEverySteps"],
        save_total_limit=opts["keepCheckpoints"], seed=opts["seed"], data_seed=opts["seed"], bf16=bf16,
        use_cpu=cpu, report_to=[r for r in report if r == "tensorboard"] or "none",
        run_name=args.run_name, remove_unused_columns=False, dataloader_num_workers=0,
        activation_checkpointing=opts["gradientCheckpointing"],
        activation_checkpointing_kwargs={"use_reentrant": False} if opts["gradientCheckpointing"] else None,
        ddp_backend="gloo" if cpu and world > 1 else None, ddp_find_unused_parameters=False, disable_tqdm=True,
        optim="adamw_torch", save_only_model=False)
    MMedPOTrainer, Progress, MLflowRun = trainer_classes()
    text_cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    trainer = MMedPOTrainer(model=model, args=targs, train_dataset=Records(records), data_collator=collator,
                            mode=mode, beta=opts["beta"], attn_impl=text_cfg._attn_implementation or "sdpa",
                            compute_dtype=ld.dtype, use_lora=use_lora, mrope=ld.family.mrope)
    trainer.run_info = {"fingerprint": fingerprint, "mode": mode, "totalSteps": total}
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # stdout carries our JSON lines only
    progress = Progress(trainer, opts["paceSeconds"])
    trainer.add_callback(progress)
    if "mlflow" in report:
        from .tracking import ensure_tracking_env, run_params

        ensure_tracking_env()  # before HF's callback imports mlflow and reads MLFLOW_TRACKING_URI
        trainer.add_callback(MLflowRun(run_params(args, opts, mode, ld.family.model_type, fingerprint)))

    resume = os.path.abspath(args.resume) if args.resume else None
    if resume:
        with open(os.path.join(resume, RUN_FILE)) as f:
            if json.load(f).get("fingerprint") != fingerprint:
                raise ValueError(f"checkpoint {args.resume} belongs to a different run (data/options differ)")
        if os.path.exists(os.path.join(resume, REF_FILE)):
            from safetensors.torch import load_file

            trainer.ref_logps = load_file(os.path.join(resume, REF_FILE))["ref_logps"]
    if mode == "dpo" and (opts["refCache"] or not use_lora) and trainer.ref_logps is None:
        trainer.want_ref_cache = True
        trainer.ref_cache_done = lambda s: main and emit("refCache", pairs=len(records), seconds=round(s, 3))
    if main:
        if resume:
            with open(os.path.join(resume, "trainer_state.json")) as f:
                step0 = json.load(f)["global_step"]
            log.info("resuming from %s at step %d", resume, step0)
            emit("resumed", step=step0, checkpoint=resume)
        emit("start", mode=mode, family=ld.family.model_type, pairs=len(records), totalSteps=total,
             trainableParams=n_trainable, device=str(trainer.args.device), dtype=str(ld.dtype).replace("torch.", ""),
             batchSize=B, microBatchSize=micro, gradientAccumulation=GA, processes=world)
    trainer.train(resume_from_checkpoint=resume)
    state = trainer.state
    last = progress.last_checkpoint or resume
    if progress.preempted:
        if main:
            emit("preempted", step=state.global_step, checkpoint=last)
        return EXIT_PREEMPTED

    # final outputs: the adapter (or the full model), the metrics
    adapter_dir = os.path.join(out, "adapter")
    full_state = trainer.accelerator.get_state_dict(trainer.model_wrapped)  # gathers ZeRO-3 / FSDP shards
    if main:
        os.makedirs(out, exist_ok=True)
        shutil.rmtree(adapter_dir, ignore_errors=True)
        unwrapped = trainer.accelerator.unwrap_model(trainer.model)
        unwrapped.save_pretrained(adapter_dir, state_dict=full_state, safe_serialization=True)
        if not use_lora:
            # a full fine-tune is a complete model: with its processor it is the base of later runs (e.g. the
            # preference variants on top of a fully tuned SFT model)
            ld.processor.save_pretrained(adapter_dir)
        steps = [h for h in state.log_history if "loss" in h]
        loss_curve = [h["loss"] for h in steps]
        metrics = {"mode": mode, "family": ld.family.model_type, "steps": state.global_step,
                   "finalLoss": loss_curve[-1] if loss_curve else None, "lossCurve": loss_curve,
                   # the optimizer step of each logged entry (logging_steps=1: 1, 2, …; a resumed run keeps its
                   # history), so the report's per-step charts have a true x axis
                   "stepCurve": [h.get("step") for h in steps],
                   # per step, as TRL logs them (the campaign report draws margins and accuracies): implicit rewards
                   # β·(log π − log π_ref) of chosen and rejected, their mean difference, and the share of pairs
                   # with chosen > rejected
                   **({"rewardMarginCurve": [h["rewards/margins"] for h in steps],
                       "rewardAccuracyCurve": [h["rewards/accuracies"] for h in steps],
                       "rewardChosenCurve": [h["rewards/chosen"] for h in steps],
                       "rewardRejectedCurve": [h["rewards/rejected"] for h in steps]} if mode == "dpo" else {}),
                   "fingerprint": fingerprint, "pairs": len(records), "trainableParams": n_trainable,
                   "processes": world, "options": opts}
        with open(os.path.join(out, "metrics.json"), "w") as f:
            json.dump(metrics, f, indent=1, sort_keys=True)
        emit("done", adapter=adapter_dir, metrics=os.path.join(out, "metrics.json"), steps=state.global_step,
             finalLoss=metrics["finalLoss"], checkpoint=last)
    trainer.accelerator.wait_for_everyone()
    return 0
