"""PyTorch reference for the text entity-binding plateau (docs/binding.md, issue 20).

The same task shape as `--corpus-kind binding --knob variant=entities,minGroups=2,maxGroups=4,
queriesPerScene=4` and the same model and optimiser as the quick Transformer (pre-LN, d_model 128,
4 layers, 4 heads, learned positions, tied embeddings, AdamW lr 2e-3 with 100 warm-up steps and a
cosine decay to 0.1, weight decay 0.01, clip 1, 32 rows per step), written independently of the
TypeScript engine: if it stays at chance as long as groundlab does, the plateau belongs to the task,
not to the engine. Forms (the query and context words):

  end     ann loves pie . ... who loves pie ? ann      (groundlab's default)
  none    ann loves pie . ... who loves pie ann        (queryMark=none)
  induct  ann loves pie . ... ann loves pie            (the answer follows the cue's bigram)
  adj     ann pie . ... who pie ? ann                  (name and item adjacent)
  kv      pie ann . ... who pie ann                    (the name after its item: the classic
                                                        induction-head task, a control)
  scene   red square at 2 3 ; ... colour of square ? red, or shape of red ? square
          (the symbolic scenes, 8 colours and shapes, two query kinds)

Chance (the loss of saying a uniformly drawn name of the context, answers only) is
mean(ln 2, ln 3, ln 4) = 1.059. Prints the mean loss of every 100 steps.

  .venv-bench/bin/python bench/entity_plateau.py --form end --steps 3000
  .venv-bench/bin/python bench/entity_plateau.py --form end --queries 16 --batch 32 --lr 1e-3 --layers 2 --d 64

The defaults are the quick Transformer's; --batch, --queries, --lr, --d, --words and --max-groups
change one thing at a time (chance stays mean(ln 2, ..., ln max-groups)), as do --wd, --untied
and --attn-only. --pool N trains on a
fixed set of N rows in shuffled epochs, as groundlab does with its `sequences` knob, instead of a
fresh row every time.
"""
import argparse
import math
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('--form', choices=['end', 'none', 'induct', 'adj', 'kv', 'scene'], default='end')
ap.add_argument('--steps', type=int, default=3000)
ap.add_argument('--layers', type=int, default=4)
ap.add_argument('--seed', type=int, default=0)
ap.add_argument('--batch', type=int, default=32, help='rows per step')
ap.add_argument('--queries', type=int, default=4, help='queries (scored answers) per row')
ap.add_argument('--lr', type=float, default=2e-3)
ap.add_argument('--d', type=int, default=128, help='d_model')
ap.add_argument('--words', type=int, default=0, help='names and items each (default 12; 8 for scene)')
ap.add_argument('--max-groups', type=int, default=4)
ap.add_argument('--wd', type=float, default=0.01, help='weight decay of the matrices')
ap.add_argument('--untied', action='store_true', help='an unembedding of its own instead of the token embedding')
ap.add_argument('--attn-only', action='store_true', help='no MLPs (attention-only blocks)')
ap.add_argument('--pool', type=int, default=0, help='draw this many rows once and train on epochs of them (default 0: a fresh row every time)')
args = ap.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
rng = random.Random(args.seed)

SCENE = args.form == 'scene'
N_WORDS = args.words or (8 if SCENE else 12)
if args.max_groups < 2 or N_WORDS < args.max_groups:
    ap.error(f'--max-groups {args.max_groups}: expected 2..--words ({N_WORDS}): names and items are distinct within a row')
names = [f'n{i}' for i in range(N_WORDS)]
items = [f'i{i}' for i in range(N_WORDS)]
vocab = ['<pad>', '<bos>', '<eos>', 'loves', '.', 'who', '?', 'at', ';', 'of', 'shape', 'colour'] + names + items + list('0123')
ix = {w: i for i, w in enumerate(vocab)}
SEQ = max(48, 2 + args.max_groups * 6 + args.queries * 5)


