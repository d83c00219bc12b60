"""The AppArmor renderer: every profile passes `apparmor_parser -Q -K -T`, glob collapse, and
hostile file names (hypothesis) that must never add, widen or break a rule."""

import os
import re
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from emitcases import check_golden, nginx, recording, shell
from profiler.kernel import apparmor_syntax as aa_syntax
from profiler.policy.normalize import normalize_path
from profiler.policy.reduce import reduce
from profiler.render import apparmor

PARSER = shutil.which("apparmor_parser") or "/usr/sbin/apparmor_parser"
# Without the parser these tests skip locally; under CI=true they run (and fail): CI installs it.
needs_parser = pytest.mark.skipif(
    not os.path.exists(PARSER) and os.environ.get("CI", "").lower() not in ("true", "1", "yes"),
    reason="apparmor_parser not installed (apt-get install apparmor)")

# A file rule: the path (group 1), then `{,/}` when it may also be a directory, then the letters.
RULE = re.compile(r'^  "((?:[^"\\]|\\.)*?)(?:\{,/\})?" ([a-z]+),$')


def parse(text: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    f = tmp_path / "profile"
    f.write_text(text)
    return subprocess.run([PARSER, "-Q", "-K", "-T", *extra, str(f)], capture_output=True,
                          text=True, timeout=60)


def assert_parses(text: str, tmp_path) -> None:
    proc = parse(text, tmp_path)
    assert proc.returncode == 0, proc.stderr + "\n" + text


def file_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("  # Files the app used.") + 1
    end = lines.index("  # Docker's default denials.")
    return [x for x in lines[start:end] if x]


def without_files(text: str) -> list[str]:
    """The profile minus its file rules and the dropped-paths note: what must not change."""
    lines = text.splitlines()
    start = lines.index("  # Files the app used.") + 1
    end = lines.index("  # Docker's default denials.")
    rest = lines[:start] + lines[end:]
    return [x for x in rest if "were left out" not in x and "not UTF-8 and cannot" not in x]


def unescape(pattern: str) -> str:
    """The literal string a rule's quoted pattern denotes (rules carry octal escapes only)."""
    assert not re.search(r"\\(?![0-7]{3})", pattern), pattern
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), pattern)


def octal_literal(text: str) -> str:
    """text as a quoted AppArmor pattern in which every character but letters, digits and "/"
    is an octal escape: the parser reads those as literal characters, whatever they are."""
    out = []
    for c in text:
        if c.isascii() and (c.isalnum() or c == "/"):
            out.append(c)
        else:
            out.extend("\\%03o" % b for b in c.encode())
    return "".join(out)


# --- fixtures and formats ----------------------------------------------------------------------

def test_golden_nginx(update_golden):
    # today's default before generalisation by kind and risk (the default's own
    # golden files: test_emit_general_golden.py)
    check_golden("nginx.apparmor.profile", apparmor.render(reduce([nginx()], generalise=False)),
                 update_golden)


@needs_parser
@pytest.mark.parametrize("complain", [False, True])
@pytest.mark.parametrize("which", ["nginx", "shell"])
def test_fixture_profiles_parse(which, complain, tmp_path):
    rec = nginx() if which == "nginx" else shell()
    text = apparmor.render(reduce([rec]), complain=complain)
    (head,) = [x for x in text.splitlines() if x.startswith("profile ")]
    assert ("complain" in head) == complain
    assert_parses(text, tmp_path)


def test_nginx_rules():
    rules = dict(RULE.match(x).groups() for x in file_section(
        apparmor.render(reduce([nginx()], generalise=False))))
    assert rules["/usr/lib/x86_64-linux-gnu/libc.so.6"] == "rm"  # mapped executable by ld.so
    assert rules["/usr/sbin/nginx"] == "ix"
    assert rules["/var/log/nginx/access.log"] == "w"  # w covers append (AppArmor forbids wa)
    assert rules["/var/lib/nginx/body/"] == "w"  # mkdir: the directory path, trailing slash
    # symlinks: the rule names the file AppArmor checks, and the directory the app listed
    assert rules["/usr/share/nginx/modules-available/mod-http-echo.conf"] == "r"
    assert rules["/etc/nginx/modules-enabled/"] == "r"
    assert rules["@{PROC}/sys/kernel/ngroups_max"] == "r"
    text = apparmor.render(reduce([nginx()]))
    assert '  "/etc/nginx/conf.d{,/}" r,' in text  # listed, empty: may be a directory
    for line in ("capability chown,", "network inet stream,", "network unix stream,",
                 "deny mount,", "deny /sys/firmware/** rwklx,",
                 "ptrace (trace,read,tracedby,readby) peer=profiler-sample-nginx,"):
        assert "  " + line in text.splitlines()
    assert "capability net_bind_service" not in text  # only denied, never granted
    assert "apparmor_parser -r -W apparmor.profile" in text  # the header says how to load it


