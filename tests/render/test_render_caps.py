"""--format caps: exactly one line that can be pasted into `docker run`."""

from emitcases import check_golden, nginx, recording
from profiler.policy.reduce import reduce
from profiler.render import caps


def test_nginx_line(update_golden):
    text = caps.render(reduce([nginx()]))
    assert text == ("--cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add SETGID "
                    "--cap-add SETUID\n")
    check_golden("nginx.caps.txt", text, update_golden)


def test_none_needed():
    assert caps.render(reduce([recording()])) == "--cap-drop ALL\n"


def test_sorted_and_without_prefix():
    rec = recording(caps=[("CAP_SYS_PTRACE", 19), ("CAP_AUDIT_WRITE", 29), ("CAP_KILL", 5)])
    assert caps.render(reduce([rec])) == \
        "--cap-drop ALL --cap-add AUDIT_WRITE --cap-add KILL --cap-add SYS_PTRACE\n"
