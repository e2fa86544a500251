"""With all weights 1 our loss and gradients equal TRL's DPOTrainer sigmoid loss on the same model and
batch. We build a real DPOTrainer (PEFT model, reference = adapter disabled, as ours) and call its own
`compute_loss` on our padded [chosen; rejected] batch, so TRL's forward (its fused LM-head log-probs,
completion mask, reference pass and sigmoid loss) is compared with ours."""
import warnings

import torch

from trainer.data import load_preferences
from trainer.modeling import load_model
from trainer.train import Batcher, dpo_step_loss

LORA = {"r": 8, "alpha": 16, "dropout": 0.0}


def _model(tiny_dir):
    ld = load_model(tiny_dir, device="cpu", dtype="fp32", lora=LORA)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():  # non-zero LoRA B so the policy differs from the reference
        for n, p in ld.model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return ld


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_loss_and_grads_equal_trl(tiny_dir, demo, tmp_path):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    recs = load_preferences(demo["prefs"])[:4]
    for r in recs:
        r["weight"] = 1.0

    ours = _model(tiny_dir)
    ours.model.train()
    batcher = Batcher(ours, 1024, cache=False)
    batch = batcher.dpo(recs)  # our packed layout: D_t pairs share their prompt row
    assert batch[0].input_ids.shape[0] < 2 * len(recs)
    loss, _ = dpo_step_loss(ours, None, batch, beta=0.1)
    loss.backward()
    g_ours = _grads(ours.model)

    # TRL gets the bare model + the same LoraConfig (a pre-wrapped PEFT model would make TRL use a frozen copy
    # of the adapter as reference); then the same LoRA weights are copied in, so reference = adapter disabled.
    from peft import LoraConfig
    from trainer.modeling import language_linear_names

    theirs = load_model(tiny_dir, device="cpu", dtype="fp32")
    peft_cfg = LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=0.0, bias="none",
                          target_modules=language_linear_names(theirs.model))
    ds = Dataset.from_list([{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in recs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = DPOConfig(output_dir=str(tmp_path / "trl"), beta=0.1, loss_type=["sigmoid"], report_to=[],
                        use_cpu=True, bf16=False, per_device_train_batch_size=4, max_length=None)
        trl = DPOTrainer(model=theirs.model, args=cfg, train_dataset=ds, processing_class=theirs.tokenizer,
                         peft_config=peft_cfg)
    mine = dict(ours.model.named_parameters())
    with torch.no_grad():
        for n, p in trl.model.named_parameters():
            if p.requires_grad:
                p.copy_(mine[n])
    ids, am, cm, px = batcher.dpo_standard(recs)  # TRL's layout: [chosen; rejected] rows
    inputs = {"input_ids": ids, "attention_mask": am, "completion_mask": cm, "pixel_values": px}
    trl.model.train()
    trl_loss = trl.compute_loss(trl.model, inputs)
    trl_loss.backward()
    g_trl = _grads(trl.model)

    assert abs(float(loss) - float(trl_loss)) < 1e-5, (float(loss), float(trl_loss))
    assert abs(float(loss) - 0.6931) > 1e-3  # a non-trivial point (policy ≠ reference)
    assert g_ours.keys() == g_trl.keys() and len(g_ours) > 0
    diff = max(float((g_ours[k] - g_trl[k]).abs().max()) for k in g_ours)
    scale = max(float(g.abs().max()) for g in g_ours.values())
    print(f"TRL equivalence: loss ours={float(loss):.8f} trl={float(trl_loss):.8f} "
          f"|Δloss|={abs(float(loss) - float(trl_loss)):.2e} max|Δgrad|={diff:.2e} (max|grad|={scale:.2e})")
    assert scale > 1e-6
    assert diff < 1e-5