def test_append_only_and_lock():
    rec = recording(names=("read", "flock"), files=[("/var/log/app.log", ["append"]),
                                                    ("/var/lib/app/db", ["read", "write"])])
    rules = dict(RULE.match(x).groups() for x in file_section(apparmor.render(reduce([rec]))))
    assert rules == {"/var/log/app.log": "a", "/var/lib/app/db": "rwk"}


@needs_parser
def test_unknown_socket_family_or_type_gives_no_rule(tmp_path):
    rec = recording(sockets=[("AF_99", "SOCK_STREAM"), ("AF_INET", "SOCK_9"),
                             ("AF_NETLINK", "SOCK_RAW")])
    text = apparmor.render(reduce([rec], generalise=False))
    assert [x.strip() for x in text.splitlines() if x.strip().startswith("network ")] == \
        ["network netlink raw,"]
    assert_parses(text, tmp_path)


# --- glob collapse -----------------------------------------------------------------------------

def _many(n, directory, access=("read",)):
    return [(f"{directory}/f{i}.txt", list(access)) for i in range(n)]


def test_collapse_files_at_threshold():
    below = reduce([recording(files=_many(7, "/srv/data"))])
    assert len(file_section(apparmor.render(below))) == 7
    at = reduce([recording(files=_many(8, "/srv/data") + [("/srv/data/w", ["write"])])])
    assert file_section(apparmor.render(at)) == ['  "/srv/data/*{,/}" r,', '  "/srv/data/w" w,']
    assert len(file_section(apparmor.render(at, glob_threshold=20))) == 9


def test_collapse_subtrees():
    files = [f for d in range(9) for f in _many(9, f"/usr/share/app/d{d}")]
    text = apparmor.render(reduce([recording(files=files + [("/usr/share/app/x", ["read"])])]))
    assert file_section(text) == ['  "/usr/share/app/**" r,']


def test_no_collapse_at_the_top():
    files = _many(9, "") + [f for d in range(9) for f in _many(9, f"/d{d}")]
    rules = [RULE.match(x).group(1) for x in file_section(apparmor.render(
        reduce([recording(files=files)])))]
    assert "/*" not in rules and "/**" not in rules
    assert all(not r.endswith("/**") for r in rules)  # depth-1 dirs never become /X/**


@needs_parser
def test_large_collapsed_profile_parses(tmp_path):
    files = [f for d in range(30) for f in _many(20, f"/opt/app/lib/m{d}")]
    files += [(f"/opt/app/conf/c{i}.conf", ["read", "write"]) for i in range(5)]
    text = apparmor.render(reduce([recording(files=files)]))
    assert len(file_section(text)) < 10
    assert_parses(text, tmp_path)


# --- hostile names -----------------------------------------------------------------------------

HOSTILE = ["a", "b", "/", " ", "\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", ",",
           '"', "'", "{", "}", "*", "**", "?", "[", "]", "^", "@", "\\", "#", "deny ", "}",
           "@{HOME}", "@{pid}", "\ufffd", "é", " rwlkmix,\n  /** ", "owner ", "-> ", "$"]

hostile_name = st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=8).map("".join).filter(
    lambda s: s not in (".", "..") and "/" not in s)
# Below /srv/ so that no normalisation rule (proc, temp names) applies: every safe pattern
# must be the exact, escaped path.
hostile_path = st.lists(hostile_name, min_size=1, max_size=3).map(lambda c: "/srv/" + "/".join(c))


