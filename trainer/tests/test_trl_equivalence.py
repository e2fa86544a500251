"""With all weights 1, our loss and gradients equal TRL 1.16's DPOTrainer (sigmoid loss) on the same model and
pairs, for every supported family. TRL builds its batch with its own vision collator from a conversational
dataset (its tokenization, image processing and [chosen; rejected] layout) and runs its own `compute_loss`
(fused LM-head log-probs, reference = adapter disabled); ours runs our collator (shared-prompt rows where the
family allows them) and `MMedPOTrainer.compute_loss`. D_t pairs only: TRL's collator gives the rejected answer
the prompt's image, it has no x* (nor a weight column)."""
import warnings

import pytest
import torch

from conftest import FAMILIES

LORA = {"r": 8, "alpha": 16, "dropout": 0.0}


def _randomize_lora(model, seed=11):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # non-zero LoRA B so the policy differs from the reference
        for n, p in model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def _grads(model):
    return {n.replace(".default", ""): p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _our_trainer(ld, records, tmp_path, share_prompt=True):
    from transformers import TrainingArguments

    from trainer.batching import PreferenceCollator
    from trainer.train import Records, trainer_classes

    MMedPOTrainer = trainer_classes()[0]
    args = TrainingArguments(output_dir=str(tmp_path / "ours"), use_cpu=True, report_to="none",
                             remove_unused_columns=False, per_device_train_batch_size=len(records))
    return MMedPOTrainer(model=ld.model, args=args, train_dataset=Records(records),
                         data_collator=PreferenceCollator(ld, 1024, cache=False, share_prompt=share_prompt),
                         mode="dpo", beta=0.1, attn_impl="sdpa", compute_dtype=torch.float32, use_lora=True,
                         mrope=ld.family.mrope)


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_and_grads_equal_trl(family, tiny_models, demo, tmp_path):
    from datasets import Dataset
    from PIL import Image
    from trl import DPOConfig, DPOTrainer

    from trainer.data import load_preferences
    from trainer.modeling import load_model, lora_config

    model_dir = tiny_models(family)
    recs = [r for r in load_preferences(demo["prefs"]) if r["image"] == r["rejected_image"]][:2]
    recs[0]["chosen"] = "There is a small left pleural effusion."  # answers of different lengths
    for r in recs:
        r["weight"] = 1.0

    ours = load_model(model_dir, device="cpu", dtype="fp32", lora=LORA)
    _randomize_lora(ours.model)
    trainer = _our_trainer(ours, recs, tmp_path)
    batch = trainer.data_collator([(i, r) for i, r in enumerate(recs)])
    if ours.family.shared_prompt:
        assert batch["input_ids"].shape[0] == len(recs)  # one row per D_t pair: the prompt is shared
    ours.model.train()
    loss = trainer.compute_loss(ours.model, batch)
    loss.backward()
    g_ours = _grads(ours.model)

    theirs = load_model(model_dir, device="cpu", dtype="fp32")
    ds = Dataset.from_list([{"images": [Image.open(r["image"]).convert("RGB")],
                             "prompt": [{"role": "user", "content": r["prompt"]}],
                             "chosen": [{"role": "assistant", "content": r["chosen"]}],
                             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in recs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = DPOConfig(output_dir=str(tmp_path / "trl"), beta=0.1, loss_type=["sigmoid"], report_to=[], use_cpu=True,
                        bf16=False, per_device_train_batch_size=len(recs), max_length=None)
        trl = DPOTrainer(model=theirs.model, args=cfg, train_dataset=ds, processing_class=theirs.processor,
                         peft_config=lora_config(theirs.family, LORA["r"], LORA["alpha"], 0.0))
    mine = {n.replace(".default", ""): p for n, p in ours.model.named_parameters()}
    with torch.no_grad():
        for n, p in trl.model.named_parameters():
            if p.requires_grad:
                p.copy_(mine[n.replace(".default", "")])
    trl_batch = trl.data_collator([trl.train_dataset[i] for i in range(len(recs))])
    trl.model.train()
    trl_loss = trl.compute_loss(trl.model, trl_batch)
    trl_loss.backward()
    g_trl = _grads(trl.model)

    assert abs(float(loss) - float(trl_loss)) < 1e-5, (family, float(loss), float(trl_loss))
    assert abs(float(loss) - 0.6931) > 1e-3  # a non-trivial point (policy ≠ reference)
    assert g_ours.keys() == g_trl.keys() and len(g_ours) > 0
    diff = max(float((g_ours[k] - g_trl[k]).abs().max()) for k in g_ours)
    scale = max(float(g.abs().max()) for g in g_ours.values())
    print(f"TRL parity {family}: loss ours={float(loss):.8f} trl={float(trl_loss):.8f} "
          f"|Δloss|={abs(float(loss) - float(trl_loss)):.2e} max|Δgrad|={diff:.2e} (max|grad|={scale:.2e})")
    assert scale > 1e-6 and diff < 1e-5 * max(1.0, scale)
