"""--format compose: a services.<name> fragment with the run line's settings."""

from dataclasses import replace

import yaml

from emitcases import check_golden, nginx, recording, shell
from profiler.policy.reduce import reduce
from profiler.render import compose


def test_golden(update_golden):
    # today's default before generalisation by kind and risk (the default's own
    # golden files: test_emit_general_golden.py)
    check_golden("nginx.compose.yaml", compose.render(reduce([nginx()], generalise=False)),
                 update_golden)
    # today's default before generalisation by kind and risk (the default's own
    # golden files: test_emit_general_golden.py)
    check_golden("shell.compose.yaml", compose.render(reduce([shell()], generalise=False)),
                 update_golden)


def test_nginx_service():
    svc = yaml.safe_load(compose.render(reduce([nginx()])))["services"]["profiler-sample-nginx"]
    assert svc["image"] == "profiler-sample-nginx"
    assert svc["cap_drop"] == ["ALL"]
    assert svc["cap_add"] == ["CHOWN", "DAC_OVERRIDE", "SETGID", "SETUID"]
    assert svc["security_opt"] == ["seccomp=./seccomp.json", "no-new-privileges:true"]
    assert svc["read_only"] is True
    assert svc["tmpfs"] == ["/root", "/run", "/tmp", "/var/log/nginx", "/var/tmp"]
    assert svc["volumes"] == ["profiler-sample-nginx-var-lib-nginx:/var/lib/nginx"]
    assert svc["pids_limit"] == 1024
    assert svc["ports"] == ["127.0.0.1:18080:80"]
    assert "user" not in svc and "network_mode" not in svc


def test_shell_service():
    svc = yaml.safe_load(compose.render(reduce([shell()])))["services"]["profiler-base"]
    assert svc["network_mode"] == "none"
    assert svc["command"] == ["sh", "-c", "echo ok; cat /etc/hostname; sleep 0.1; id -u"]


def test_hostile_values_stay_strings():
    evil = 'x"\n  privileged: true\n#: {a: [b'
    rec = recording(uids=[1000], gids=[1000], run_options=[("env", f"A={evil}"),
                                                           ("volume", "/a:/b"), ("ulimit", "x")],
                    sockets=[("AF_INET", "SOCK_STREAM")])
    rec = replace(rec, metadata=replace(rec.metadata, command=(evil,)))
    text = compose.render(reduce([rec]))
    (svc,) = yaml.safe_load(text)["services"].values()
    assert svc["environment"] == [f"A={evil}"]
    assert svc["command"] == [evil]
    assert svc["volumes"] == ["/a:/b"]
    assert svc["user"] == "1000:1000"
    assert "privileged" not in svc
    assert "--ulimit x" in text  # no compose equivalent: said in a comment
