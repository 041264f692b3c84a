# Copyright (c) mmhornet contributors. All rights reserved.
