# HorNet-L (GF) fine-tuned at 384 px on ImageNet-1k from its ImageNet-22k
# weights: the HorNet-L recipe with 384-px global filters. Set `load_from`
# to the 22k checkpoint: train it with hornet-large-gf_8xb32_in21k.py, or
# convert the official hornet_large_gf_in22k.pth with
# tools/model_converters/hornet2mmhornet.py. Its 14x8 / 7x4 global filters
# are resized to 24x13 / 12x7 when loaded.
_base_ = './hornet-large_in21k-pre_8xb16_in1k-384px.py'

model = dict(backbone=dict(arch='large-gf384'))
