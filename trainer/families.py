"""The model families the trainer supports, keyed by the HF config's `model_type`.

Each family says where its language model sits (LoRA goes on its linear layers only), which modules form
the vision encoder (never LoRA'd, frozen in a full fine-tune) and whether the shared-prompt layout (two
answers continuing one prompt in one row, see `batching.py`) fits its attention. `tiny_*` build the CPU-sized
random-initialised model of `python -m trainer init-tiny --family F` from the family's own `transformers`
config classes, with a processor and a chat template in the family's conversation format.

Sources: the transformers 5 modelling code of each family (module names), the families' published chat
formats (LLaVA-1.5 vicuna_v1, LLaVA-NeXT/LLaVA-Med v1.5 [INST], Qwen2-VL ChatML, Gemma 3 turns, Idefics3
User:/Assistant:)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable


class UnsupportedModel(ValueError):
    """A model directory whose `model_type` is not one of FAMILIES."""


# Linear layers of a decoder block (Llama, Mistral, Qwen2, Gemma 3 share these names).
_BLOCK_LINEARS = r"(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))"


@dataclass(frozen=True)
class Family:
    model_type: str
    # module path of the language model's decoder layers inside `XForConditionalGeneration`
    lm_layers: str
    # module name prefixes of the vision encoder (frozen in full fine-tuning, never LoRA targets);
    # the projector / merger / connector is not among them: it is trained in full fine-tuning (LLaVA recipe)
    vision_encoder: tuple[str, ...]
    # two answers may continue one prompt in one row (causal decoder, image features scattered into placeholder
    # tokens, no attention rule of its own between image tokens); False: the [chosen; rejected] layout only
    shared_prompt: bool
    tiny: Callable[..., tuple] = field(repr=False, compare=False, default=None)
    # positions are 3-D multimodal RoPE (Qwen2-VL): the model's get_rope_index gives them (batching.py)
    mrope: bool = False

    @property
    def lora_target_regex(self) -> str:
        """PEFT `target_modules` (full-match regex): every linear layer of the language model's blocks."""
        return rf"{re.escape(self.lm_layers)}\.\d+\.{_BLOCK_LINEARS}"

    def is_vision_encoder(self, param_name: str) -> bool:
        n = param_name.replace("base_model.model.", "", 1)
        return any(n.startswith(p + ".") for p in self.vision_encoder)


FAMILIES: dict[str, Family] = {}


def family_of(model_type: str) -> Family:
    f = FAMILIES.get(model_type)
    if f is None:
        raise UnsupportedModel(f"model type '{model_type}' is not supported; supported: {', '.join(FAMILIES)}")
    return f


# ---- tiny models -------------------------------------------------------------------------------------------
# Each builder returns (config, processor, generation eos ids). Sizes: vision 32-wide, LM 64-wide, 2 layers,
# a ~300-word vocabulary; images 32×32 → 16 (or fewer) image tokens. The built-in model (tiny_llava) reads
# 64×64 in 16-px patches through a 256-wide tower: still 16 image tokens.

SYSTEM_VICUNA = ("A chat between a curious human and an artificial intelligence assistant. The assistant gives "
                 "helpful, detailed, and polite answers to the human's questions.")

# Templates are written with expression blocks only where whitespace matters: HF renders chat templates with
# trim_blocks/lstrip_blocks, which would eat newlines written as text next to a tag.
_TEXT = "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}"


def _images(marker: str) -> str:
    return "{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '" + marker + "' }}{% endif %}{% endfor %}"


def _parts(image_marker: str) -> str:
    """Text and image parts in their order."""
    return ("{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '" + image_marker + "' }}"
            "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}")