def row():
    n = rng.randint(2, args.max_groups)
    ns, its = rng.sample(names, n), rng.sample(items, n)
    toks = ['<bos>']
    for a, b in zip(ns, its):
        if SCENE:
            toks += [a, b, 'at', str(rng.randrange(4)), str(rng.randrange(4)), ';']
        elif args.form == 'adj':
            toks += [a, b, '.']
        elif args.form == 'kv':
            toks += [b, a, '.']
        else:
            toks += [a, 'loves', b, '.']
    answers = []
    for _ in range(args.queries):
        t = rng.randrange(n)
        if SCENE and rng.random() < 0.5:
            q, a = ['shape', 'of', ns[t], '?'], its[t]
        elif SCENE:
            q, a = ['colour', 'of', its[t], '?'], ns[t]
        elif args.form == 'induct':
            q, a = [ns[t], 'loves'], its[t]
        elif args.form == 'adj':
            q, a = ['who', its[t], '?'], ns[t]
        elif args.form == 'kv':
            q, a = ['who', its[t]], ns[t]
        else:
            q, a = ['who', 'loves', its[t]] + (['?'] if args.form == 'end' else []), ns[t]
        toks += q
        answers.append(len(toks))
        toks.append(a)
    toks.append('<eos>')
    ids = [ix[w] for w in toks] + [0] * (SEQ + 1 - len(toks))
    mask = [0] * SEQ
    for p in answers:
        mask[p - 1] = 1
    return ids, mask


class Block(nn.Module):
    def __init__(self, d, heads, mlp=True):
        super().__init__()
        self.heads, self.mlp = heads, mlp
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, length, d = x.shape
        split = lambda t: t.view(b, length, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = (split(t) for t in self.qkv(self.ln1(x)).split(d, -1))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(a.transpose(1, 2).reshape(b, length, d))
        return x + self.down(F.gelu(self.up(self.ln2(x)))) if self.mlp else x


class Model(nn.Module):
    def __init__(self, vocab_size, d=128, layers=4, heads=4, tied=True, mlp=True):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(max(64, SEQ), d)
        self.unembed = None if tied else nn.Linear(d, vocab_size, bias=False)
        self.blocks = nn.ModuleList(Block(d, heads, mlp) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):
        h = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for blk in self.blocks:
            h = blk(h)
        return self.ln(h) @ (self.tok.weight if self.unembed is None else self.unembed.weight).T


model = Model(len(vocab), d=args.d, layers=args.layers, tied=not args.untied, mlp=not args.attn_only)
matrices = [p for p in model.parameters() if p.dim() > 1]
rest = [p for p in model.parameters() if p.dim() <= 1]
opt = torch.optim.AdamW([{'params': matrices, 'weight_decay': args.wd}, {'params': rest, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)


def lr_factor(step):
    if step < 100:
        return (step + 1) / 100
    p = (step - 100) / max(1, args.steps - 100)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))


sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
pool = [row() for _ in range(args.pool)]
order = []


def batch():
    """A batch of fresh rows, or of the pool's rows in shuffled epochs (as groundlab's training loop)."""
    if not pool:
        return [row() for _ in range(args.batch)]
    out = []
    while len(out) < args.batch:
        if not order:
            order.extend(rng.sample(range(len(pool)), len(pool)))
        out.append(pool[order.pop()])
    return out


t0, total = time.time(), 0.0
for step in range(args.steps):
    rows = batch()
    ids = torch.tensor([r[0] for r in rows])
    mask = torch.tensor([r[1] for r in rows], dtype=torch.float).reshape(-1)
    logits = model(ids[:, :-1])
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction='none')
    loss = (nll * mask).sum() / mask.sum()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    total += loss.item()
    if (step + 1) % 100 == 0:
        print(f'{args.form} step {step + 1} loss {total / 100:.4f} ({time.time() - t0:.0f} s)', flush=True)
        total = 0.0
