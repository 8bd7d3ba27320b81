"""The repository carries its licence and says what its shipped weights were made from."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_root_licence_is_the_apache_2_text_the_metadata_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 11000
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^license = \{ text = "Apache-2.0" \}$', pyproject, re.M)
    package = json.loads((ROOT / "bridge_unity/package.json").read_text())
    assert package["license"] == "Apache-2.0"
    assert (ROOT / "bridge_unity/LICENSE.md").read_text() == text


def test_notices_name_the_data_and_tools_with_their_licences() -> None:
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    for needle in ("Free Spoken Digit Dataset", "CC BY-SA 4.0", "FACEGOOD",
                   "Copyright (c) 2022-2032 The FACEGOOD Authors", "ICT-FaceKit",
                   "Copyright (c) 2020 USC Institute for Creative Technologies",
                   "eSpeak NG", "GNU GPL version 3 or later", "Flite", "Festival",
                   "festvox-us-slt-hts", "PocketSphinx", "CMU Pronouncing Dictionary"):
        assert needle in notices, needle


def test_shipped_weights_were_trained_on_synthetic_corpora_only() -> None:
    """The notices say no real recording trained the weights: the cards must agree."""
    for card in sorted((ROOT / "facewire/models/weights").glob("*.json")):
        command = json.loads(card.read_text()).get("command", {})
        train = command.get("train", "") if isinstance(command, dict) else ""
        data = re.findall(r"--data\s+(\S+)", train)
        assert not [d for d in data if re.search(r"fsdd|facegood", d, re.I)], (card.name, data)
