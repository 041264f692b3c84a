# resnet50-gnconv-c3-c5_8xb32_in1k.py's network at a quarter of the width
# (base_channels=16: stage widths 64-512 instead of 256-2048), trained from
# scratch on scikit-learn's "digits" (32x32, exported with
# tools/dataset_converters/export_digits.py) with the recipe of
# configs/hornet/hornet-nano_1xb64_digits.py (AdamW, 20 epochs).
_base_ = '../hornet/hornet-nano_1xb64_digits.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdet.ResNet',
        depth=50,
        base_channels=16,
        out_indices=(3, ),
        norm_eval=False,
        dcn=dict(type='mmhornet.gnConv2d', order=3, scale=1.0),
        stage_with_dcn=(False, True, True, True)),
    neck=dict(_delete_=True, type='GlobalAveragePooling'),
    head=dict(in_channels=512))
