"""Small vision transformer over a stack of grayscale frames, read out through a CLS token.

The encoder follows section 2 of Kenneweg et al. (2025): every frame of the stack
(f_{t-2}, f_{t-1}, f_t) is cut into p x p patches, all patches of all frames are one token
sequence, and a fixed (t, i, j) sin-cos table tells the model which frame and which patch
position a token came from. A learnable CLS token is prepended; its last-layer embedding is the
state embedding s used by the predictor and by the actor-critic heads.

Token order is frame-major, then patch row, then patch column.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Block", "ViTEncoder", "bmm_attention", "check_frame_stack", "pos_table_3d"]


def _sincos_1d(positions: Tensor, dim: int) -> Tensor:
    """(n,) float64 positions -> (n, dim) table: dim/2 sines then dim/2 cosines."""
    freqs = 1.0 / 10000.0 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))
    angles = positions[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _axis_shares(dim: int) -> tuple[int, int, int]:
    """Split dim into three even widths for (t, i, j); the column axis takes the remainder."""
    base = 2 * (dim // 6)
    return base, base, dim - 2 * base


def check_frame_stack(obs: Tensor, frames: int, height: int, width: int) -> None:
    """ValueError unless obs is a batch of (frames, height, width) stacks: (B, frames, H, W)."""
    expected = (frames, height, width)
    if obs.dim() != 4 or tuple(obs.shape[1:]) != expected:
        dims = ", ".join(map(str, expected))
        raise ValueError(f"obs shape {tuple(obs.shape)} is not (B, {dims})")


def pos_table_3d(frames: int, grid_h: int, grid_w: int, dim: int) -> Tensor:
    """Fixed sin-cos position table of shape (frames * grid_h * grid_w, dim), float32.

    Frame index t, patch row i and patch column j each get their own even share of the width
    (for dim=64: 20 + 20 + 24) holding a 1-D sin-cos code of that coordinate; a token's row is
    the concatenation [code_t(t), code_i(i), code_j(j)]. Rows are ordered frame-major, then row,
    then column, matching ViTEncoder's patch order.
    """
    for name, value in (("frames", frames), ("grid_h", grid_h), ("grid_w", grid_w)):
        if value < 1:
            raise ValueError(f"{name}={value} must be >= 1")
    if dim < 6 or dim % 2:
        raise ValueError(f"dim={dim} must be even and >= 6 (three even shares for t, i, j)")
    d_t, d_i, d_j = _axis_shares(dim)
    t, i, j = torch.meshgrid(
        torch.arange(frames, dtype=torch.float64),
        torch.arange(grid_h, dtype=torch.float64),
        torch.arange(grid_w, dtype=torch.float64),
        indexing="ij",
    )
    table = torch.cat(
        [_sincos_1d(t.flatten(), d_t), _sincos_1d(i.flatten(), d_i), _sincos_1d(j.flatten(), d_j)],
        dim=1,
    )
    return table.float()


def bmm_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """softmax(q kᵀ / sqrt(head_dim)) v written as two batched matmuls over (B * heads)
    matrices: what F.scaled_dot_product_attention computes, with other kernels. q: (B, heads,
    Nq, head_dim), k and v: (B, heads, N, head_dim); returns (B, heads, Nq, head_dim)."""
    b, h, nq, hd = q.shape
    n = k.shape[2]
    scores = torch.bmm(q.reshape(b * h, nq, hd), k.reshape(b * h, n, hd).transpose(1, 2))
    out = torch.bmm(torch.softmax(scores * hd ** -0.5, dim=-1), v.reshape(b * h, n, hd))
    return out.view(b, h, nq, hd)


class Block(nn.Module):
    """Pre-LN transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = "sdpa"
        """'sdpa' (torch's fused kernel) or 'bmm' (bmm_attention: the same maths, other kernels;
        a lever the throughput benchmark times)."""
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, cls_only: bool = False) -> Tensor:
        """x: (B, N, dim). With cls_only, return only the updated first token, (B, 1, dim).

        cls_only is exact, not an approximation: token 0 still attends to all N tokens, but the
        queries, attention output, projection and MLP of the other tokens are skipped. The
        encoder uses it in the last block, where only the CLS output is read.
        """
        b, n, d = x.shape
        h = self.heads
        # unbind (not qkv[0], qkv[1], ...): its backward is one stack instead of three
        # zero-filled full-size buffers, which is measurably faster on CPU.
        qkv = self.qkv(self.norm1(x)).view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
        if cls_only:
            x, q = x[:, :1], q[:, :, :1]
        if self.attention == "bmm":
            attn = bmm_attention(q, k, v)
        else:
            attn = F.scaled_dot_product_attention(q, k, v)  # (B, heads, Nq, head_dim)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, -1, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViTEncoder(nn.Module):
    """ViT over (B, frames, H, W) grayscale stacks; returns the CLS embedding (B, dim).

    uint8 input is scaled to [0, 1] (then standardised when a `scaling` module is given); float
    input is used as given.
    """

    def __init__(
        self,
        height: int = 24,
        width: int = 96,
        patch: int = 12,
        frames: int = 3,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        scaling: nn.Module | None = None,
        patch_init: str = "trunc_normal",
    ) -> None:
        """`scaling` maps the uint8 stack to floats (jepa_bench.rl.inputs.InputScaling); None keeps
        the plain x / 255 inside patchify. `patch_init` 'default' leaves the patch embedding at
        torch's own nn.Linear init instead of trunc-normal(0.02)."""
        super().__init__()
        if patch < 1 or height % patch or width % patch:
            raise ValueError(f"patch={patch} must divide height={height} and width={width}")
        if heads < 1 or dim % heads:
            raise ValueError(f"heads={heads} must divide dim={dim}")
        if depth < 1:
            raise ValueError(f"depth={depth} must be >= 1")
        self.height, self.width, self.patch, self.frames = height, width, patch, frames
        self.dim, self.depth, self.heads, self.mlp_ratio = dim, depth, heads, mlp_ratio
        self.grid_h, self.grid_w = height // patch, width // patch
        self.num_patches = frames * self.grid_h * self.grid_w

        self.patch_embed = nn.Linear(patch * patch, dim)
        self.register_buffer(
            "pos_embed", pos_table_3d(frames, self.grid_h, self.grid_w, dim), persistent=True
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.scaling = scaling
        self._init_weights()
        if patch_init == "default":
            self.patch_embed.reset_parameters()
        elif patch_init != "trunc_normal":
            raise ValueError(f"patch_init={patch_init!r} is not one of: 'trunc_normal', 'default'")

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def patchify(self, obs: Tensor) -> Tensor:
        """(B, frames, H, W) -> (B, frames * gh * gw, p * p) float patches, scaled if uint8."""
        b, p = obs.shape[0], self.patch
        x = obs.reshape(b, self.frames, self.grid_h, p, self.grid_w, p)
        # One copy into token order (frame, row, col); the conversion to float happens on the
        # already reordered, contiguous tensor.
        x = x.permute(0, 1, 2, 4, 3, 5).reshape(b, self.num_patches, p * p)
        dtype = self.patch_embed.weight.dtype
        if x.dtype == torch.uint8:
            return x.to(dtype).mul_(1.0 / 255.0)
        return x.to(dtype)

    def forward(self, obs: Tensor) -> Tensor:
        check_frame_stack(obs, self.frames, self.height, self.width)
        if self.scaling is not None:
            obs = self.scaling(obs, self.patch_embed.weight.dtype)
        x = self.patch_embed(self.patchify(obs)) + self.pos_embed
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        for index, blk in enumerate(self.blocks):
            # The last block only needs to update the CLS row, the one that is read out.
            x = blk(x, cls_only=index == self.depth - 1)
        return self.norm(x[:, 0])

    def flops_per_sample(self) -> int:
        """Analytic forward FLOPs for one sample (2 per multiply-add).

        Counts the matrix products (patch embedding, qkv, attention scores and weighted sum,
        output projection, MLP) as they are computed here, i.e. with the last block reduced to
        the CLS query. Layer norms, GELU, softmax and additions are left out, as
        torch.utils.flop_counter.FlopCounterMode also leaves them out.
        """
        n, d, p2 = self.num_patches + 1, self.dim, self.patch * self.patch
        hidden = int(self.dim * self.mlp_ratio)
        flops = 2 * self.num_patches * p2 * d  # patch embedding
        for layer in range(self.depth):
            nq = 1 if layer == self.depth - 1 else n  # query rows carried forward
            flops += 2 * n * d * 3 * d  # qkv for every token (keys/values needed by all)
            flops += 2 * 2 * nq * n * d  # q k^T and attn @ v, summed over heads
            flops += 2 * nq * d * d  # output projection
            flops += 2 * 2 * nq * d * hidden  # MLP fc1 + fc2
        return flops

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

