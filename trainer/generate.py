"""Batched generation (`generate`) and a minimal OpenAI-compatible chat server (`serve`)."""
from __future__ import annotations

import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from . import emit
from .data import DataError, load_prompts
from .modeling import Loaded, load_image, load_model, prompt_text


@torch.no_grad()
def generate_batch(ld: Loaded, images, prompts: list[str], max_new_tokens: int, temperature: float = 0.0,
                   seed: int = 0) -> list[str]:
    """Answers to (image, prompt) pairs: the processor's chat template with the generation prompt, left padding,
    greedy (temperature 0) or sampled; stops at the model's end-of-turn tokens (its generation config)."""
    model = ld.model
    model.eval()
    tok = ld.tokenizer
    enc = ld.processor(text=[prompt_text(ld, p) for p in prompts], images=[[im] for im in images], padding=True,
                       padding_side="left", return_tensors="pt", add_special_tokens=False)
    enc = {k: (v.to(ld.device, ld.dtype) if v.is_floating_point() else v.to(ld.device)) for k, v in enc.items()}
    kw = {"do_sample": temperature > 0, "max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id}
    if temperature > 0:
        kw["temperature"] = temperature
        torch.manual_seed(seed)
    out = model.generate(**enc, **kw)
    L = enc["input_ids"].shape[1]
    return [tok.decode(o[L:], skip_special_tokens=True).strip() for o in out]


def generate_file(args) -> int:
    ld = load_model(args.model, device=args.device, dtype=args.dtype, adapters=args.adapter,
                    chat_template=args.chat_template)
    items = load_prompts(args.input, args.image_dir)
    with open(args.output, "w", encoding="utf8") as f:
        for k in range(0, len(items), args.batch_size):
            chunk = items[k:k + args.batch_size]
            texts = generate_batch(ld, [load_image(it["image"]) for it in chunk], [it["prompt"] for it in chunk],
                                   args.max_new_tokens, args.temperature, args.seed + k)
            for it, t in zip(chunk, texts):
                f.write(json.dumps({"id": it["id"], "prompt": it["prompt"], "answer": t}) + "\n")
            emit("progress", done=k + len(chunk), total=len(items))
    emit("done", output=args.output, count=len(items))
    return 0


def _decode_image(url: str):
    if not url.startswith("data:"):
        raise ValueError("images must be data URLs (data:image/...;base64,...)")
    try:
        return load_image(base64.b64decode(url.split(",", 1)[1]))  # the one decode rule (trainer/image_io.py)
    except (DataError, ValueError) as e:
        raise ValueError(f"image_url: {e}") from None


def parse_messages(messages: list[dict]):
    """Last user message → (prompt text, image). Text parts are joined; the first image part is used."""
    user = [m for m in messages if m.get("role") == "user"]
    if not user:
        raise ValueError("no user message")
    content = user[-1].get("content")
    texts, image = [], None
    if isinstance(content, str):
        texts.append(content)
    else:
        for part in content or []:
            if part.get("type") == "text":
                texts.append(part.get("text", ""))
            elif part.get("type") == "image_url" and image is None:
                iu = part.get("image_url")
                image = _decode_image(iu["url"] if isinstance(iu, dict) else iu)
    if image is None:
        for m in reversed(messages):  # an image earlier in the conversation
            c = m.get("content")
            if isinstance(c, list):
                for part in c:
                    if part.get("type") == "image_url":
                        iu = part.get("image_url")
                        image = _decode_image(iu["url"] if isinstance(iu, dict) else iu)
                        break
            if image is not None:
                break
    if image is None:
        raise ValueError("this model needs an image: pass one as an image_url data URL")
    return " ".join(t for t in texts if t).strip(), image


def serve(args) -> int:
    ld = load_model(args.model, device=args.device, dtype=args.dtype, adapters=args.adapter,
                    chat_template=args.chat_template)
    lock = threading.Lock()
    name = args.name

    class H(BaseHTTPRequestHandler):
        def _send(self, code: int, obj: dict):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *a):
            print("serve: " + fmt % a, file=sys.stderr)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                return self._send(200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "mmedpo"}]})
            if self.path == "/health":
                return self._send(200, {"ok": True})
            self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                prompt, image = parse_messages(req.get("messages", []))
                n = int(req.get("n", 1))
                temp = float(req.get("temperature", 0.0))
                mx = int(req.get("max_tokens") or req.get("max_completion_tokens") or args.max_new_tokens)
                seed = int(req.get("seed", 0))
            except (ValueError, KeyError, TypeError) as e:
                return self._send(400, {"error": {"message": str(e), "type": "invalid_request_error"}})
            with lock:
                texts = generate_batch(ld, [image] * n, [prompt] * n, mx, temp, seed)
            self._send(200, {
                "id": f"chatcmpl-{int(time.time() * 1000)}", "object": "chat.completion", "created": int(time.time()),
                "model": name,
                "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                            for i, t in enumerate(texts)],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            })

    srv = ThreadingHTTPServer((args.host, args.port), H)
    emit("listening", url=f"http://{args.host}:{srv.server_address[1]}/v1")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
