#!/usr/bin/env bash
# Installs the real third-party OSCAR test peers used by flapjack's interop
# tests (see interop/README.md):
#
#   * libpurple (Debian bookworm's libpurple-dev) + the OSCAR protocol plugins
#     (liboscar/libaim/libicq) taken from Debian bullseye's libpurple0
#     2.14.1-1 (bookworm no longer ships them), fetched with a private apt
#     state so the system's apt sources stay untouched;
#   * the headless libpurple driver, built from interop/purple-driver/;
#   * Twisted 16.6 (twisted.words.protocols.oscar) in a Python 2.7 virtualenv,
#     plus interop/twisted-driver/twisted_driver.py.
#
# Idempotent; run as root on Debian bookworm.  A re-run on a machine where
# everything is in place only verifies it (a few seconds).
#
# Result (default prefix /opt/flapjack-peers, override with
# FLAPJACK_PEERS_PREFIX):
#   $PREFIX/bin/purple-driver           headless libpurple driver
#   $PREFIX/bin/twisted-driver          wrapper: venv python + twisted_driver.py
#   $PREFIX/purple-plugins/             libaim.so libicq.so liboscar.so.0*
#   $PREFIX/twisted-venv/               Python 2.7 virtualenv with Twisted 16.6.0
#   $PREFIX/env                         KEY=VALUE lines naming all of the above
set -euo pipefail

PREFIX="${FLAPJACK_PEERS_PREFIX:-/opt/flapjack-peers}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PURPLE_SRC="$REPO_ROOT/interop/purple-driver"
TWISTED_SRC="$REPO_ROOT/interop/twisted-driver/twisted_driver.py"

BULLSEYE_PKG_VERSION="2.14.1-1"
# sha256 of libpurple0_2.14.1-1_amd64.deb (checked in addition to apt's own
# signature/hash verification; only enforced on amd64).
BULLSEYE_DEB_SHA256_AMD64="f676ff9761f3c370853cf2b3ee69ceb5325d64f69a9dafe8e2b332f1ccdfa0bf"

PY27="${FLAPJACK_PY27:-/root/.pyenv/versions/2.7.18/bin/python2.7}"
VIRTUALENV_VERSION="16.7.12"   # last virtualenv that runs on, and creates, py2.7
INCREMENTAL_VERSION="21.3.0"   # newer releases do not work on Python 2
ZOPE_INTERFACE_VERSION="5.4.0" # last zope.interface with Python 2.7 support
CONSTANTLY_VERSION="15.1.0"
TWISTED_VERSION="16.6.0"

APT_PACKAGES=(libpurple-dev libglib2.0-dev pkg-config gcc make libc6-dev
              ca-certificates binutils)

log()  { printf '[install-peers] %s\n' "$*"; }
warn() { printf '[install-peers] WARNING: %s\n' "$*" >&2; }
die()  { printf '[install-peers] ERROR: %s\n' "$*" >&2; exit 1; }

trap 'die "failed at line $LINENO (exit status $?)"' ERR

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ -d $PURPLE_SRC && -f $TWISTED_SRC ]] || die "run from a flapjack checkout ($REPO_ROOT)"

export DEBIAN_FRONTEND=noninteractive
mkdir -p "$PREFIX/bin" "$PREFIX/share"

# --------------------------------------------------------------------------
# 1. system packages (apt-get update only when something is missing)
# --------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "Debian packages present: ${APT_PACKAGES[*]}"
fi
pkg-config --exists purple || die "pkg-config does not know 'purple' after installing libpurple-dev"
log "libpurple $(pkg-config --modversion purple) (system)"

# --------------------------------------------------------------------------
# 2. OSCAR plugins from bullseye's libpurple0 2.14.1-1 (private apt state)
# --------------------------------------------------------------------------
PLUGIN_DIR="$PREFIX/purple-plugins"
PLUGIN_STAMP="$PLUGIN_DIR/.source"
plugins_ok() {
    [[ -f $PLUGIN_DIR/libaim.so && -f $PLUGIN_DIR/libicq.so &&
       -f $PLUGIN_DIR/liboscar.so.0.0.0 && -L $PLUGIN_DIR/liboscar.so.0 &&
       -f $PLUGIN_STAMP && $(cat "$PLUGIN_STAMP") == "libpurple0=$BULLSEYE_PKG_VERSION" ]]
}

