"""What the hunthub kernels' runs of `jupyter_kernel_test` share."""

from __future__ import annotations

import os


class LocalDriver:
    """Mixin for a `jupyter_kernel_test.KernelTests` class: the kernel runs a local driver, no warm driver.

    The protocol is what is under test, so a local driver is enough. `first_cell` runs once before the tests:
    a kernel's first Spark cell also shows where the session runs, which would upset the exact-output checks.
    """

    first_cell = ""
    _env = {"HUNTHUB_KERNEL_SPARK_MASTER": "local[1]", "HUNTHUB_KERNEL_WARM_DRIVER": "0"}

    @classmethod
    def setUpClass(cls):
        cls._saved = {k: os.environ.get(k) for k in cls._env}
        os.environ.update(cls._env)
        super().setUpClass()
        if cls.first_cell:
            cls.kc.execute_interactive(cls.first_cell, timeout=240)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for k, v in cls._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