CHAT_TEMPLATES = {
    # LLaVA-1.5 / LLaVA-Med v1.0 (vicuna_v1): "<s>SYSTEM USER: <image>\nQ ASSISTANT: A</s>"
    "vicuna_v1": (
        "{{ bos_token }}{{ '" + SYSTEM_VICUNA.replace("'", "\\'") + "' }}"
        "{% for m in messages %}{% if m['role'] == 'user' %}{{ ' USER: ' }}" + _images("<image>\\n") + _TEXT +
        "{% elif m['role'] == 'assistant' %}{{ ' ASSISTANT: ' }}" + _TEXT + "{{ eos_token }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}"),
    # LLaVA-NeXT (Mistral) / LLaVA-Med v1.5 (mistral_instruct): "<s>[INST] <image>\nQ [/INST] A</s>"
    "mistral_instruct": (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '[INST] ' }}" + _images("<image>\\n") +
        _TEXT + "{{ ' [/INST]' }}{% elif m['role'] == 'assistant' %}{{ ' ' }}" + _TEXT + "{{ eos_token }}"
        "{% endif %}{% endfor %}"),
    # Qwen2-VL / Qwen2.5-VL (ChatML with vision markers)
    "qwen2_vl": (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
        "{% endif %}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' }}"
        + _parts("<|vision_start|><|image_pad|><|vision_end|>") + "{{ '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"),
    # Gemma 3: "<bos><start_of_turn>user\n<start_of_image>Q<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n"
    "gemma3": (
        "{{ bos_token }}{% for m in messages %}"
        "{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' }}"
        + _parts("<start_of_image>") + "{{ '<end_of_turn>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"),
    # Idefics3 / SmolVLM: "<|begin_of_text|>User:<image>Q<end_of_utterance>\nAssistant: A<end_of_utterance>\n"
    "idefics3": (
        "{{ '<|begin_of_text|>' }}{% for m in messages %}{{ m['role'] | capitalize }}{{ ':' }}"
        "{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '<image>' }}"
        "{% elif c['type'] == 'text' %}{{ ' ' + c['text'] }}{% endif %}{% endfor %}"
        "{{ '<end_of_utterance>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"),
}


def _tokenizer(corpus: str, specials: list[str], named: dict[str, str], bos: str, eos: str, pad: str):
    from .tiny import build_tokenizer

    return build_tokenizer(corpus, specials=specials, named=named, bos=bos, eos=eos, pad=pad)


def _llama(vocab: int, hidden: int, layers: int, pad: int, bos: int, eos: int, **kw):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                       num_attention_heads=max(2, hidden // 16), num_key_value_heads=max(2, hidden // 16),
                       max_position_embeddings=2048, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad,
                       tie_word_embeddings=False, **kw)


def _clip(image_size: int, patch: int, width: int = 32):
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(hidden_size=width, intermediate_size=width * 2, num_hidden_layers=2, num_attention_heads=2,
                            image_size=image_size, patch_size=patch, projection_dim=width)


def _clip_image_processor(image_size: int):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    return CLIPImageProcessorPil(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})