# Debian mirror: reuse the URI of the system's main archive (the entry whose
# suite is this release's codename), only with suite "bullseye".
debian_mirror_uri() {
    local codename uri
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [[ -n $codename ]] || return 1
    uri="$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(COMPONENT) $(IDENTIFIER)' 2>/dev/null |
           awk -v c="$codename" '$2 == c && $3 == "main" && $4 == "Packages" { print $1; exit }' || true)"
    if [[ -z $uri ]]; then
        # fallback: parse the source files directly
        uri="$( { grep -hs -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                  sed -E 's/\[[^]]*\]//' | awk -v c="$codename" '$3 == c { print $2; exit }'; } || true)"
    fi
    if [[ -z $uri ]]; then
        uri="$(awk -v c="$codename" '
            BEGIN { RS=""; FS="\n" }
            {
              u=""; s=""; t=""
              for (i = 1; i <= NF; i++) {
                if ($i ~ /^URIs:/)   { u=$i; sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); u=a[1] }
                if ($i ~ /^Suites:/) { s=" " $i " " }
                if ($i ~ /^Types:/)  { t=$i }
              }
              if (u != "" && t ~ /deb( |$)/ && s ~ (" " c " ")) { print u; exit }
            }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
    fi
    [[ -n $uri ]] || return 1
    printf '%s\n' "${uri%/}"
}

if plugins_ok; then
    log "OSCAR plugins present in $PLUGIN_DIR"
else
    APT_PRIV="$PREFIX/apt-bullseye"
    mkdir -p "$APT_PRIV/state/lists/partial" "$APT_PRIV/cache/archives/partial" \
             "$APT_PRIV/etc" "$APT_PRIV/debs"
    MIRROR="$(debian_mirror_uri)" || die "cannot find the Debian mirror in the system's apt configuration"
    log "Debian mirror from system apt config: $MIRROR (suite bullseye, private apt state in $APT_PRIV)"

    APT_OPTS=(
        -o "Dir::State=$APT_PRIV/state"
        -o "Dir::State::status=/dev/null"
        -o "Dir::Cache=$APT_PRIV/cache"
        -o "Dir::Etc::SourceList=$APT_PRIV/etc/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::Etc::Preferences=/dev/null"
        -o "Dir::Etc::PreferencesParts=/dev/null"
        -o "APT::Sandbox::User=root"
        -o "Acquire::Languages=none"
        -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false"
    )
    KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
    write_sources() {  # $1 = signed-by option or trusted=yes
        printf 'deb [%s] %s bullseye main\n' "$1" "$MIRROR" > "$APT_PRIV/etc/sources.list"
    }
    write_sources "signed-by=$KEYRING"
    if ! apt-get "${APT_OPTS[@]}" update -q; then
        # debian-archive-keyring (bookworm) carries bullseye's archive keys, so
        # this should not happen.  If it does, fall back to an unauthenticated
        # private source: it only ever serves this one download, whose
        # sha256 is pinned above (amd64) and checked below.
        warn "bullseye index did not verify with $KEYRING; retrying with [trusted=yes] for the private bullseye state only"
        write_sources "trusted=yes"
        apt-get "${APT_OPTS[@]}" update -q
    fi

    deb="$(ls "$APT_PRIV/debs"/libpurple0_"${BULLSEYE_PKG_VERSION}"_*.deb 2>/dev/null | head -n1 || true)"
    if [[ -z $deb ]]; then
        (cd "$APT_PRIV/debs" && apt-get "${APT_OPTS[@]}" download "libpurple0=$BULLSEYE_PKG_VERSION")
        deb="$(ls "$APT_PRIV/debs"/libpurple0_"${BULLSEYE_PKG_VERSION}"_*.deb | head -n1)"
    fi
    [[ -f $deb ]] || die "download of libpurple0=$BULLSEYE_PKG_VERSION failed"
    if [[ $(dpkg --print-architecture) == amd64 ]]; then
        got="$(sha256sum "$deb" | cut -d' ' -f1)"
        [[ $got == "$BULLSEYE_DEB_SHA256_AMD64" ]] ||
            { rm -f "$deb"; die "sha256 mismatch for $deb: $got"; }
    fi

    x="$(mktemp -d)"
    dpkg-deb -x "$deb" "$x"
    src="$x/usr/lib/purple-2"
    [[ -f $src/liboscar.so.0.0.0 && -f $src/libaim.so && -f $src/libicq.so ]] ||
        die "the .deb does not contain the expected OSCAR plugins"
    rm -rf "$PLUGIN_DIR.new"
    mkdir -p "$PLUGIN_DIR.new"
    install -m 0644 "$src/liboscar.so.0.0.0" "$src/libaim.so" "$src/libicq.so" "$PLUGIN_DIR.new/"
    # soname link needed to satisfy libaim/libicq's NEEDED liboscar.so.0.  The
    # unversioned dev link (liboscar.so) is deliberately left out: libpurple
    # would probe it as a plugin and log an error.
    ln -s liboscar.so.0.0.0 "$PLUGIN_DIR.new/liboscar.so.0"
    echo "libpurple0=$BULLSEYE_PKG_VERSION" > "$PLUGIN_DIR.new/.source"
    rm -rf "$x" "$PLUGIN_DIR"
    mv "$PLUGIN_DIR.new" "$PLUGIN_DIR"
    log "OSCAR plugins installed in $PLUGIN_DIR"
