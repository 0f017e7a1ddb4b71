"""Config loading: built-in names, base inheritance, schema checks with suggestions, --set overrides."""

from __future__ import annotations

import pytest
import yaml

from mimicgait.engine.config import ConfigError, builtin_configs, load_config, parse_override, save_config
from mimicgait.errors import UserError


def test_builtin_name_and_base_chain_resolve():
    cfg = load_config("casia-b/mimic")
    # from casia-b/gaitbase.yaml (the base) ...
    assert cfg["data"]["input_size"] == [64, 44] and cfg["data"]["ids_per_batch"] == 32
    # ... and from mimic.yaml itself, over the defaults
    assert cfg["loss"]["mickd_margin"] == 0.05 and cfg["mimic"]["guidance"] is True
    assert {"tiny", "casia-b/gaitbase", "grew/gaitbase", "gait3d/gaitbase", "oumvlp/gaitgl"} <= set(
        builtin_configs()
    )


@pytest.mark.parametrize("name", builtin_configs())
def test_every_builtin_config_builds_its_encoder(name):
    # the encoder each built-in config names, with its kwargs, at the input size its data settings
    # give for the 64x64 frames of the converted datasets
    from mimicgait.models import create_encoder
    from mimicgait.models.preprocess import Preprocess

    cfg = load_config(name)
    size = cfg["data"]["input_size"]
    preprocess = Preprocess(cfg["data"]["crop"], tuple(size) if size is not None else None)
    kwargs = {**(cfg["model"]["encoder_kwargs"] or {}), "input_size": preprocess.output_size((64, 64))}
    encoder = create_encoder(cfg["model"]["encoder"], **kwargs)
    assert sum(p.numel() for p in encoder.parameters()) > 0 and encoder.parts >= 1, name


def test_misspelt_key_is_an_error_with_a_suggestion(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  momentun: 0.9\n")
    with pytest.raises(ConfigError, match=r"optim\.momentun.*did you mean 'momentum'"):
        load_config(path)
    with pytest.raises(ConfigError, match="did you mean 'iterations'"):
        load_config("tiny", ["train.iteration=3"])


def test_file_base_is_relative_to_the_file_and_overrides_are_yaml_typed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.yaml").write_text("optim: {lr: 0.5, milestones: [7]}\nocclusion: {kinds: {top: 1.0}}\n")
    (tmp_path / "sub" / "child.yaml").write_text("base: ../base.yaml\noptim: {gamma: 0.5}\n"
                                                  "occlusion: {kinds: {middle: 0.2}}\n")
    cfg = load_config(tmp_path / "sub" / "child.yaml", ["optim.lr=1e-3", "train.amp=bf16", "data.flip=0"])
    assert cfg["optim"] == {**cfg["optim"], "lr": 1e-3, "gamma": 0.5, "milestones": [7]}
    assert cfg["occlusion"]["kinds"] == {"middle": 0.2}  # free-form maps are replaced, not merged
    assert cfg["train"]["amp"] == "bf16" and cfg["data"]["flip"] == 0


def test_wrong_types_and_malformed_overrides_are_rejected():
    with pytest.raises(ConfigError, match="optim.lr should be float"):
        load_config("tiny", ["optim.lr=fast"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("optim.lr")


def test_saved_config_reloads_identically(tmp_path):
    cfg = load_config("casia-b/gaitbase-cpu", ["seed=3"])
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(path)
    assert again == cfg
    assert yaml.safe_load(path.read_text()) == cfg  # nothing but the settings


def test_run_paths_are_taken_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "exp" / "runs" / "teacher").mkdir(parents=True)
    config = "base: tiny\nmimic: {teacher: runs/teacher, ven: runs/ven}\n"
    (tmp_path / "exp" / "mimic.yaml").write_text(config)
    monkeypatch.chdir(tmp_path)
    cfg = load_config("exp/mimic.yaml")
    assert cfg["mimic"]["teacher"] == str(tmp_path / "exp" / "runs" / "teacher")  # found beside the file
    assert cfg["mimic"]["ven"] == "runs/ven"  # nowhere: left as given, for the stage to name
    (tmp_path / "runs" / "teacher").mkdir(parents=True)
    assert load_config("exp/mimic.yaml")["mimic"]["teacher"] == "runs/teacher"  # from the cwd first


def test_missing_config_names_the_builtins():
    with pytest.raises(UserError, match="casia-b/gaitbase"):
        load_config("no-such-config")
