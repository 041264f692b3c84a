# HorNet ImageNet classifier: the parts every arch shares. The per-arch
# bases (hornet-tiny.py, ...) set the arch, its drop path and the head's width.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmhornet.HorNet'),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        # the official init: trunc_normal(0.02) weights, zero bias
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))