def _render_paths(paths, threshold=10**6):
    rec = recording(files=[(p, ["read"]) for p in paths])
    return apparmor.render(reduce([rec]), glob_threshold=threshold)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_path, min_size=1, max_size=6, unique=True))
@example(["/srv/a", "/srv/\\"])
@example(["/srv/a", "/srv/a/b\n", "/srv/a/c"])
def test_hostile_paths_never_add_widen_or_break_rules(paths):
    text = _render_paths(paths)
    baseline = _render_paths([])
    # Nothing outside the file rules changes: no rule was added elsewhere.
    assert without_files(text) == without_files(baseline)
    rules = file_section(text)
    parsed = [RULE.match(x) for x in rules]
    assert all(parsed), rules  # every line is exactly one quoted path and its letters
    safe = {p for p in paths if apparmor.unsafe_reason(normalize_path(p)) is None}
    patterns = [m.group(1) for m in parsed]
    assert len(patterns) == len(set(patterns)) == len({normalize_path(p) for p in safe})
    # each rule is one input path, literally (only escapes, no live glob): nothing widened.
    # A path that is the parent of another one is a directory: its rule ends in "/".
    literal = [unescape(x) for x in patterns]
    assert sorted(x.removesuffix("/") for x in literal) == sorted(safe)
    for x in literal:
        assert x.endswith("/") == any(p.startswith(x) for p in safe if x.endswith("/")), x
    assert all(m.group(2) == "r" for m in parsed)
    for p in paths:
        if any(c in p for c in "\n\r\x00\ufffd"):
            assert p not in safe  # control characters and undecodable bytes are dropped


def _expr_tree(rule: str, tmp) -> str:
    proc = parse(f"profile x {{\n{rule}\n}}\n", tmp, "-D", "expr-tree")
    assert proc.returncode == 0, proc.stderr
    return (proc.stdout + proc.stderr).split("Expression Tree", 1)[1].strip()


@needs_parser
def test_expr_tree_comparison_can_fail(tmp_path):
    # live globs and alternatives compile differently from their literal text
    for live in ("/srv/*", "/srv/{a,b}", "/srv/[ab]", "/srv/a?"):
        assert _expr_tree(f'  "{live}" r,', tmp_path) != \
            _expr_tree(f'  "{octal_literal(live)}" r,', tmp_path)
    assert _expr_tree('  "/srv/\\054\\052" r,', tmp_path) == \
        _expr_tree(f'  "{octal_literal("/srv/,*")}" r,', tmp_path)


@needs_parser
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_path, min_size=1, max_size=4, unique=True))
@example(["/srv/a", "/srv/\\"])  # a trailing backslash once swallowed the next rule
def test_hostile_profiles_parse_and_compile_to_literals(paths):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        text = _render_paths(paths)
        assert_parses(text, tmp)
        # Each file rule compiles to exactly the literal path: the same expression tree as the
        # path written with nothing but octal escapes.
        for rule in file_section(text):
            pattern = RULE.match(rule).group(1)
            either = "{,/}" if rule.endswith('{,/}" r,') else ""
            literal = f'  "{octal_literal(unescape(pattern).removesuffix("/"))}' + \
                ('/" r,' if pattern.endswith("/") else f'{either}" r,')
            assert _expr_tree(rule, tmp) == _expr_tree(literal, tmp), (rule, literal)


@pytest.mark.parametrize("pattern,reason", [
    ("/a\nb", "control"), ("/a\x00", "control"), ("/a\ufffd", "UTF-8"),
    ("/a\\b", "backslash"), ("/a/@{HOME}", "variable"), ("/a,b", "unescaped"),
    ('/a"b', "unescaped"), ("/a{b,c}", "unescaped"), ("relative", "absolute"),
])
def test_unsafe_patterns_are_rejected(pattern, reason):
    assert reason in apparmor.unsafe_reason(pattern)


