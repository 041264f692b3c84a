# HorNet ImageNet classifier (arch and widths set by the configs using it).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmhornet.HorNet', arch='tiny', drop_path_rate=0.2),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        # the official init: trunc_normal(0.02) weights, zero bias
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))
