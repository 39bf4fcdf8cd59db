"""Per-channel settings from YAML: defaults, overrides, clear errors for bad files."""

import pytest

from bots.slack.channel_config import ChannelConfig, ChannelSettings
from core.errors import ConfigError


def test_defaults_without_a_file():
    assert ChannelConfig.load(None).for_channel("C1") == ChannelSettings()


def test_channels_inherit_the_file_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "defaults:\n  allowed_sources: [confluence, gdocs]\n"
        "channels:\n  CHELP:\n    answer_on_mention_only: false\n  COFF:\n    enabled: false\n    allowed_sources: []\n"
    )
    config = ChannelConfig.load(path)
    assert config.for_channel("CHELP") == ChannelSettings(False, ("confluence", "gdocs"), True)
    assert config.for_channel("COFF") == ChannelSettings(True, (), False)
    assert config.for_channel("CANY") == ChannelSettings(True, ("confluence", "gdocs"), True)


@pytest.mark.parametrize(
    "text, message",
    [
        ("channels:\n  C1:\n    mention_only: true\n", "unknown setting"),
        ("channels:\n  C1:\n    enabled: yes please\n", "expected true or false"),
        ("channels:\n  C1:\n    allowed_sources: confluence\n", "list of source names"),
        ("chanels: {}\n", "top-level keys"),
        ("channels: [C1]\n", "must map channel ids"),
        ("channels: {C1: [\n", "not valid YAML"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        ChannelConfig.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ChannelConfig.load(tmp_path / "nope.yaml")
