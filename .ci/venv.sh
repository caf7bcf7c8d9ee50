# Sourced by ./run and ./test: create .venv with Python 3.11 if missing and install the
# project (editable) when setup.cfg changed since the last install.
ensure_venv() {
    local extras="$1" stamp=".venv/.installed${1:+-test}"
    # An up-to-date test install (./test) has everything ./run needs: use it as is rather
    # than reinstalling under running tests (tests/system/test_first_run_system.py runs ./run).
    if [ -z "$extras" ] && [ -f .venv/.installed-test ] && [ -x .venv/bin/idp ] \
            && [ ! setup.cfg -nt .venv/.installed-test ] \
            && [ ! pyproject.toml -nt .venv/.installed-test ]; then
        return 0
    fi
    if [ ! -x .venv/bin/python ]; then
        local py
        py="$(command -v python3.11 || true)"
        if [ -z "$py" ] && python3 -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' \
                2>/dev/null; then
            py="$(command -v python3)"
        fi
        if [ -z "$py" ]; then
            echo "error: Python 3.11 is required (python3.11 not found)" >&2
            exit 1
        fi
        "$py" -m venv .venv
        rm -f .venv/.installed*
    fi
    if [ ! -f "$stamp" ] || [ ! -x .venv/bin/idp ] || [ setup.cfg -nt "$stamp" ] \
            || [ pyproject.toml -nt "$stamp" ]; then
        echo "installing dependencies into .venv ..." >&2
        # setuptools warns about every data folder (templates/, data/ ...): keep the log and
        # show it only if the installation fails.
        if ! .venv/bin/python -m pip install --disable-pip-version-check -e ".$extras" \
                >.venv/pip-install.log 2>&1; then
            cat .venv/pip-install.log >&2
            echo "error: installation failed (log: .venv/pip-install.log)" >&2
            exit 1
        fi
        touch "$stamp"
    fi
}

# ensure_debian_tool BINARY DEFAULT PACKAGE WHAT: when BINARY (an override of DEFAULT) is
# missing and we are root on Debian, install PACKAGE (bounded, quiet, log under .venv/);
# otherwise warn that WHAT will be skipped (they fail under CI=true, see their conftest.py).
# Returns 0 when the tool was installed now (the caller may adjust the package).
ensure_debian_tool() {
    local binary="$1" default="$2" package="$3" what="$4" installed=1
    [ -x "$binary" ] && return 1
    if [ "$binary" = "$default" ] && [ "$(id -u)" -eq 0 ] \
            && command -v apt-get >/dev/null 2>&1; then
        echo "installing $package for the $what (apt-get install $package) ..." >&2
        if timeout 900 sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq $package" >".venv/apt-$package.log" 2>&1; then
            installed=0
        else
            echo "warning: installing $package failed (log: .venv/apt-$package.log)" >&2
        fi
    fi
    [ -x "$binary" ] || echo "warning: $binary not found: $what will be skipped" \
        "(they fail under CI=true)" >&2
    return $installed
}

# Browser tests (tests/browser) drive Debian's Chromium, never a downloaded one.
ensure_chromium() {
    ensure_debian_tool "${IDP_TEST_CHROMIUM:-/usr/bin/chromium}" /usr/bin/chromium chromium \
        "browser tests" || true
}

# System tests (tests/system) put Debian's nginx in front of two IdP nodes as the load
# balancer. Only the binary is used: the tests run their own instance with their own
# configuration, so the packaged service is stopped and disabled (systemd).
ensure_nginx() {
    if ensure_debian_tool "${IDP_TEST_NGINX:-/usr/sbin/nginx}" /usr/sbin/nginx nginx-light \
            "system tests" && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
    return 0
}
