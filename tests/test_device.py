"""One device helper for the methods and the feature backbone."""

import pytest
import torch

from fsigenz.device import resolve_device


def test_auto_is_cuda_when_available_else_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_explicit_devices_pass_through():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_a_malformed_device_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match=r"device: expected 'auto', 'cpu' or 'cuda\[:i\]', got 'gpu0'"):
        resolve_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_cuda_device_is_refused():
    with pytest.raises(ValueError, match="device: 'cuda' requested, but torch sees no CUDA device"):
        resolve_device("cuda")
