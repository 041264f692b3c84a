# HorNet's detection schedule: mmdet's 1x (12 epochs, 500 linear warm-up
# iterations, lr x0.1 after epochs 8 and 11) with AdamW (lr 1e-4, weight
# decay 0.05 except on 1-D parameters and biases) and HorNet's layer-wise lr
# decay (rate 0.95 over 6 layers, the official HorFPN study's). The 3x
# configs set their lr, decay, epochs and milestones.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

# The official num_layers=6 with HorNet's 0..12 layer ids gives the deepest
# blocks lr scales above 1 (up to 0.95 ** -5); kept as published.
optim_wrapper = dict(
    constructor='mmhornet.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise', num_layers=6),
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=0.0001,
        betas=(0.9, 0.999),
        weight_decay=0.05))
