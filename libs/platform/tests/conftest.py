from __future__ import annotations

from pathlib import Path

import pytest

from caseplatform.settings import PlatformSettings


@pytest.fixture
def settings(tmp_path: Path) -> PlatformSettings:
    return PlatformSettings(casework_data_dir=tmp_path)