def test_dropped_paths_are_reported_not_written():
    rec = recording(files=[("/srv/ok", ["read"]), ("/srv/bad\nname", ["read"]),
                           ("/srv/x\ufffd", ["read"])])
    policy = reduce([rec])
    text = apparmor.render(policy)
    assert [r for r, _ in apparmor.dropped(policy)] == ["/srv/bad\nname", "/srv/x\ufffd"]
    assert "2 recorded path(s) were left out" in text
    assert "bad" not in text and "\ufffd" not in text


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(HOSTILE + ["\\*", "\\,", "\\@", "@{tid}", "\\\\"]),
                max_size=8).map(lambda x: "/" + "".join(x)))
def test_fast_and_slow_checks_agree(pattern):
    if pattern.isprintable() and "\ufffd" not in pattern:
        fast = aa_syntax.SAFE_PATTERN.fullmatch(pattern) is not None
        assert fast == (apparmor._syntax_error(pattern) is None), pattern


def test_directories_get_a_trailing_slash():
    rec = recording(files=[("/etc/app", ["read"]), ("/etc/app/a.conf", ["read"]),
                           ("/var/lib/app/cache", ["mkdir", "chown"]), ("/etc/empty.d", ["read"])])
    rules = file_section(apparmor.render(reduce([rec], generalise=False)))
    # a parent of a recorded path, and a path made with mkdir, are directories; an empty
    # directory that was only listed cannot be told from a file (the recording has no type),
    # so a path only read gets a rule for both names
    assert rules == ['  "/etc/app/" r,', '  "/etc/app/a.conf{,/}" r,', '  "/etc/empty.d{,/}" r,',
                     '  "/var/lib/app/cache/" w,']


def test_plain_fast_path_accepts_exactly_printable_ascii_without_specials():
    # _check_patterns trusts _PLAIN without unsafe_reason: it must accept no character that
    # unsafe_reason would look at.
    accepted = {chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
                and apparmor._PLAIN.fullmatch("/" + chr(c))}
    assert accepted == {chr(c) for c in range(32, 127)} - set('\\*?[]{}^,"@')
    assert all(apparmor.unsafe_reason("/a" + c) is None for c in accepted)


def _reference_collapse(rules, threshold):
    """collapse() as first written, one key at a time (the specification the grouped, memoised
    implementation must keep)."""
    from collections import Counter, defaultdict

    parent = lambda p: p.rpartition("/")[0]  # noqa: E731
    direct, children = defaultdict(list), defaultdict(set)
    for key in rules:
        d = parent(key[0])
        direct[d].append(key)
        while d:
            children[parent(d)].add(d)
            d = parent(d)
    dirs = sorted(set(direct) | set(children), key=lambda d: (-d.count("/"), d))
    below, star, starstar = {}, {}, {}
    for d in dirs:
        keys = direct.get(d, ())
        count = Counter(x for key in keys if not key[1] for x in rules[key])
        letters = {x for key in keys for x in rules[key]}
        sub = Counter()
        for c in children.get(d, ()):
            sub.update(below[c])
            letters |= below[c]
        below[d] = letters
        if d.count("/") >= 1:
            star[d] = {x for x, n in count.items() if n >= threshold}
        if d.count("/") >= 2:
            starstar[d] = {x for x, n in sub.items() if n >= threshold}
    cover = {"": set()}
    for d in reversed(dirs):
        if d:
            cover[d] = cover[parent(d)] | starstar.get(d, set())
    out = {}
    for d, keys in direct.items():
        for key in keys:
            strip = cover[d] if key[1] else cover[d] | star.get(d, set())
            left = set(rules[key]) - strip
            if left:
                out[key] = aa_syntax.ordered_permissions(left)
    for d in dirs:
        if starstar.get(d) and starstar[d] - cover[parent(d)]:
            out[(d + "/**", False)] = aa_syntax.ordered_permissions(starstar[d] - cover[parent(d)])
        if star.get(d) and star[d] - cover[d]:
            out[(d + "/*", False)] = aa_syntax.ordered_permissions(star[d] - cover[d])
    return out


_PERMS = st.sets(st.sampled_from("rwalm"), min_size=1).map(aa_syntax.ordered_permissions)


@settings(max_examples=300)
@given(st.dictionaries(
    st.tuples(st.tuples(st.lists(st.sampled_from("ab"), max_size=3), st.integers(0, 30))
              .map(lambda t: "/" + "".join(d + "/" for d in t[0]) + f"f{t[1]}"),
              st.booleans()),
    _PERMS, max_size=80), st.integers(min_value=2, max_value=4))
