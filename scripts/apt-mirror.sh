#!/usr/bin/env bash
# Print the Debian archive URI this machine's apt uses for SUITE (default bookworm), so that the
# base image is bootstrapped from the same mirror. The mirror is read at run time and never
# written into the repository. When no source names SUITE (a trixie host bootstrapping the
# bookworm base image, this host building a forky VM), the archive that serves the host's own
# release (VERSION_CODENAME in ROOT/etc/os-release) is used: a Debian archive serves every suite.
#
#   scripts/apt-mirror.sh [SUITE] [ROOT]     ROOT (default /) is prefixed to the apt paths (tests)
#
# $PROFILER_DEBIAN_MIRROR, when set, wins. Reads deb822 files (sources.list.d/*.sources) first,
# then one-line files (sources.list, sources.list.d/*.list). Exit 1 when nothing matches.
set -euo pipefail

suite="${1:-bookworm}"
root="${2:-/}"
root="${root%/}"

if [ -n "${PROFILER_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$PROFILER_DEBIAN_MIRROR"
    exit 0
fi

shopt -s nullglob
deb822=("$root"/etc/apt/sources.list.d/*.sources)
oneline=()
[ -f "$root/etc/apt/sources.list" ] && oneline+=("$root/etc/apt/sources.list")
oneline+=("$root"/etc/apt/sources.list.d/*.list)

find_uri() {   # SUITE -> the first matching source's URI, or nothing
    local suite="$1" uri=""
    if [ "${#deb822[@]}" -gt 0 ]; then
        # deb822: stanzas split by blank lines; "Key: value" with continuation lines starting with
        # whitespace; keys are case-insensitive. A stanza with "Enabled: no" is skipped.
        uri="$(awk -v suite="$suite" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && enabled != "no" && uris != "") {
                    split(uris, u, " "); print u[1]; found = 1; exit
                }
                types = suites = uris = key = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { val = $0; gsub(/^[ \t]+|[ \t]+$/, "", val)
                       if (key == "types") types = types " " val
                       else if (key == "suites") suites = suites " " val
                       else if (key == "uris") uris = uris " " val
                       next }
            {
                key = tolower(substr($0, 1, index($0, ":") - 1))
                val = substr($0, index($0, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
                gsub(/[ \t]+/, " ", val)
                if (key == "types") types = val
                else if (key == "suites") suites = val
                else if (key == "uris") uris = val
                else if (key == "enabled") enabled = tolower(val)
            }
            END { if (!found) flush() }
        ' "${deb822[@]}")"
    fi

    if [ -z "$uri" ] && [ "${#oneline[@]}" -gt 0 ]; then
        # One-line format: deb [options] URI SUITE COMPONENT...
        uri="$(awk -v suite="$suite" '
            /^[ \t]*#/ || NF < 3 || $1 != "deb" { next }
            {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if (i + 1 <= NF && $(i + 1) == suite) { print $i; exit }
            }
        ' "${oneline[@]}")"
    fi
    printf '%s' "$uri"
}

uri="$(find_uri "$suite")"
if [ -z "$uri" ] && [ -r "$root/etc/os-release" ]; then
    own="$(. "$root/etc/os-release" && printf '%s' "${VERSION_CODENAME:-}")"
    [ -n "$own" ] && [ "$own" != "$suite" ] && uri="$(find_uri "$own")"
fi

case "$uri" in
    http://*|https://*|file:/*) printf '%s\n' "${uri%/}" ;;
    *) echo "no Debian mirror for '$suite' in $root/etc/apt sources (set PROFILER_DEBIAN_MIRROR)" >&2
       exit 1 ;;
esac
