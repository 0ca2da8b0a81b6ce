"""blocks.py - the model the harness profiles and trains (imports torch).

A GPT-style stack: token + position embedding, `layers` pre-LN transformer
blocks (causal scaled_dot_product_attention, which runs flash attention on
Hopper in bf16; a GELU MLP), final LayerNorm + LM head, cross-entropy in fp32.
profile.py times these modules one at a time; measure.py cuts the same stack
into pipeline stages, so both see the same kernels."""
import torch
import torch.nn as nn
import torch.nn.functional as F

TORCH_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': torch.float32}


class Embed(nn.Module):
    def __init__(self, shape, device, dtype):
        super().__init__()
        self.tok = nn.Embedding(shape.vocab, shape.hidden, device=device, dtype=dtype)
        self.pos = nn.Embedding(shape.seq, shape.hidden, device=device, dtype=dtype)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        return self.tok(ids) + self.pos(pos)


class Block(nn.Module):
    """x + proj(attn(ln1(x))), then + fc2(gelu(fc1(ln2(x))))."""

    def __init__(self, shape, device, dtype):
        super().__init__()
        h, f = shape.hidden, shape.ffn
        self.heads = shape.heads
        kw = dict(device=device, dtype=dtype)
        self.ln1 = nn.LayerNorm(h, **kw)
        self.qkv = nn.Linear(h, 3 * h, **kw)
        self.proj = nn.Linear(h, h, **kw)
        self.ln2 = nn.LayerNorm(h, **kw)
        self.fc1 = nn.Linear(h, f, **kw)
        self.fc2 = nn.Linear(f, h, **kw)

    def forward(self, x):
        b, s, h = x.shape
        qkv = self.qkv(self.ln1(x)).view(b, s, 3, self.heads, h // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, s, h))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate='tanh'))


class Head(nn.Module):
    def __init__(self, shape, device, dtype):
        super().__init__()
        self.ln = nn.LayerNorm(shape.hidden, device=device, dtype=dtype)
        self.out = nn.Linear(shape.hidden, shape.vocab, bias=False, device=device, dtype=dtype)

    def forward(self, x):
        return self.out(self.ln(x))


def lm_loss(logits, target):
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1))


class HeadWithLoss(nn.Module):
    """The head as profile.py times it: its forward ends in the loss, as the
    last pipeline stage's does (the schedule calls lm_loss on its output)."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x, target):
        return lm_loss(self.head(x), target)


class StageModule(nn.Module):
    def __init__(self, embed, blocks, head):
        super().__init__()
        self.embed = embed
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    def forward(self, x):
        if self.embed is not None:
            x = self.embed(x)
        for b in self.blocks:
            x = b(x)
        if self.head is not None:
            x = self.head(x)
        return x


# Every component is seeded by its global position, so a block has the same
# weights whichever stage and rank it lands on.
def seeded(seed, index, make):
    torch.manual_seed(seed * 100003 + index)
    return make()


def build_embed(shape, device, seed):
    return seeded(seed, 0, lambda: Embed(shape, device, TORCH_DTYPES[shape.dtype]))


def build_block(shape, device, seed, i):
    return seeded(seed, 1 + i, lambda: Block(shape, device, TORCH_DTYPES[shape.dtype]))


def build_head(shape, device, seed):
    return seeded(seed, 1 + shape.layers, lambda: Head(shape, device, TORCH_DTYPES[shape.dtype]))


def build_stage(shape, device, seed, block_ids, first, last):
    embed = build_embed(shape, device, seed) if first else None
    blocks = [build_block(shape, device, seed, i) for i in block_ids]
    head = build_head(shape, device, seed) if last else None
    return StageModule(embed, blocks, head)


def tokens(shape, n_sequences, seed, device):
    """Seeded token ids and next-token targets, drawn on the CPU so they are
    the same on every rank and every machine."""
    g = torch.Generator(device='cpu').manual_seed(seed)
    ids = torch.randint(0, shape.vocab, (n_sequences, shape.seq + 1), generator=g)
    return ids[:, :-1].contiguous().to(device), ids[:, 1:].contiguous().to(device)


def param_bytes(module):
    return sum(p.numel() * p.element_size() for p in module.parameters())
