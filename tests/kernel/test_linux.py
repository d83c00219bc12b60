"""The two spellings of a capability (profiler/kernel/linux.py): the kernel's and Docker's."""

from profiler.kernel.linux import CAPABILITIES, cap_full, cap_short


def test_every_spelling_becomes_the_kernels_and_dockers():
    for given in ("chown", "CHOWN", "cap_chown", "CAP_CHOWN", "Cap_Chown"):
        assert (cap_full(given), cap_short(given)) == ("CAP_CHOWN", "CHOWN"), given


def test_the_spellings_round_trip_for_every_known_capability():
    for name in CAPABILITIES.values():
        assert cap_full(cap_short(name)) == name
        assert cap_short(cap_full(cap_short(name))) == cap_short(name)
    # ALL is Docker's word for every capability, not a capability: only the prefix changes
    assert cap_short("ALL") == "ALL"
