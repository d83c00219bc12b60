#!/usr/bin/env bash
# Build the sample images (samples/*/), each only when it is absent or its inputs changed; a
# compose sample (samples/NAME/SERVICE/Dockerfile) gives one image per service.
#
#   scripts/build-samples.sh [--force] [NAME...]     default: every sample
#
# An image carries the label org.profiler.sample-hash: a hash of the sample directory's files
# and of the base image id. A matching label means the image is current and is not rebuilt.
# C sources in a sample directory (*.c) are compiled statically on the host (gcc -O2 -static)
# into the build context, so images need no compiler and the binaries need no libc.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BASE="${PROFILER_BASE_IMAGE:-profiler-base:bookworm}"
LABEL=org.profiler.sample-hash
export DOCKER_BUILDKIT=0   # the classic builder: present in every engine, reads local images

force=0
names=()
for a in "$@"; do
    case "$a" in
        --force) force=1 ;;
        -*) die "unknown option $a (usage: $0 [--force] [NAME...])" ;;
        *) names+=("$a") ;;
    esac
done

need_root
take_lock
docker_up || die "the Docker engine does not answer (run scripts/setup.sh)"
image_exists "$BASE" || "$PROFILER_ROOT/scripts/build-base-image.sh"
base_id="$(docker image inspect -f '{{.Id}}' "$BASE")"

if [ "${#names[@]}" -eq 0 ]; then
    for d in "$PROFILER_ROOT"/samples/*/; do
        [ -f "$d/sample.yaml" ] && names+=("$(basename "$d")")
    done
fi

# The image name is the top-level `image:` key of sample.yaml (kept flat on purpose).
sample_image() {
    sed -n 's/^image:[[:space:]]*["'\'']\{0,1\}\([^"'\''[:space:]#]*\).*/\1/p' "$1/sample.yaml" | head -n1
}

sample_hash() {
    { printf 'base %s\n' "$base_id"
      (cd "$1" && find . -type f ! -name '*~' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-16
}

# build_image LABEL DIR IMAGE: build DIR (a Dockerfile and its context) as IMAGE when absent or
# changed. LABEL names it in messages (samples/NAME or samples/NAME/SERVICE).
build_image() {
    local what="$1" dir="$2" image="$3" hash old_id new_id t ctx src
    hash="$(sample_hash "$dir")"
    old_id="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    if [ "$force" -eq 0 ] && [ -n "$old_id" ] \
        && [ "$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$image")" = "$hash" ]; then
        return 0
    fi

    say "building sample image $image"
    t=$SECONDS
    ctx="$(mktemp -d /var/tmp/profiler-sample.XXXXXX)"
    cp -a "$dir/." "$ctx/"
    for src in "$ctx"/*.c; do
        [ -e "$src" ] || continue
        command -v gcc >/dev/null || { rm -rf "$ctx"; die "gcc is needed to build $what (run scripts/setup.sh)"; }
        if ! gcc -O2 -static -pthread -Wall -Wextra -o "${src%.c}" "$src" 2>"$ctx/gcc.log"; then
            cat "$ctx/gcc.log" >&2; rm -rf "$ctx"
            die "compiling $what/$(basename "$src") failed"
        fi
    done
    if ! docker build -t "$image" --label "$LABEL=$hash" "$ctx" >"$ctx/build.log" 2>&1; then
        tail -n 20 "$ctx/build.log" >&2; rm -rf "$ctx"
        die "docker build of $image failed (last lines above)"
    fi
    rm -rf "$ctx"
    say "sample image $image built in $((SECONDS - t)) s"
    # Drop the replaced image when nothing uses it (keeps rebuilds from piling up).
    new_id="$(docker image inspect -f '{{.Id}}' "$image")"
    if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
        docker image rm "$old_id" >/dev/null 2>&1 || true
    fi
}

for name in "${names[@]}"; do
    dir="$PROFILER_ROOT/samples/$name"
    [ -f "$dir/sample.yaml" ] || die "no sample '$name' (expected $dir/sample.yaml)"
    if [ -f "$dir/Dockerfile" ]; then
        image="$(sample_image "$dir")"
        [ -n "$image" ] || die "samples/$name/sample.yaml has no image: key"
        build_image "samples/$name" "$dir" "$image"
        continue
    fi
    # A compose sample (kind: compose, e.g. samples/shop): one image per service directory,
    # named profiler-sample-NAME-SERVICE (its sample.yaml's `images:` and compose.yaml say so).
    built=0
    for sub in "$dir"/*/; do
        [ -f "$sub/Dockerfile" ] || continue
        service="$(basename "$sub")"
        build_image "samples/$name/$service" "${sub%/}" "profiler-sample-$name-$service"
        built=1
    done
    [ "$built" -eq 1 ] || die "sample '$name' has no Dockerfile (expected $dir/Dockerfile or $dir/SERVICE/Dockerfile)"
done