fi

# every libpurple symbol liboscar needs must exist in the system libpurple
LIBPURPLE_SO="$(pkg-config --variable=libdir purple)/libpurple.so.0"
if [[ -f $LIBPURPLE_SO ]]; then
    unresolved="$(comm -23 \
        <(nm -D --undefined-only "$PLUGIN_DIR/liboscar.so.0.0.0" | awk '{print $2}' | sed 's/@.*//' | grep '^purple_\|^serv_' | sort -u) \
        <(nm -D --defined-only "$LIBPURPLE_SO" | awk '{print $3}' | sed 's/@.*//' | sort -u))"
    [[ -z $unresolved ]] || die "liboscar needs symbols missing from $LIBPURPLE_SO: $unresolved"
fi

# --------------------------------------------------------------------------
# 3. libpurple driver
# --------------------------------------------------------------------------
PURPLE_BIN="$PREFIX/bin/purple-driver"
PURPLE_STAMP="$PREFIX/bin/.purple-driver.stamp"
want_stamp="$( { cat "$PURPLE_SRC/purple-driver.c" "$PURPLE_SRC/Makefile";
                 pkg-config --modversion purple; echo "$PLUGIN_DIR"; } | sha256sum | cut -d' ' -f1)"
if [[ -x $PURPLE_BIN && -f $PURPLE_STAMP && $(cat "$PURPLE_STAMP") == "$want_stamp" ]]; then
    log "purple-driver up to date: $PURPLE_BIN"
else
    log "building purple-driver"
    build_log="$(mktemp)"
    make -s -C "$PURPLE_SRC" OUT="$PURPLE_BIN.tmp" PLUGIN_DIR="$PLUGIN_DIR" >"$build_log" 2>&1 ||
        { cat "$build_log" >&2; die "purple-driver build failed"; }
    if [[ -s $build_log ]]; then
        cat "$build_log" >&2
        warn "compiler output above (warnings)"
    fi
    rm -f "$build_log"
    mv -f "$PURPLE_BIN.tmp" "$PURPLE_BIN"
    echo "$want_stamp" > "$PURPLE_STAMP"
    log "built $PURPLE_BIN"
fi

