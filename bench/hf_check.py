"""Cross-check of `groundlab export --format hf-gpt2` in PyTorch: load the exported folder with
Hugging Face transformers (GPT2LMHeadModel) and print the logits for the given token ids as JSON.
usage: python bench/hf_check.py EXPORTED_DIR '[[ids...], ...]'"""
import json, sys

import torch
from transformers import GPT2LMHeadModel

model = GPT2LMHeadModel.from_pretrained(sys.argv[1]).eval()
ids = torch.tensor(json.loads(sys.argv[2]))
with torch.no_grad():
    logits = model(ids).logits
print(json.dumps(logits.tolist()))
