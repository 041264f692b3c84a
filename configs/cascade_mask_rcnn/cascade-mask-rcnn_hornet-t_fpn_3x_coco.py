# Cascade Mask R-CNN with a HorNet-T (7x7) backbone: the official 3x recipe
# (4conv1fc heads with SyncBN and GIoU, DETR-style multi-scale training with
# crop, AdamW with HorNet layer-wise lr decay, 36 epochs, 8 GPUs x 2 images).
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance_detr-aug.py',
    '../_base_/schedules/hornet_adamw_1x.py',
    'mmdet::_base_/default_runtime.py'
]

# mmpretrain's conversion of the official ImageNet-1k weights
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/hornet/hornet-tiny_3rdparty_in1k_20220915-0e8eedff.pth'  # noqa

bbox_head = dict(
    type='ConvFCBBoxHead',
    num_shared_convs=4,
    num_shared_fcs=1,
    in_channels=256,
    conv_out_channels=256,
    fc_out_channels=1024,
    roi_feat_size=7,
    num_classes=80,
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0., 0., 0., 0.],
        target_stds=[0.1, 0.1, 0.2, 0.2]),
    reg_class_agnostic=False,
    reg_decoded_bbox=True,
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    loss_bbox=dict(type='GIoULoss', loss_weight=10.0))
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhornet.HorNet',
        arch='tiny',
        drop_path_rate=0.4,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=[
        bbox_head,
        dict(
            bbox_head,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.05, 0.05, 0.1, 0.1])),
        dict(
            bbox_head,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.033, 0.033, 0.067, 0.067]))
    ]))

# 36 epochs, lr x0.1 after epochs 27 and 33; lr 2e-4, layer-wise decay 0.7
# over 12 layers
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(s, end=max_epochs, milestones=[27, 33])
    if s.type == 'MultiStepLR' else s for s in _base_.param_scheduler
]
optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=0.7, num_layers=12),
    optimizer=dict(lr=0.0002))
