# Copyright (c) mmhornet contributors. All rights reserved.
import math

import pytest

from mmhornet.apis import fft_flops, get_complexity, get_model
from ..conftest import run_tool

# (parameters, FLOPs) of mmpretrain's metafile, as published.
PUBLISHED = {
    'hornet-tiny_3rdparty_in1k': (22409512, 3976156352),
    'hornet-tiny-gf_3rdparty_in1k': (22991848, 3896472160),
    'hornet-small_3rdparty_in1k': (49528264, 8825621280),
    'hornet-small-gf_3rdparty_in1k': (50401768, 8706094992),
    'hornet-base_3rdparty_in1k': (87256680, 15582677376),
    'hornet-base-gf_3rdparty_in1k': (88421352, 15423308992),
}


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_published_parameters_and_flops(name):
    model = get_model(name)
    model.forward = model.extract_feat
    result = get_complexity(model, (3, 224, 224))
    assert (result['params'], result['flops']) == PUBLISHED[name]
    assert result['layer_norm_2d_flops'] > 0
    assert (result['fft_flops'] > 0) == ('-gf' in name)


def test_fft_flops_formula():
    # 8 channels of 16x16: two real FFTs of 256 points (2.5 * 256 * 8 real
    # operations each) and 16 * 9 complex products (6 each), halved.
    expected = 8 * (2 * 2.5 * 256 * math.log2(256) + 6 * 16 * 9) / 2
    assert fft_flops(8, 16, 16) == expected == 44416
    assert fft_flops(4, 1, 1) == 4 * 6 / 2  # a 1x1 map: no transform cost


@pytest.mark.slow
def test_get_flops_tool():
    result = run_tool([
        'tools/analysis_tools/get_flops.py', 'hornet-tiny-gf_3rdparty_in1k',
        '--shape', '224', '224'
    ])
    assert 'Parameters: 22,991,848 (22.99 M)' in result.stdout
    assert 'FLOPs: 3,896,472,160 (3.90 G)' in result.stdout
    assert 'Global-filter FFTs, not in that figure: 18,335,968' in (
        result.stdout)
