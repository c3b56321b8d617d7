"""Every verification preset, as the discriminated union of their config models. One line per preset."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hookgate.gateway.verify import github, none

VerifyConfig = Annotated[
    github.GitHubConfig | none.NoneConfig,
    Field(discriminator="type"),
]
"""A trigger's ``verify`` section; ``type`` picks the preset."""
