"""The PyTorch peers for `npm run bench`: the same models as groundlab's (GPT-2-style Transformer;
Mamba-2 with the SSD in its quadratic form; multi-layer LSTM with a final LayerNorm), the same batch
and sequence length, AdamW and gradient clipping, timed on the CPU. Prints one JSON line.
Written for groundlab's benchmark; not part of the library."""
import json, math, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, dmlp):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, dmlp)
        self.out = nn.Linear(dmlp, d)

    def forward(self, x):  # [B, T, D]
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))  # [B, H, T, Dh]
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["d"])
        self.wpe = nn.Embedding(c["ctx"], c["d"])
        self.blocks = nn.ModuleList(Block(c["d"], c["heads"], c["dmlp"]) for _ in range(c["layers"]))
        self.lnf = nn.LayerNorm(c["d"])

    def forward(self, idx):  # [B, T] -> [B, T, V]
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        return self.lnf(x) @ self.wte.weight.T


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


class Mamba2Layer(nn.Module):
    """Mamba-2 mixer as groundlab computes it: in_proj -> causal depthwise conv + SiLU -> SSD in the
    quadratic form M = (C B^T) * exp(segment sums of dt A) * dt -> + D x -> gated RMS norm -> out_proj."""

    def __init__(self, d, d_state, head_dim, expand=2, conv=4):
        super().__init__()
        self.di = expand * d
        self.h = self.di // head_dim
        self.p = head_dim
        self.n = d_state
        self.conv_dim = self.di + 2 * d_state
        self.norm = RMSNorm(d)
        self.in_proj = nn.Linear(d, 2 * self.di + 2 * d_state + self.h, bias=False)
        self.conv = nn.Conv1d(self.conv_dim, self.conv_dim, conv, groups=self.conv_dim, padding=conv - 1)
        self.dt_bias = nn.Parameter(torch.zeros(self.h))
        self.A_log = nn.Parameter(torch.log(1 + 15 * torch.rand(self.h)))
        self.D = nn.Parameter(torch.ones(self.h))
        self.gnorm = RMSNorm(self.di)
        self.out_proj = nn.Linear(self.di, d, bias=False)

    def forward(self, x):  # [B, T, D]
        b, t, _ = x.shape
        z, xbc, dt = self.in_proj(self.norm(x)).split([self.di, self.conv_dim, self.h], dim=-1)
        xbc = F.silu(self.conv(xbc.transpose(1, 2))[..., :t].transpose(1, 2))
        xs, bm, cm = xbc.split([self.di, self.n, self.n], dim=-1)
        dt = F.softplus(dt + self.dt_bias)  # [B, T, H]
        a = -torch.exp(self.A_log)
        cum = torch.cumsum(dt * a, dim=1).transpose(1, 2)  # [B, H, T]
        seg = cum[..., :, None] - cum[..., None, :]  # [B, H, T, T]
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        decay = torch.exp(seg.masked_fill(~mask, -torch.inf))
        m = (cm @ bm.transpose(1, 2))[:, None] * decay * dt.transpose(1, 2)[:, :, None, :]  # [B, H, T, T]
        xh = xs.view(b, t, self.h, self.p)
        y = (m @ xh.transpose(1, 2)).transpose(1, 2) + xh * self.D[None, None, :, None]  # [B, T, H, P]
        y = self.gnorm(y.reshape(b, t, self.di) * F.silu(z))
        return x + self.out_proj(y)


class Mamba2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.emb = nn.Embedding(c["vocab"], c["d"])
        self.layers = nn.ModuleList(Mamba2Layer(c["d"], c["d_state"], c["head_dim"]) for _ in range(c["layers"]))
        self.normf = RMSNorm(c["d"])

    def forward(self, idx):
        x = self.emb(idx)
        for layer in self.layers:
            x = layer(x)
        return self.normf(x) @ self.emb.weight.T


class LSTM(nn.Module):
    """Embedding -> LSTM layers (one nn.LSTM each, residual optional) -> LayerNorm -> untied head."""

    def __init__(self, c):
        super().__init__()
        d = c["d"]
        self.emb = nn.Embedding(c["vocab"], d)
        self.layers = nn.ModuleList(nn.LSTM(d, d, batch_first=True) for _ in range(c["layers"]))
        self.residual = c.get("residual", False)
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, c["vocab"], bias=False)

    def forward(self, idx):
        x = self.emb(idx)
        for layer in self.layers:
            h, _ = layer(x)
            x = x + h if self.residual else h
        return self.head(self.lnf(x))


MODELS = {"transformer": GPT, "mamba2": Mamba2, "lstm": LSTM}


def main():
    cfg = json.loads(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(cfg["threads"])
    m = MODELS[cfg.get("arch", "transformer")](cfg)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
    x = torch.randint(0, cfg["vocab"], (cfg["batch"], cfg["seq"] + 1))

    def step():
        logits = m(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    for _ in range(cfg["warmup"]):
        step()
    times, cpu = [], []
    for _ in range(cfg["steps"]):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    times.sort()
    cpu.sort()
    med = times[len(times) // 2]
    print(json.dumps({"torch": torch.__version__, "arch": cfg.get("arch", "transformer"), "threads": cfg["threads"],
                      "params": sum(p.numel() for p in m.parameters()), "sec_per_step": med, "cpu_sec_per_step": cpu[len(cpu) // 2],
                      "tokens_per_sec": cfg["batch"] * cfg["seq"] / med}))


if __name__ == "__main__":
    main()