def test_collapse_matches_the_reference(rules, threshold):
    assert apparmor.collapse(rules, threshold) == _reference_collapse(rules, threshold)


def test_a_renamed_file_needs_read_and_write():
    rec = recording(files=[("/tmp/app/file.tmp", ["create", "write", "rename"]),
                           ("/tmp/app/file", ["create"])])
    rules = file_section(apparmor.render(reduce([rec], generalise=False)))
    assert rules == ['  "/tmp/app/file" w,', '  "/tmp/app/file.tmp" rw,']


# --- paths at the root, and emit's self-check with apparmor_parser (issue 18) ------------------

@needs_parser
@pytest.mark.parametrize("files", [
    [("/", ["read"])],  # a listing of the root: was the bare rule `"{,/}" r,`
    [("/", ["write"])],  # was the empty path `"" w,`
    [("//", ["read"]), ("/etc", ["read"])],
    [("/", ["mkdir"]), ("/tmp/", ["write"])],
    [("/proc/", ["read"]), ("/", ["read", "write", "chmod"])],
])
def test_root_paths_give_valid_rules(files, tmp_path):
    text = apparmor.render(reduce([recording(files=files)]))
    rules = file_section(text)
    assert all(RULE.match(x) for x in rules), rules
    assert not any(x.startswith(('  "" ', '  "{,/}"')) for x in rules), rules
    if any(p in ("/", "//") for p, _ in files):  # the root is the directory "/"
        assert any(x.startswith('  "/" ') for x in rules), rules
    assert_parses(text, tmp_path)
    assert apparmor.validate(text)


# Components anywhere in the tree, the root and its neighbours included: empty ones (a "//"),
# ".", "..", trailing slashes, /proc, and the hostile characters above.
_COMPONENT = st.one_of(st.sampled_from(["", ".", "..", "proc", "tmp", "self", "1", "x"]),
                       hostile_name)
_ANY_PATH = st.tuples(st.lists(_COMPONENT, max_size=4), st.booleans()).map(
    lambda t: "/" + "/".join(t[0]) + ("/" if t[1] else ""))
_ACCESS = st.lists(st.sampled_from(["read", "write", "append", "create", "delete", "mkdir",
                                    "rename", "link", "chmod", "execute"]),
                   min_size=1, max_size=3, unique=True)


@needs_parser
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_ANY_PATH, _ACCESS), min_size=1, max_size=8),
       st.integers(min_value=2, max_value=10**6))
@example([("/", ["read"])], 10**6)
@example([("//", ["write"]), ("/a", ["read"])], 2)
def test_every_rendered_profile_parses(files, threshold):
    """Whatever paths a recording holds, the profile emit writes compiles (validate raises
    PolicyError with apparmor_parser's error otherwise)."""
    executables = [p for p, access in files if "execute" in access]
    rec = recording(files=files, executables=executables)
    text = apparmor.render(reduce([rec]), glob_threshold=threshold)
    assert apparmor.validate(text), text


def test_the_parsers_real_error_line_is_reported():
    stderr = ("Cache read/write disabled: interface file missing. (Kernel needs AppArmor 2.4 "
              "compatibility patch.)\nAppArmor parser error at line 3: Lexer found unexpected "
              "character: '\"' (0x22) in state: INITIAL\n")
    line = apparmor.error_line(stderr, 'profile x {\n  #include <abstractions/base>\n  "{,/}" r,\n}')
    assert line.startswith("AppArmor parser error at line 3: Lexer found")
    assert "Cache read/write" not in line and "'\"{,/}\" r,'" in line


@needs_parser
def test_validate_refuses_what_the_parser_refuses():
    from profiler.errors import PolicyError

    good = apparmor.render(reduce([nginx()]))
    assert apparmor.validate(good)
    bad = good.replace("  # Files the app used.\n", '  # Files the app used.\n  "" w,\n')
    with pytest.raises(PolicyError) as e:
        apparmor.validate(bad)
    assert "does not compile" in e.value.message and "parser error" in e.value.message
    assert "Cache read/write" not in e.value.message and e.value.exit_code == 2
