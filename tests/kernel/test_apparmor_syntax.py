"""AppArmor's language in one place (profiler/kernel/apparmor_syntax.py): escaping, quoting,
permission order and the profile header, as every writer and reader of it spells them."""

from hypothesis import given, strategies as st

from profiler.kernel import apparmor_syntax as aa


@given(st.text(alphabet='/ab\\*?[]{}^,"@ ', max_size=12))
def test_escape_then_octal_then_unoctal_is_the_escaped_pattern(text):
    escaped = aa.escape(text)
    assert aa.unoctal(aa.octal(escaped)) == escaped
    assert not any(c in aa.SPECIAL for c in aa.octal(escaped).replace("\\", ""))


def test_quoted_path_leaves_no_backslash_before_a_quote():
    assert aa.quoted_path('/a,b"\\') == '"/a\\054b\\042\\134"'


def test_permissions_are_ordered_and_w_absorbs_a():
    assert aa.ordered_permissions({"ix", "m", "a", "r"}) == ("r", "a", "m", "ix")
    assert aa.ordered_permissions({"a", "w", "k"}) == ("w", "k")


def test_profile_header():
    text = '#include <tunables/global>\nprofile "my app" flags=(attach_disconnected) {\n}\n'
    assert aa.profile_name(text) == "my app"
    assert aa.profile_name("/usr/bin/x {\n}\n") is None
    assert aa.has_profile_block("/usr/bin/x {\n}\n") and not aa.has_profile_block("# none\n")


def test_rule_shapes():
    m = aa.FILE_RULES[0].match('owner "/etc/x" rw,')
    assert (m.group("path"), m.group("perms")) == ('"/etc/x"', "rw")
    assert aa.NETWORK_RULE.match("network inet stream,").group("fam") == "inet"
    assert aa.CAPABILITY_RULE.match("capability chown setuid,").group("names").split() == [
        "chown", "setuid"]
