_base_ = [
    '../_base_/models/hornet/hornet-large.py',
    '../_base_/datasets/imagenet_bs16_hornet_384.py',
    '../_base_/schedules/hornet_adamw_4096.py',
    'mmpretrain::_base_/default_runtime.py',
]

# HorNet-L fine-tuned at 384 px on ImageNet-1k from its ImageNet-22k
# weights (official recipe): 8 GPUs x 16 images x 4 accumulated steps = 512
# per update, lr 5e-5, weight decay 1e-8, layer-wise lr decay 0.7, 30 epochs
# without warmup, no Mixup/CutMix, EMA.
# The weights come from the official ImageNet-22k HorNet-L
# (hornet-large_3rdparty_in21k; any checkpoint of hornet-large_8xb32_in21k.py
# also does), converted as they load. As the official fine-tuning, the 1k
# head starts from the 22k head's rows of the ImageNet-1k classes, which the
# official `in1k_to_21k_map.pth` (github.com/raoyongming/HorNet) lists: put
# it at `in1k_rows`; without it training stops with an error saying so.
pretrained = 'https://cloud.tsinghua.edu.cn/f/4de41e26cb254c28a61a/?dl=1'
in1k_rows = 'data/imagenet/in1k_to_21k_map.pth'
model = dict(
    backbone=dict(
        drop_path_rate=0.4,
        init_cfg=dict(
            type='mmhornet.HorNetPretrained',
            checkpoint=pretrained,
            prefix='backbone.')),
    head=dict(
        init_cfg=dict(
            _delete_=True,
            type='mmhornet.HorNetPretrained',
            checkpoint=pretrained,
            prefix='head.',
            rows=in1k_rows)),
    train_cfg=None)

# mmhornet's layer-wise decay (the rule of the official fine-tuning and of
# the detection configs); weight decay stays off for 1-D parameters/biases
optim_wrapper = dict(
    constructor='mmhornet.LayerDecayOptimWrapperConstructor',
    optimizer=dict(lr=5e-5, weight_decay=1e-8),
    paramwise_cfg=dict(_delete_=True, decay_rate=0.7),
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
