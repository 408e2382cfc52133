"""Reference fixtures for the engine: tiny random Llama models saved by Hugging Face transformers, with
their logits and greedy continuations for a few inputs. Run on any machine with torch + transformers:

    python engine/src/test/python/make_reference.py OUT_DIR

and copy OUT_DIR/* into engine/src/test/resources/reference/. The Java tests load the checkpoints through
LlamaModel and compare against these numbers."""
import json, os, sys
import torch, transformers
from transformers import LlamaConfig, LlamaForCausalLM

out = sys.argv[1]
print("torch", torch.__version__, "transformers", transformers.__version__)

INPUTS = [[1, 17, 42, 99, 3, 250, 7], [1] + [(i * 37 + 11) % 256 for i in range(15)],
          [1] + [(i * 101 + 5) % 256 for i in range(27)]]

def make(name, tied, dtype, theta, seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      rms_norm_eps=1e-5, rope_theta=theta, tie_word_embeddings=tied, initializer_range=0.15,
                      bos_token_id=1, eos_token_id=0)
    model = LlamaForCausalLM(cfg).eval()
    # non-trivial norm weights so that a wrong norm placement shows
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.copy_(1 + 0.3 * torch.randn_like(p))
    model = model.to(dtype)
    d = os.path.join(out, name)
    model.save_pretrained(d, safe_serialization=True)
    # the reference is the stored weights computed in float32; reload rather than model.float(), which
    # would keep the rotary inv_freq buffer rounded to bfloat16
    model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    ref = {"inputs": INPUTS, "logits": [], "greedy": [], "min_margin": []}
    with torch.no_grad():
        for ids in INPUTS:
            x = torch.tensor([ids])
            ref["logits"].append([[round(v, 6) for v in row] for row in model(x).logits[0].tolist()])
            g = model.generate(x, max_new_tokens=16, do_sample=False, eos_token_id=None, pad_token_id=0,
                               output_scores=True, return_dict_in_generate=True)
            ref["greedy"].append(g.sequences[0, len(ids):].tolist())
            margins = [float((s[0].topk(2).values[0] - s[0].topk(2).values[1])) for s in g.scores]
            ref["min_margin"].append(min(margins))
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f)
    print(name, os.listdir(d), "min margins", ref["min_margin"],
          "logit std", float(torch.tensor(ref["logits"][0]).std()))

make("llama-f32-untied", False, torch.float32, 10000.0, 1)
make("llama-bf16-tied", True, torch.bfloat16, 500000.0, 2)
