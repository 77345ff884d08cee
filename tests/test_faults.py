"""Fault suite for bad input (issue 12 items 3, 7, 8, 9, 10, 11); every fixture file is written by the test."""

from __future__ import annotations

import pytest
import torch

from voipdns.checkpoint_formats.common import check_state_dict
from voipdns.checkpoint_formats.errors import CheckpointFormatError, CheckpointKeyError
from voipdns.models.demucs import Demucs
from voipdns.models.fullsubnet import FullSubNet
from voipdns.pretrained import load_net

TINY_DEMUCS = {"hidden": 4, "depth": 3}
TINY_FULLSUBNET = {"n_fft": 64, "hop_samples": 32, "win_samples": 64, "fb_hidden_size": 16, "sb_hidden_size": 8}


# --- item 7: a renamed or reshaped key in an official state_dict names the file, the key and the shape ---


def test_check_state_dict_lists_missing_unexpected_and_reshaped_keys():
    state = {"a.weight": torch.zeros(2, 3), "b.bias": torch.zeros(4), "c": torch.zeros(1)}
    expected = {"a.weight": (2, -1), "b.bias": (5,), "d": (7, 7)}
    with pytest.raises(CheckpointKeyError) as info:
        check_state_dict("model.th", state, expected)
    message = str(info.value)
    assert message.startswith("model.th: ")
    assert "missing (1): d [7, 7]" in message and "unexpected (1): c [1]" in message
    assert "reshaped (1): b.bias [4], expected [5]" in message
    assert isinstance(info.value, CheckpointFormatError) and isinstance(info.value, KeyError)
    check_state_dict("model.th", {"a.weight": torch.zeros(2, 9)}, {"a.weight": (2, -1)})  # -1: any size


def test_demucs_state_dict_with_a_renamed_key_names_file_and_key(tmp_path):
    state = Demucs(**TINY_DEMUCS).state_dict()
    state["encoder.1.0.w"] = state.pop("encoder.1.0.weight")
    path = tmp_path / "renamed.th"
    torch.save(state, path)
    with pytest.raises(CheckpointKeyError, match=r"renamed\.th: .*missing \(1\): encoder\.1\.0\.weight \[\*, \*, \*\]"):
        load_net(path)


def test_demucs_state_dict_with_a_reshaped_key_names_the_expected_shape(tmp_path):
    state = Demucs(**TINY_DEMUCS).state_dict()
    state["encoder.1.0.weight"] = torch.zeros(8, 4)  # one dimension lost: config inference would unpack it
    torch.save(state, tmp_path / "rank.th")
    with pytest.raises(
        CheckpointKeyError, match=r"rank\.th: .*reshaped \(1\): encoder\.1\.0\.weight \[8, 4\], expected \[\*, \*, \*\]"
    ):
        load_net(tmp_path / "rank.th")
    state["encoder.1.0.weight"] = torch.zeros(8, 3, 8)  # right rank, wrong input channels for hidden 4
    torch.save(state, tmp_path / "size.th")
    with pytest.raises(
        CheckpointKeyError, match=r"size\.th: .*encoder\.1\.0\.weight \[8, 3, 8\], expected \[8, 4, 8\]"
    ):
        load_net(tmp_path / "size.th")


def test_fullsubnet_state_dict_with_a_reshaped_key_names_file_and_shape(tmp_path):
    state = FullSubNet(**TINY_FULLSUBNET).state_dict()
    state["sb_model.fc_output_layer.weight"] = torch.zeros(3, 8)
    path = tmp_path / "fsn.tar"
    torch.save({"epoch": 1, "best_score": 0.0, "optimizer": {}, "scaler": {}, "model": state}, path)
    with pytest.raises(
        CheckpointKeyError, match=r"fsn\.tar.*sb_model\.fc_output_layer\.weight \[3, 8\], expected \[2, 8\]"
    ):
        load_net(path)
    del state["fb_model.fc_output_layer.weight"]  # a key config inference reads
    torch.save(state, path)
    with pytest.raises(CheckpointKeyError, match=r"fsn\.tar.*missing \(1\): fb_model\.fc_output_layer\.weight"):
        load_net(path)
