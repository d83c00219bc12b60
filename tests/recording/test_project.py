"""project.py: selectors, service names, the index file round trip and its errors (no root)."""

from __future__ import annotations

import pytest

from profiler.recording import project, recording_io
from profiler.errors import RecordingError, UsageError
from profiler.recording.project import Instance, Project, Selector, Service

from emitcases import NGINX

ID_A = "a" * 64
ID_B = "0123456789abcdef" * 4


def test_selector_parses_label_and_value():
    s = project.parse_selector("com.docker.compose.project=shop")
    assert s == Selector("com.docker.compose.project", "shop")
    assert str(s) == "com.docker.compose.project=shop"
    assert project.parse_selector("a=b=c").value == "b=c"


@pytest.mark.parametrize("bad", ["nolabel", "=v", "k=", "with space=v", "k=a\nb"])
def test_selector_refuses_bad_text(bad):
    with pytest.raises(UsageError) as e:
        project.parse_selector(bad)
    assert e.value.hint and "--match" in e.value.hint


def test_matches_needs_every_selector():
    sels = (Selector("p", "shop"), Selector("s", "web"))
    assert project.matches({"p": "shop", "s": "web", "x": "1"}, sels)
    assert not project.matches({"p": "shop"}, sels)
    assert not project.matches({"p": "shop", "s": "db"}, sels)


def test_service_of_prefers_compose_label_then_name():
    assert project.service_of({"com.docker.compose.service": "web"}, "/shop_web_1") == "web"
    assert project.service_of({"io.kubernetes.container.name": "api"}, "/k8s_x") == "api"
    assert project.service_of({}, "/lonely") == "lonely"


@pytest.mark.parametrize("bad", ["../etc", "a/b", "-x", "x" * 64, "a b", "a\n"])
def test_service_of_refuses_names_that_cannot_name_a_policy(bad):
    with pytest.raises(UsageError):
        project.service_of({"com.docker.compose.service": bad}, "/ok")


def _project() -> Project:
    return Project(
        selectors=(Selector("com.docker.compose.project", "shop"),),
        services=(Service("web", "shop-web", (Instance(ID_A, "shop_web_1"),
                                              Instance(ID_B, "shop_web_2", attached=True))),
                  Service("cache", "shop-cache", ())),
        compose_project="shop", started_at="2026-11-29T20:00:00Z",
        ended_at="2026-11-29T20:01:00Z")


def test_index_round_trip_sorts_services():
    p = _project()
    back = project.loads(project.dumps(p))
    assert [s.name for s in back.services] == ["cache", "web"]
    assert back.service("web") == p.services[0]
    assert back.selectors == p.selectors and back.compose_project == "shop"
    assert back.service("web").recording == "web.recording.yaml"


@pytest.mark.parametrize("text, why", [
    ("kind: other\nversion: 1\n", "kind"),
    ("kind: profiler-project\nversion: 9\nservices: []\n", "version"),
    ("kind: profiler-project\nversion: 1\n", "field"),
    ("kind: profiler-project\nversion: 1\nservices:\n- name: ../x\n", "cannot name"),
    ("kind: profiler-project\nversion: 1\nservices:\n- name: w\n  recording: ../x\n", "recording"),
    ("kind: profiler-project\nversion: 1\nservices:\n- name: w\n  containers:\n  - id: zz\n", "id"),
    ("kind: profiler-project\nversion: 1\nservices:\n- name: w\n- name: w\n", "twice"),
    ("kind: [\n", "YAML"),
])
def test_index_errors_say_why(text, why):
    with pytest.raises(RecordingError) as e:
        project.loads(text, "idx")
    assert why in e.value.message and e.value.message.startswith("idx:")


def test_write_then_read_directory(tmp_path):
    nginx_recording = recording_io.load(NGINX)
    p = Project((Selector("k", "v"),), (Service("web", "nginx", (Instance(ID_A, "w"),)),))
    written = project.write(tmp_path / "out", p, {"web": nginx_recording})
    assert [w.name for w in written] == ["web.recording.yaml", "index.yaml"]
    assert project.is_project_dir(tmp_path / "out")
    back = project.read(tmp_path / "out")
    recs = project.load_recordings(tmp_path / "out", back)
    assert recording_io.dumps(recs["web"]) == recording_io.dumps(nginx_recording)


def test_write_refuses_a_service_without_recording(tmp_path):
    p = Project((), (Service("web", "nginx"),))
    with pytest.raises(UsageError):
        project.write(tmp_path / "out", p, {})
    assert not (tmp_path / "out").exists()


def test_read_of_a_plain_directory_gives_a_hint(tmp_path):
    assert not project.is_project_dir(tmp_path)
    with pytest.raises(UsageError) as e:
        project.read(tmp_path)
    assert "record --match" in e.value.hint
