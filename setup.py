# Copyright (c) mmhornet contributors. All rights reserved.
import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    namespace: dict = {}
    with open(osp.join(HERE, 'mmhornet', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(fname: str) -> list:
    """Read the requirement lines of ``fname``, following ``-r`` includes."""
    requirements = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                requirements += parse_requirements(line.split(' ', 1)[1])
            else:
                requirements.append(line)
    return requirements


def add_mim_extension() -> None:
    """Expose configs, tools and the model index under ``mmhornet/.mim``.

    This is where OpenMMLab's ``mim`` looks for them (``mim train mmhornet
    CONFIG``). They are symlinked for an editable install and copied when a
    distribution is built.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'mmhornet', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'demo', 'model-index.yml'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        else:
            copy = shutil.copytree if osp.isdir(src) else shutil.copyfile
            copy(src, dst)


def get_extensions() -> tuple:
    """The C++ operators (``mmhornet.ops._ext``) and the command that builds
    them.

    Set ``MMHORNET_WITH_OPS=0`` to install without them: HorNet then uses
    PyTorch's kernels for everything (same results, slower CPU training).
    """
    if os.getenv('MMHORNET_WITH_OPS', '1') == '0':
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        # pip builds in an isolated environment without torch unless told
        # otherwise; exit with the fix instead of a long traceback
        sys.exit(
            'error: mmhornet builds its C++ operator (mmhornet.ops._ext) '
            'against the torch of the environment it is installed into, but '
            'this build cannot import torch. By default pip builds in an '
            'isolated environment that has no torch, even where torch is '
            'installed. Install torch (and mmcv, see the README) first, then '
            'build without isolation:\n'
            '    pip install --no-build-isolation -e .\n'
            'or run `make install`, which sets up everything. '
            'MMHORNET_WITH_OPS=0 installs without the operator (same '
            'results, slower CPU training).')
    extension = CppExtension(
        'mmhornet.ops._ext', ['mmhornet/ops/csrc/depthwise_conv.cpp'],
        extra_compile_args=['-O3', '-fopenmp-simd'])
    return [extension], {'build_ext': BuildExtension}


if __name__ == '__main__':
    add_mim_extension()
    ext_modules, cmdclass = get_extensions()
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        long_description = f.read()
    # HorNet and gnConv need torch, mmcv and mmengine (installed first, see
    # requirements/mminstall.txt and the README) and requirements/runtime.txt;
    # each task's OpenMMLab toolbox is an extra: cls, det, seg, or all three
    extras = {
        name: parse_requirements(f'requirements/{name}.txt')
        for name in ('cls', 'det', 'seg', 'deploy', 'optional', 'tests')
    }
    extras['all'] = extras['cls'] + extras['det'] + extras['seg']
    extras['mim'] = parse_requirements('requirements/mminstall.txt')
    setup(
        name='mmhornet',
        version=get_version(),
        description='HorNet and gnConv for OpenMMLab 2.0 (mmpretrain, mmdet, '
        'mmseg)',
        long_description=long_description,
        long_description_content_type='text/markdown',
        keywords='computer vision, HorNet, gnConv, OpenMMLab',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require=extras,
        ext_modules=ext_modules,
        cmdclass=cmdclass,
        zip_safe=False)
