"""PyTorch baseline for `pnpm bench transformer`: the same pre-LN Transformer block as
@attend/transformer's decoder-only layer (causal self-attention through
torch.nn.functional.scaled_dot_product_attention, GELU in its tanh approximation, d_ff inner size,
biases everywhere, LayerNorm eps 1e-5), and the same character GPT (token + learned position
embeddings, N blocks, final LayerNorm, untied linear head, mean cross-entropy, Adam) written the way
nanoGPT's model.py writes them (one fused q/k/v projection: the same function as separate ones).

--model block: forward + backward of one block on a fixed random input, loss = mean of its output
  (no optimiser step); tokens/s = batch * seq / median step time.
--model gpt: one full training step (forward, cross-entropy, backward, Adam) on random token windows.
Prints one JSON line. --device cuda times with torch.cuda.synchronize() around each step (fp32;
TF32 matmuls stay off, PyTorch's default).

Usage: python transformer_baseline.py --model block --batch 16 --seq 128 --d-model 128 --heads 4
       --d-ff 512 --steps 10 --warmup 3 --threads 2 --device cpu
"""
import argparse, json, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # [B, T, d] each
        q, k, v = (t.view(B, T, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))  # [B, nh, T, hs]
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)  # [B, nh, T, hs]
        return self.o(y.transpose(1, 2).contiguous().view(B, T, d))  # [B, T, d]


class Block(nn.Module):
    """x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))"""

    def __init__(self, d: int, heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = SelfAttention(d, heads, dropout)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(approximate='tanh'), nn.Linear(d_ff, d), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, context: int, layers: int, d: int, heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads, d_ff, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))  # [B, T, d]
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln_f(x))  # [B, T, V]
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--model', default='block', choices=['block', 'gpt'])
    for k, v in dict(batch=16, seq=128, d_model=128, heads=4, d_ff=0, layers=4, vocab=65, steps=10, warmup=3, threads=2).items():
        p.add_argument('--' + k.replace('_', '-'), type=int, default=v)
    p.add_argument('--dropout', type=float, default=0.0)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    a = p.parse_args()
    if a.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch.cuda.is_available() is False')
    if a.d_model % a.heads:
        raise SystemExit(f'--d-model {a.d_model} must be a multiple of --heads {a.heads}')
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    d_ff = a.d_ff or 4 * a.d_model
    sync = torch.cuda.synchronize if a.device == 'cuda' else (lambda: None)

    if a.model == 'block':
        model = Block(a.d_model, a.heads, d_ff, a.dropout).to(dev).train()
        x = torch.randn(a.batch, a.seq, a.d_model, device=dev)

        def step() -> None:
            model.zero_grad(set_to_none=True)
            model(x).mean().backward()
    else:
        model = GPT(a.vocab, a.seq, a.layers, a.d_model, a.heads, d_ff, a.dropout).to(dev).train()
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        idx = torch.randint(0, a.vocab, (a.batch, a.seq), device=dev)
        targets = torch.randint(0, a.vocab, (a.batch, a.seq), device=dev)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            model(idx, targets).backward()
            opt.step()

    for _ in range(a.warmup):
        step()
    sync()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    print(json.dumps(dict(
        impl='pytorch', torch=torch.__version__, model=a.model, device=a.device,
        device_name=torch.cuda.get_device_name() if a.device == 'cuda' else 'cpu',
        threads=a.threads if a.device == 'cpu' else None, tf32=torch.backends.cuda.matmul.allow_tf32,
        params=sum(p.numel() for p in model.parameters()), steps=a.steps,
        seconds=median, tokens_per_second=a.batch * a.seq / median)))


if __name__ == '__main__':
    main()
