import os

import pytest


def pytest_collection_modifyitems(config, items):
    # The end-to-end scenarios need root (chroot, bind mounts) to run the real Asterisk.
    if os.geteuid() != 0:
        raise pytest.UsageError("the end-to-end tests start a real Asterisk in a chroot: run them as root")
