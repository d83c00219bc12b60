"""The emitted project tree (profiler/output/project_tree.py): one writer that replaces the tree
whole and never a directory of the user's, and one reader of its services."""

import pytest

from profiler.errors import UsageError
from profiler.output import project_tree as tree
from profiler.output.policy_dir import CAPS, SECCOMP

OVERRIDE = "services:\n  app: {}\n  web: {}\n"


def _texts(*services):
    texts = {tree.OVERRIDE_FILE: "services:\n" + "".join(f"  {s}: {{}}\n" for s in services)}
    for s in services:
        texts[f"{s}/{SECCOMP}"] = "{}\n"
        texts[f"{s}/{CAPS}"] = "--cap-drop ALL\n"
    return texts


def test_a_service_that_went_leaves_no_stale_directory(tmp_path):
    out = tmp_path / "policy"
    tree.write(out, _texts("app", "web"))
    assert sorted(tree.read_services(out)) == ["app", "web"]
    tree.write(out, _texts("app"))
    assert sorted(p.name for p in out.iterdir()) == ["app", tree.OVERRIDE_FILE]
    assert tree.read_services(out) == {"app": out / "app"}
    assert [p.name for p in tmp_path.iterdir()] == ["policy"]  # no temporary left beside it


def test_a_directory_of_the_users_is_refused_and_kept(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(UsageError) as e:
        tree.write(out, _texts("app"))
    assert "emit did not write" in e.value.message
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    tree.write(empty, _texts("app"))
    assert (empty / "app" / SECCOMP).is_file()


def test_the_reader_says_what_is_missing(tmp_path):
    with pytest.raises(UsageError) as e:
        tree.read_services(tmp_path)
    assert tree.OVERRIDE_FILE in e.value.message
    (tmp_path / tree.OVERRIDE_FILE).write_text(OVERRIDE)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / SECCOMP).write_text("{}\n")
    with pytest.raises(UsageError) as e:
        tree.read_services(tmp_path)
    assert "service web of the override has no policy files" in e.value.message
    (tmp_path / tree.OVERRIDE_FILE).write_text("- a list\n")
    with pytest.raises(UsageError) as e:
        tree.read_services(tmp_path)
    assert "not an override profiler wrote" in e.value.message
