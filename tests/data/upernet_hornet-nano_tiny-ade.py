# The HorNet-T (GF) UPerNet recipe at a size for CPU tests: a tiny HorNet
# (global filter in stage 3) and heads, 96x64 images, 64x64 crops, a few
# iterations. Kept from the real config: the layer-decay optimizer, the
# warmup + poly schedule, gradient clipping, the sliding-window test, the
# multi-scale + flip test pipeline, ADE20KDataset and IoUMetric.
_base_ = '../../configs/upernet/upernet_hornet-t-gf_8xb2-160k_ade20k-512x512.py'  # noqa

data_root = 'data/tiny-ade'
crop_size = (64, 64)
max_iters = 40
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

# the real pipelines at 1/8 of the scale (resize ratios 0.75-1.5)
train_pipeline = [
    dict(
        t, **{
            'RandomResize': dict(scale=(256, 64), ratio_range=(0.75, 1.5)),
            'RandomCrop': dict(crop_size=crop_size)
        }.get(t.type, {})) for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=(256, 64)) if t.type == 'Resize' else t
    for t in _base_.test_pipeline
]
# the real multi-scale + flip test (ratios 0.5-1.75 of the test scale) at
# 1/8 of the scale
tta_pipeline = [
    dict(
        t,
        transforms=[[
            dict(r, scale=(r.scale[0] // 8, r.scale[1] // 8))
            for r in t.transforms[0]
        ], *t.transforms[1:]]) if t.type == 'TestTimeAug' else t
    for t in _base_.tta_pipeline
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
# the real schedule: warmup over 4 iterations, poly decay over max_iters
param_scheduler = [
    dict(s, end=(4 if s.type == 'LinearLR' else max_iters) + 1)
    for s in _base_.param_scheduler
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
