# A HorNet classifier small enough for CPU tests, on an ImageNet-style
# folder dataset (one sub-folder per class) that the tests generate.
_base_ = ['mmpretrain::_base_/default_runtime.py']

data_root = 'data/tiny-folder'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmhornet.HorNet',
        arch=dict(
            base_dim=8,
            depths=[1, 1, 1, 1],
            orders=[2, 2, 3, 3],
            dw_cfg=[
                dict(type='DW', kernel_size=7),
                dict(type='DW', kernel_size=7),
                dict(type='DW', kernel_size=7),
                dict(type='GF', h=1, w=1)
            ]),
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=3,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
data_preprocessor = dict(
    num_classes=3,
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True)
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1))
randomness = dict(seed=0)
