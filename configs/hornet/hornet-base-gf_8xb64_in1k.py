_base_ = [
    '../_base_/models/hornet/hornet_classifier.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/hornet_adamw_4096.py',
    'mmpretrain::_base_/default_runtime.py',
]

# HorNet-B (GF), official recipe: 8 GPUs x 64 images x 8 accumulated
# steps = 4096 per update (the paper trains 32 x 64 x 2).
model = dict(
    backbone=dict(arch='base-gf', drop_path_rate=0.5),
    head=dict(in_channels=1024))

# The base pipeline with RandAugment magnitude 15 (official
# `--aa rand-m15-mstd0.5-inc1`).
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=15,
        magnitude_std=0.5,
        hparams=dict(
            pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64, drop_last=True, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(accumulative_counts=8, clip_grad=dict(max_norm=1.0))

# EMA of the weights with decay 0.9999 per optimizer step (official
# `--model_ema_decay 0.9999`), i.e. updated every 8 iterations.
custom_hooks = [
    dict(type='EMAHook', momentum=0.0001, interval=8, priority='ABOVE_NORMAL')
]
