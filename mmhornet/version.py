# Copyright (c) mmhornet contributors. All rights reserved.
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string into a tuple, e.g. '0.1.0rc1' -> (0, 1, 0,
    'rc1')."""
    version_info = []
    for part in version_str.split('.'):
        if part.isdigit():
            version_info.append(int(part))
        elif 'rc' in part:
            number, rc = part.split('rc')
            version_info.extend([int(number), f'rc{rc}'])
    return tuple(version_info)


version_info = parse_version_info(__version__)
