"""resolve_inside: the one rule that keeps a tool's path inside its folder (workspace, a skill)."""

from __future__ import annotations

import pytest

from nanofolks_core.paths import resolve_inside


def test_a_path_inside_the_folder_resolves(tmp_path):
    (tmp_path / "notes").mkdir()
    assert resolve_inside(tmp_path, "notes/../notes/a.md", "the workspace") == tmp_path.resolve() / "notes" / "a.md"
    assert resolve_inside(tmp_path, ".", "the workspace") == tmp_path.resolve()


@pytest.mark.parametrize("relative", ["../secret", "/etc/passwd", "notes/../../x"])
def test_a_path_that_leaves_the_folder_is_refused(tmp_path, relative):
    with pytest.raises(PermissionError, match=f"^{relative!r} is outside the workspace$"):
        resolve_inside(tmp_path, relative, "the workspace")


def test_a_link_pointing_out_of_the_folder_is_refused(tmp_path):
    folder, outside = tmp_path / "skill", tmp_path / "outside.txt"
    folder.mkdir()
    outside.write_text("secret")
    (folder / "link.txt").symlink_to(outside)
    with pytest.raises(PermissionError, match="outside the skill's folder"):
        resolve_inside(folder, "link.txt", "the skill's folder")
