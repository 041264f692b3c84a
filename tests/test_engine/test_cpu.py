# Copyright (c) mmhornet contributors. All rights reserved.
"""What it takes to run OpenMMLab on CPUs: CPU mixed precision, and nothing
changed on a GPU (the launcher fixes are tested with real processes in
tests/test_tools)."""
import pytest
import torch
from mmengine.config import Config

from mmhornet.engine import setup_launcher
from mmhornet.engine.optimizers.amp_optim_wrapper import _has_accelerator
from mmhornet.registry import OPTIM_WRAPPERS


@pytest.mark.cpu_isa
@pytest.mark.skipif(_has_accelerator(), reason='the CPU-only path')
def test_amp_optim_wrapper_uses_bfloat16_autocast_on_cpu():
    model = torch.nn.Linear(4, 2)
    wrapper = OPTIM_WRAPPERS.build(
        dict(
            type='AmpOptimWrapper',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert not wrapper.loss_scaler.is_enabled()  # no GPU; bf16: no scaling
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        out = model(torch.randn(3, 4))
        assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().square().mean())
    assert not torch.equal(before, model.weight)
    state = wrapper.state_dict()
    assert 'loss_scaler' not in state  # a disabled scaler has no state
    wrapper.load_state_dict(dict(state, loss_scaler={'scale': 1.0}))
    with pytest.raises(ValueError, match='bfloat16 and float16'):
        OPTIM_WRAPPERS.build(
            dict(
                type='AmpOptimWrapper',
                dtype='float64',
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_on_a_gpu_nothing_changes():
    model = torch.nn.Linear(4, 2).cuda()
    wrapper = OPTIM_WRAPPERS.build(
        dict(
            type='AmpOptimWrapper',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert wrapper.loss_scaler is not None  # mmengine's float16 + scaling
    cfg = Config(
        dict(launcher='pytorch', model=dict(norm_cfg=dict(type='SyncBN'))))
    setup_launcher(cfg)  # returns before initialising anything
    assert cfg.model.norm_cfg.type == 'SyncBN'
    assert 'env_cfg' not in cfg and 'model_wrapper_cfg' not in cfg
