import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from jepa_bench.rl.vit import ViTEncoder, pos_table_3d


def small_encoder(**kw) -> ViTEncoder:
    args = dict(height=24, width=48, patch=12, frames=3, dim=32, depth=2, heads=4)
    args.update(kw)
    return ViTEncoder(**args)


# --- positional table -------------------------------------------------------------------------

def test_pos_table_rows_are_unique_and_each_coordinate_matters():
    frames, gh, gw, dim = 3, 2, 8, 64
    table = pos_table_3d(frames, gh, gw, dim)
    assert table.shape == (frames * gh * gw, dim) and table.dtype == torch.float32
    assert torch.unique(table, dim=0).shape[0] == table.shape[0]
    grid = table.view(frames, gh, gw, dim)
    # Changing only t (or only i, or only j) changes the row.
    assert (grid[1:] - grid[:-1]).abs().amax(-1).min() > 1e-3
    assert (grid[:, 1:] - grid[:, :-1]).abs().amax(-1).min() > 1e-3
    assert (grid[:, :, 1:] - grid[:, :, :-1]).abs().amax(-1).min() > 1e-3


def test_pos_table_gives_each_axis_its_own_columns():
    grid = pos_table_3d(3, 2, 8, 64).view(3, 2, 8, 64)
    d_t, d_i = 20, 20  # 64 = 20 (t) + 20 (i) + 24 (j)
    t_part, i_part, j_part = grid[..., :d_t], grid[..., d_t:d_t + d_i], grid[..., d_t + d_i:]
    # Each block depends on its own coordinate only.
    assert torch.equal(t_part, t_part[:, :1, :1].expand_as(t_part))
    assert torch.equal(i_part, i_part[:1, :, :1].expand_as(i_part))
    assert torch.equal(j_part, j_part[:1, :1, :].expand_as(j_part))
    # Position 0 encodes as sin = 0, cos = 1 in every block.
    assert torch.equal(grid[0, 0, 0], torch.cat([torch.zeros(10), torch.ones(10), torch.zeros(10),
                                                  torch.ones(10), torch.zeros(12), torch.ones(12)]))


@pytest.mark.parametrize("dim", [0, 5, 7])
def test_pos_table_rejects_bad_dim(dim):
    with pytest.raises(ValueError, match="dim="):
        pos_table_3d(3, 2, 8, dim)


def test_pos_table_is_a_buffer_not_a_parameter():
    enc = small_encoder()
    assert "pos_embed" in dict(enc.named_buffers())
    assert "pos_embed" not in dict(enc.named_parameters())
    assert torch.equal(enc.pos_embed, pos_table_3d(3, 2, 4, 32))


# --- encoder ----------------------------------------------------------------------------------

def test_encoder_shapes_and_dtypes_for_uint8_and_float_input():
    torch.manual_seed(0)
    enc = ViTEncoder()  # the paper-sized default: 24 x 96, patch 12, d = 64
    obs = torch.randint(0, 256, (5, 3, 24, 96), dtype=torch.uint8)
    s_u8 = enc(obs)
    s_f = enc(obs.float() / 255.0)
    assert s_u8.shape == (5, 64) and s_u8.dtype == torch.float32
    assert s_f.shape == (5, 64) and s_f.dtype == torch.float32
    torch.testing.assert_close(s_u8, s_f)  # uint8 is scaled to [0, 1]


def test_encoder_rejects_patch_that_does_not_divide_the_image():
    with pytest.raises(ValueError, match="patch=10"):
        ViTEncoder(height=24, width=96, patch=10)
    with pytest.raises(ValueError, match="patch=16"):
        ViTEncoder(height=32, width=40, patch=16)  # divides H, not W


def test_encoder_rejects_wrong_observation_shape():
    with pytest.raises(ValueError, match="obs shape"):
        small_encoder()(torch.zeros(2, 3, 24, 96))


def test_patch_order_is_frame_then_row_then_column():
    enc = small_encoder()  # 3 frames of 2 x 4 patches of 12 x 12
    t = torch.arange(3).view(3, 1, 1)
    rows = (torch.arange(24) // 12).view(1, 24, 1)
    cols = (torch.arange(48) // 12).view(1, 1, 48)
    obs = (100 * t + 10 * rows + cols).float().unsqueeze(0)  # every pixel labels its patch
    tokens = enc.patchify(obs)[0]  # (24, 144)
    expected = torch.tensor([100 * f + 10 * i + j for f in range(3) for i in range(2)
                             for j in range(4)], dtype=torch.float32)
    assert torch.equal(tokens, expected[:, None].expand(-1, 144))


def test_cls_only_last_block_equals_running_every_token():
    torch.manual_seed(1)
    enc = small_encoder(depth=3)
    obs = torch.rand(4, 3, 24, 48)
    x = enc.patch_embed(enc.patchify(obs)) + enc.pos_embed
    x = torch.cat([enc.cls_token.expand(4, -1, -1), x], dim=1)
    for blk in enc.blocks:
        x = blk(x)
    torch.testing.assert_close(enc(obs), enc.norm(x[:, 0]))


def test_encoder_output_depends_on_every_frame():
    torch.manual_seed(2)
    enc = small_encoder()
    obs = torch.rand(1, 3, 24, 48)
    s = enc(obs)
    for f in range(3):
        changed = obs.clone()
        changed[0, f] = torch.rand(24, 48)
        assert not torch.allclose(enc(changed), s)


# --- FLOPs ------------------------------------------------------------------------------------

def _sdpa_cpu_flops(q_shape, k_shape, v_shape, *args, out_shape=None, **kwargs):
    # FlopCounterMode has no formula for the CPU flash kernel; count q k^T and attn @ v.
    b, h, s_q, d = q_shape
    return 2 * 2 * b * h * s_q * k_shape[2] * d


@pytest.mark.parametrize("kw", [{}, dict(height=24, width=48, patch=6, dim=48, depth=3, heads=3)])
def test_flops_per_sample_matches_flop_counter(kw):
    enc = ViTEncoder(**kw)
    batch = 3
    obs = torch.rand(batch, enc.frames, enc.height, enc.width)
    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops}
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        enc(obs)
    assert counter.get_total_flops() == batch * enc.flops_per_sample()


def test_flops_per_sample_default_hand_count():
    n, d, mlp = 49, 64, 256  # 48 patches + CLS
    patch = 2 * 48 * 144 * d
    full_block = 2 * n * d * 3 * d + 4 * n * n * d + 2 * n * d * d + 4 * n * d * mlp
    last_block = 2 * n * d * 3 * d + 4 * 1 * n * d + 2 * d * d + 4 * d * mlp  # CLS query only
    assert ViTEncoder().flops_per_sample() == patch + full_block + last_block == 7_606_784
