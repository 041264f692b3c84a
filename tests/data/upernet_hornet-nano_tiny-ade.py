# The HorNet-T (GF) UPerNet recipe at a size for CPU tests: a tiny HorNet
# (global filter in stage 3) and heads, 96x64 images, 64x64 crops, a few
# iterations. Kept from the real config: the layer-decay optimizer, the
# warmup + poly schedule, gradient clipping, the sliding-window test, the
# multi-scale + flip test pipeline, ADE20KDataset and IoUMetric.
_base_ = '../../configs/upernet/upernet_hornet-t-gf_8xb2-160k_ade20k-512x512.py'  # noqa

data_root = 'data/tiny-ade'
crop_size = (64, 64)
max_iters = 40
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(
            _delete_=True,
            base_dim=8,
            depths=[1, 1, 1, 1],
            orders=[2, 2, 3, 3],
            dw_cfg=[
                dict(type='DW', kernel_size=7),
                dict(type='DW', kernel_size=7),
                dict(type='DW', kernel_size=7),
                dict(type='GF', h=2, w=2)
            ]),
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(in_channels=[8, 16, 32, 64], channels=16),
    auxiliary_head=dict(in_channels=32, channels=8),
    test_cfg=dict(crop_size=crop_size, stride=(42, 42)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomResize',
        scale=(256, 64),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# the real configs' ratios 0.5-1.75 of the test scale, and flips
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(128, 32), keep_ratio=True),
                dict(type='Resize', scale=(192, 48), keep_ratio=True),
                dict(type='Resize', scale=(256, 64), keep_ratio=True),
                dict(type='Resize', scale=(320, 80), keep_ratio=True),
                dict(type='Resize', scale=(384, 96), keep_ratio=True),
                dict(type='Resize', scale=(448, 112), keep_ratio=True)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]
        ])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        end_factor=1.0,
        by_epoch=False,
        begin=0,
        end=4 + 1),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        by_epoch=False,
        begin=0,
        end=max_iters + 1),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
