_base_ = [
    '../_base_/models/hornet/hornet_classifier.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/hornet_adamw_4096.py',
    'mmpretrain::_base_/default_runtime.py',
]

# HorNet-L fine-tuned at 384 px on ImageNet-1k from its ImageNet-22k
# weights (official recipe): 8 GPUs x 16 images x 4 accumulated steps = 512
# per update, lr 5e-5, weight decay 1e-8, layer-wise lr decay 0.7, 30 epochs
# without warmup, no Mixup/CutMix, EMA.
# Set `load_from` to the 22k checkpoint: train it with
# hornet-large_8xb32_in21k.py, or convert the official
# hornet_large_7x7_in22k.pth
# with tools/model_converters/hornet2mmhornet.py.
# The 21,841-class head does not fit and is re-initialised (the official
# script picks the 1k rows with its in1k_to_21k_map.pth, not shipped here).
load_from = None
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.4),
    head=dict(in_channels=1536),
    train_cfg=None)

bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=384,
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
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # at 384 px the official evaluation warps to 384x384, without a crop
    dict(
        type='Resize',
        scale=(384, 384),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16, drop_last=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    constructor='LearningRateDecayOptimWrapperConstructor',
    optimizer=dict(lr=5e-5, weight_decay=1e-8),
    paramwise_cfg=dict(layer_decay_rate=0.7),
    accumulative_counts=4,
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=0,
        end=30,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, interval=4, priority='ABOVE_NORMAL')
]