# --------------------------------------------------------------------------
# 4. Twisted 16.6 in a Python 2.7 virtualenv
# --------------------------------------------------------------------------
VENV="$PREFIX/twisted-venv"
VPY="$VENV/bin/python"
twisted_ok() {
    [[ -x $VPY ]] && "$VPY" -c "
import twisted, twisted.words.protocols.oscar
assert twisted.__version__ == '$TWISTED_VERSION', twisted.__version__
" >/dev/null 2>&1
}
# pip: only the configured package index (no local find-links directories)
pip_env=(env -u PIP_FIND_LINKS PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1)
if twisted_ok; then
    log "Twisted $TWISTED_VERSION venv present: $VENV"
else
    [[ -x $PY27 ]] || die "Python 2.7 not found at $PY27 (set FLAPJACK_PY27)"
    log "creating Python 2.7 virtualenv $VENV"
    BOOT="$PREFIX/.virtualenv-bootstrap"
    if ! PYTHONPATH="$BOOT" "$PY27" -c "import virtualenv; assert virtualenv.__version__ == '$VIRTUALENV_VERSION'" 2>/dev/null; then
        rm -rf "$BOOT"
        "${pip_env[@]}" "$PY27" -m pip install -q --no-warn-script-location \
            --target "$BOOT" "virtualenv==$VIRTUALENV_VERSION"
    fi
    rm -rf "$VENV"
    # --no-download: use the pip/setuptools/wheel bundled inside virtualenv
    PYTHONPATH="$BOOT" "$PY27" -m virtualenv -q --no-download "$VENV"
    "${pip_env[@]}" "$VPY" -m pip install -q "incremental==$INCREMENTAL_VERSION"
    "${pip_env[@]}" "$VPY" -m pip install -q \
        "zope.interface==$ZOPE_INTERFACE_VERSION" "constantly==$CONSTANTLY_VERSION" \
        "Twisted==$TWISTED_VERSION"
    twisted_ok || die "Twisted $TWISTED_VERSION did not install correctly into $VENV"
    log "Twisted $TWISTED_VERSION installed in $VENV"
fi

install -m 0644 "$TWISTED_SRC" "$PREFIX/share/twisted_driver.py.tmp"
mv -f "$PREFIX/share/twisted_driver.py.tmp" "$PREFIX/share/twisted_driver.py"
cat > "$PREFIX/bin/twisted-driver.tmp" <<EOF
#!/bin/sh
# generated by .ci/install-peers.sh
exec "$VPY" "$PREFIX/share/twisted_driver.py" "\$@"
EOF
chmod 0755 "$PREFIX/bin/twisted-driver.tmp"
mv -f "$PREFIX/bin/twisted-driver.tmp" "$PREFIX/bin/twisted-driver"

# --------------------------------------------------------------------------
# 5. env file + smoke tests
# --------------------------------------------------------------------------
cat > "$PREFIX/env.tmp" <<EOF
FLAPJACK_PEERS_DIR=$PREFIX
FLAPJACK_PURPLE_DRIVER=$PURPLE_BIN
FLAPJACK_PURPLE_PLUGIN_DIR=$PLUGIN_DIR
FLAPJACK_TWISTED_DRIVER=$PREFIX/bin/twisted-driver
FLAPJACK_TWISTED_PYTHON=$VPY
FLAPJACK_TWISTED_DRIVER_PY=$PREFIX/share/twisted_driver.py
EOF
mv -f "$PREFIX/env.tmp" "$PREFIX/env"

probe="$("$PURPLE_BIN" --probe --plugin-dir "$PLUGIN_DIR" 2>&1)" ||
    { printf '%s\n' "$probe" >&2; die "purple-driver --probe failed"; }
grep -q '"prpl-aim"' <<<"$probe" && grep -q '"prpl-icq"' <<<"$probe" ||
    { printf '%s\n' "$probe" >&2; die "purple-driver did not load prpl-aim/prpl-icq"; }
log "purple-driver probe: $(grep '"ready"' <<<"$probe")"

tprobe="$("$PREFIX/bin/twisted-driver" --probe 2>&1)" ||
    { printf '%s\n' "$tprobe" >&2; die "twisted-driver --probe failed"; }
log "twisted-driver probe: $tprobe"

log "done; paths written to $PREFIX/env:"
sed 's/^/    /' "$PREFIX/env"
