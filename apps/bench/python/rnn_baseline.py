"""PyTorch baseline for `pnpm bench rnn`: the same char-RNN language model (embedding, one recurrent
layer, linear head, Adam) trained on random token windows; prints one JSON line with chars/s.
--device cuda runs it on the GPU (nn.LSTM/GRU/RNN use cuDNN there), timed with torch.cuda.synchronize().
Usage: python rnn_baseline.py --cell lstm --vocab 65 --embed 64 --hidden 256 --seq-len 100 --batch 32
       --steps 10 --warmup 3 --threads 2 --device cpu
"""
import argparse, json, time

import torch
import torch.nn as nn


def main() -> None:
    p = argparse.ArgumentParser()
    for k, v in dict(vocab=65, embed=64, hidden=256, seq_len=100, batch=32, steps=10, warmup=3, threads=2).items():
        p.add_argument('--' + k.replace('_', '-'), type=int, default=v)
    p.add_argument('--cell', default='lstm', choices=['rnn', 'lstm', 'gru'])
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    a = p.parse_args()
    if a.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch.cuda.is_available() is False')
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if a.device == 'cuda' else (lambda: None)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rnn = {'rnn': nn.RNN, 'lstm': nn.LSTM, 'gru': nn.GRU}[a.cell](a.embed, a.hidden, batch_first=True)
    model = nn.ModuleDict(dict(emb=nn.Embedding(a.vocab, a.embed), rnn=rnn, head=nn.Linear(a.hidden, a.vocab))).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x = torch.randint(0, a.vocab, (a.batch, a.seq_len), device=dev)
    y = torch.randint(0, a.vocab, (a.batch, a.seq_len), device=dev)

    def step() -> None:
        out, _ = model['rnn'](model['emb'](x))
        loss = nn.functional.cross_entropy(model['head'](out).reshape(-1, a.vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
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
    median = times[len(times) // 2]
    print(json.dumps(dict(impl='pytorch', torch=torch.__version__, threads=a.threads, cell=a.cell, device=a.device,
                          device_name=torch.cuda.get_device_name() if a.device == 'cuda' else 'cpu',
                          cudnn=a.device == 'cuda' and torch.backends.cudnn.is_available(),
                          seconds=median, chars_per_second=a.batch * a.seq_len / median)))


if __name__ == '__main__':
    main()