def tiny_llava(corpus: str, image_size: int = 64, patch: int = 16, hidden: int = 64, layers: int = 2,
               tower_width: int = 256):
    from transformers import LlavaConfig, LlavaProcessor

    tok = _tokenizer(corpus, ["<image>"], {"image_token": "<image>"}, "<s>", "</s>", "<pad>")
    image_id = tok.convert_tokens_to_ids("<image>")
    # The language model, the projector and the LM head start at std 1/√hidden (0.125 at 64 wide), not Llama's
    # 0.02 (sized for 4096-wide models): at 0.02 a 64-wide model's image tokens add ~1e-3 of the answer position's
    # residual, the presence answer depends on the image only through its interaction with the question (an
    # abnormal study has one "yes" and one "no" presence question), and SFT settles on the question prior and
    # never leaves it (README: The grounding testbed, measured).
    # The built-in model sees 64 px in 16 patches of 16 px through a 256-wide tower: at 32 px the phantom set's
    # masses, nodules and consolidations are 1-12 pixels and a 32-wide tower keeps too little of a patch; at
    # 64 px in 16-px patches the sequence stays as short as 32 px in 8-px ones (16 image tokens), and a
    # 256-wide patch embedding keeps a grey 16x16 patch whole (README: The grounding testbed, measured).
    cfg = LlavaConfig(vision_config=_clip(image_size, patch, tower_width),
                      text_config=_llama(len(tok), hidden, layers, tok.pad_token_id, tok.bos_token_id, tok.eos_token_id,
                                         initializer_range=hidden ** -0.5),
                      image_token_index=image_id, image_seq_length=(image_size // patch) ** 2,
                      vision_feature_select_strategy="default", vision_feature_layer=-2, pad_token_id=tok.pad_token_id)
    proc = LlavaProcessor(image_processor=_clip_image_processor(image_size), tokenizer=tok, patch_size=patch,
                          vision_feature_select_strategy="default", num_additional_image_tokens=1,
                          chat_template=CHAT_TEMPLATES["vicuna_v1"])
    return cfg, proc, [tok.eos_token_id]


def tiny_llava_next(corpus: str, image_size: int = 32, patch: int = 8, hidden: int = 64, layers: int = 2):
    from transformers import LlavaNextConfig, LlavaNextProcessor, MistralConfig
    from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

    tok = _tokenizer(corpus, ["<image>"], {"image_token": "<image>"}, "<s>", "</s>", "<pad>")
    s = image_size
    pinpoints = [[s, s], [s, 2 * s], [2 * s, s], [2 * s, 2 * s]]
    text = MistralConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                         num_attention_heads=max(2, hidden // 16), num_key_value_heads=max(2, hidden // 32),
                         max_position_embeddings=2048, sliding_window=None, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    cfg = LlavaNextConfig(vision_config=_clip(image_size, patch), text_config=text,
                          image_token_index=tok.convert_tokens_to_ids("<image>"), image_grid_pinpoints=pinpoints,
                          image_seq_length=(image_size // patch) ** 2, vision_feature_select_strategy="default",
                          vision_feature_layer=-2, pad_token_id=tok.pad_token_id)
    ip = LlavaNextImageProcessorPil(size={"shortest_edge": s}, crop_size={"height": s, "width": s},
                                    image_grid_pinpoints=pinpoints)
    proc = LlavaNextProcessor(image_processor=ip, tokenizer=tok, patch_size=patch, vision_feature_select_strategy="default",
                              num_additional_image_tokens=1, chat_template=CHAT_TEMPLATES["mistral_instruct"])
    return cfg, proc, [tok.eos_token_id]


QWEN_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def _tiny_qwen(corpus: str, v25: bool, image_size: int = 32, patch: int = 4, hidden: int = 64, layers: int = 2):
    tok = _tokenizer(corpus, QWEN_SPECIALS, {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
                     "<|endoftext|>", "<|im_end|>", "<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    heads = max(2, hidden // 16)
    half = hidden // heads // 2
    rope = {"rope_type": "default", "rope_theta": 10000.0,
            "mrope_section": [half - 2 * (half // 3), half // 3, half // 3]}
    text = dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                num_attention_heads=heads, num_key_value_heads=heads // 2, max_position_embeddings=2048,
                rope_parameters=rope, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    common = dict(text_config=text, image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                  vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                  tie_word_embeddings=False)
    if v25:
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLProcessor

        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=hidden,
                      patch_size=patch, spatial_merge_size=2, temporal_patch_size=2, window_size=patch * 4,
                      fullatt_block_indexes=[1])
        cfg, P = Qwen2_5_VLConfig(vision_config=vision, **common), Qwen2_5_VLProcessor
    else:
        from transformers import Qwen2VLConfig, Qwen2VLProcessor

        vision = dict(depth=2, embed_dim=32, hidden_size=hidden, mlp_ratio=2, num_heads=2, patch_size=patch,
                      spatial_merge_size=2, temporal_patch_size=2)
        cfg, P = Qwen2VLConfig(vision_config=vision, **common), Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    f = patch * 2
    ip = Qwen2VLImageProcessorPil(size={"shortest_edge": f * f, "longest_edge": image_size * image_size},
                                  patch_size=patch, temporal_patch_size=2, merge_size=2)
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    vp = Qwen2VLVideoProcessor(size={"shortest_edge": f * f, "longest_edge": image_size * image_size},
                               patch_size=patch, temporal_patch_size=2, merge_size=2)
    proc = P(image_processor=ip, tokenizer=tok, video_processor=vp, chat_template=CHAT_TEMPLATES["qwen2_vl"])
    return cfg, proc, [tok.eos_token_id]


def tiny_qwen2_vl(corpus: str, image_size: int = 32, **kw):
    return _tiny_qwen(corpus, False, image_size=image_size, **kw)


def tiny_qwen2_5_vl(corpus: str, image_size: int = 32, **kw):
    return _tiny_qwen(corpus, True, image_size=image_size, **kw)


GEMMA_SPECIALS = ["<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"]


def tiny_gemma3(corpus: str, image_size: int = 32, patch: int = 8, hidden: int = 64, layers: int = 2):
    from transformers import Gemma3Config, Gemma3Processor, Gemma3TextConfig, SiglipVisionConfig
    from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

    tok = _tokenizer(corpus, GEMMA_SPECIALS, {"image_token": "<image_soft_token>", "boi_token": "<start_of_image>",
                                              "eoi_token": "<end_of_image>"}, "<bos>", "<eos>", "<pad>")
    tokens_per_image = 4
    text = Gemma3TextConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                            num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2, head_dim=hidden // 4,
                            query_pre_attn_scalar=hidden // 4, sliding_window=512, max_position_embeddings=2048,
                            layer_types=["sliding_attention"] * (layers - 1) + ["full_attention"],
                            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    vision = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                image_size=image_size, patch_size=patch, vision_use_head=False)
    cfg = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=tokens_per_image,
                       boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
                       eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
                       image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"))
    ip = Gemma3ImageProcessorPil(size={"height": image_size, "width": image_size})
    proc = Gemma3Processor(image_processor=ip, tokenizer=tok, image_seq_length=tokens_per_image,
                           chat_template=CHAT_TEMPLATES["gemma3"])
    return cfg, proc, [tok.eos_token_id, tok.convert_tokens_to_ids("<end_of_turn>")]


IDEFICS_SPECIALS = ["<|begin_of_text|>", "<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"]


def tiny_idefics3(corpus: str, image_size: int = 32, patch: int = 8, hidden: int = 64, layers: int = 2):
    from transformers import Idefics3Config, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tok = _tokenizer(corpus, IDEFICS_SPECIALS, {"image_token": "<image>"}, "<|begin_of_text|>", "<end_of_utterance>",
                     "<pad>")
    scale = 2
    cfg = Idefics3Config(vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=2, image_size=image_size, patch_size=patch),
                         text_config=_llama(len(tok), hidden, layers, tok.pad_token_id, tok.bos_token_id,
                                            tok.eos_token_id).to_dict(),
                         image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=scale,
                         tie_word_embeddings=False)
    ip = Idefics3ImageProcessorPil(size={"longest_edge": image_size}, max_image_size={"longest_edge": image_size},
                                   do_image_splitting=False)
    proc = Idefics3Processor(image_processor=ip, tokenizer=tok,
                             image_seq_len=(image_size // patch) ** 2 // (scale * scale),
                             chat_template=CHAT_TEMPLATES["idefics3"])
    return cfg, proc, [tok.eos_token_id]


def _register(f: Family) -> None:
    FAMILIES[f.model_type] = f


_register(Family("llava", "model.language_model.layers", ("model.vision_tower",), True, tiny_llava))
_register(Family("llava_next", "model.language_model.layers", ("model.vision_tower",), True, tiny_llava_next))
_register(Family("qwen2_vl", "model.language_model.layers",
                 ("model.visual.patch_embed", "model.visual.blocks", "model.visual.rotary_pos_emb"), True, tiny_qwen2_vl,
                 mrope=True))
_register(Family("qwen2_5_vl", "model.language_model.layers",
                 ("model.visual.patch_embed", "model.visual.blocks", "model.visual.rotary_pos_emb"), True,
                 tiny_qwen2_5_vl, mrope=True))
_register(Family("gemma3", "model.language_model.layers", ("model.vision_tower",), False, tiny_gemma3))
_register(Family("idefics3", "model.text_model.layers", ("model.vision_model",), True, tiny_idefics3))
