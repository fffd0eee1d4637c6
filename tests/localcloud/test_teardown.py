"""A stack's deletion at ``stop``: every service deletes what it created, whatever another's fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud import LocalCloud, LocalCloudError
from localcloud.core.assembly import StackArtifact

pytestmark = pytest.mark.localcloud


class Deletes:
    def __init__(self, deleted: list[str], name: str, *, fails: bool = False) -> None:
        self.deleted, self.name, self.fails = deleted, name, fails

    def tear_down(self) -> None:
        self.deleted.append(self.name)
        if self.fails:
            raise LocalCloudError(f"{self.name}'s Delete failed")


def test_one_services_failed_delete_does_not_skip_the_others_and_is_raised():
    deleted: list[str] = []
    cloud = LocalCloud(StackArtifact("Teardown", {"Resources": {}}, Path(".")))
    cloud.start()
    states = cloud.kernel._states
    states["first"] = Deletes(deleted, "first")
    states["second"] = Deletes(deleted, "second", fails=True)
    states["third"] = Deletes(deleted, "third", fails=True)
    with pytest.raises(LocalCloudError, match=r"third's Delete failed.*second's Delete failed"):
        cloud.stop()
    assert deleted == ["third", "second", "first"]
    assert not cloud.kernel._running
