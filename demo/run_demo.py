# Copyright (c) mmhornet contributors. All rights reserved.
"""The main job behind ``make demo``: HorNet on handwritten digits.

1. export scikit-learn's "digits" to ImageNet-style folders (no download);
2. train a reduced HorNet with ``tools/train.py``;
3. evaluate the checkpoint with ``tools/test.py``;
4. classify one held-out image with ``mmhornet.inference_model``.

It fails (exit 1) if the held-out top-1 accuracy is not above 90%.
"""
import glob
import os.path as osp
import re
import subprocess
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/hornet/hornet-nano_1xb64_digits.py'
DATA_ROOT = 'data/digits'
WORK_DIR = 'work_dirs/hornet-nano_1xb64_digits'
MIN_ACCURACY = 90.0


def run(*args: str) -> str:
    """Run a python script of the repository, echo and return its output."""
    print('$ python', ' '.join(args), flush=True)
    result = subprocess.run([sys.executable, *args],
                            cwd=REPO_ROOT,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True)
    lines = result.stdout.splitlines()
    print(
        '\n'.join(
            line for line in lines
            if 'Epoch(' in line or 'Exported' in line or 'accuracy' in line),
        flush=True)
    if result.returncode:
        print(result.stdout[-5000:])
        sys.exit(f'{args[0]} failed with exit code {result.returncode}')
    return result.stdout


def main() -> None:
    if not osp.isdir(osp.join(REPO_ROOT, DATA_ROOT, 'val')):
        run('tools/dataset_converters/export_digits.py', DATA_ROOT)
    run('tools/train.py', CONFIG, '--work-dir', WORK_DIR)
    checkpoint = osp.join(WORK_DIR, 'epoch_20.pth')
    output = run('tools/test.py', CONFIG, checkpoint, '--work-dir', WORK_DIR)
    accuracy = float(re.findall(r'accuracy/top1: ([\d.]+)', output)[-1])

    from mmhornet import get_model, inference_model
    model = get_model(
        osp.join(REPO_ROOT, CONFIG),
        pretrained=osp.join(REPO_ROOT, checkpoint))
    image = sorted(
        glob.glob(osp.join(REPO_ROOT, DATA_ROOT, 'val', '7', '*.png')))[0]
    prediction = inference_model(model, image)
    print(f"inference_model('{osp.relpath(image, REPO_ROOT)}'): class "
          f"{prediction['pred_class']!r} with score "
          f"{prediction['pred_score']:.3f} (true class '7')")
    print(f'Held-out top-1 accuracy: {accuracy:.2f}% '
          f'(bar: above {MIN_ACCURACY:.0f}%)')
    if accuracy <= MIN_ACCURACY:
        sys.exit('The demo did not reach the accuracy bar.')


if __name__ == '__main__':
    main()
