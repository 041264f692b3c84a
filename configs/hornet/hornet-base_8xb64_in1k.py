_base_ = [
    '../_base_/models/hornet/hornet-base.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/hornet_adamw_4096.py',
    'mmpretrain::_base_/default_runtime.py',
]

# HorNet-B, official recipe: 8 GPUs x 64 images x 8 accumulated
# steps = 4096 per update (the paper trains 32 x 64 x 2).
train_dataloader = dict(batch_size=64, drop_last=True)
optim_wrapper = dict(accumulative_counts=8, clip_grad=dict(max_norm=5.0))

# EMA of the weights with decay 0.9999 per optimizer step (official
# `--model_ema_decay 0.9999`), i.e. updated every 8 iterations.
custom_hooks = [
    dict(type='EMAHook', momentum=0.0001, interval=8, priority='ABOVE_NORMAL')
]
