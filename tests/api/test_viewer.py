"""viewer: any key learns its workspace and role (what a UI may offer)."""

from __future__ import annotations

import pytest

from domain.access import Role
from tests.conftest import Workspace


@pytest.mark.parametrize("role", list(Role))
async def test_each_key_reads_its_own_workspace_and_role(workspace: Workspace, role: Role) -> None:
    result = await workspace.gql("{ viewer { workspace role } }", role=role)

    assert result.data["viewer"] == {"workspace": workspace.name, "role": role.value}
