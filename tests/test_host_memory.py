"""The host backends ask glibc to keep freed memory (M_TOP_PAD), and can be told not to."""

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="M_TOP_PAD is a glibc setting",
)

PROBE = (
    "import backends; backends.get('numpy'); "
    "from backends import host_memory; print(host_memory._applied)"
)


def _probe(**settings):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environment.pop("ENGINE_MALLOC_TOP_PAD", None)
    environment.update(settings)
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True
    )


def test_numpy_backend_keeps_freed_memory():
    assert _probe().stdout.strip() == "[True]"


@pytest.mark.parametrize(
    "settings", [{"ENGINE_MALLOC_TOP_PAD": "0"}, {"MALLOC_TOP_PAD_": "1048576"}]
)
def test_opting_out_or_an_explicit_glibc_setting_wins(settings):
    assert _probe(**settings).stdout.strip() == "[False]"


def test_a_bad_setting_is_a_clear_error():
    result = _probe(ENGINE_MALLOC_TOP_PAD="lots")
    assert result.returncode != 0
    assert "ENGINE_MALLOC_TOP_PAD must be a number of bytes" in result.stderr
