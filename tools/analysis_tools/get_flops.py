# Copyright (c) mmhornet contributors. All rights reserved.
"""Print the parameters and FLOPs of a model name or config.

Example:
    python tools/analysis_tools/get_flops.py hornet-tiny_3rdparty_in1k
    python tools/analysis_tools/get_flops.py CONFIG --shape 384 384
"""
import argparse

from mmhornet.apis import get_complexity, get_model


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs')
    parser.add_argument('model', help='model name (see list_models) or config')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[224, 224],
        metavar=('H', 'W'),
        help='input height and width (default: 224 224)')
    return parser.parse_args()


def giga(value: int) -> str:
    if value >= 1e8:
        return f'{value:,} ({value / 1e9:.2f} G)'
    return f'{value:,} ({value / 1e6:.2f} M)'


def main() -> None:
    args = parse_args()
    model = get_model(args.model)
    if hasattr(model, 'extract_feat'):
        model.forward = model.extract_feat  # the backbone (and neck) alone
    result = get_complexity(model, (3, *args.shape))
    print(f'Model: {args.model}')
    print(f'Input shape: (3, {args.shape[0]}, {args.shape[1]})')
    print(f"Parameters: {result['params']:,} "
          f"({result['params'] / 1e6:.2f} M)")
    print(f"FLOPs: {giga(result['flops'])}, counted as the published "
          'tables count them (mmengine: convolutions, linear layers, '
          'channels-last norms; a multiply-accumulate counts once)')
    print(f"Channels-first LayerNorms, not in that figure: "
          f"{giga(result['layer_norm_2d_flops'])}")
    print(f"Global-filter FFTs, not in that figure: "
          f"{giga(result['fft_flops'])}")
    total = sum(result[k]
                for k in ('flops', 'layer_norm_2d_flops', 'fft_flops'))
    print(f'Total with both: {giga(total)}')


if __name__ == '__main__':
    main()
