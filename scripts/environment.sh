# Sourced by scripts/open and scripts/test: find a supported Python and let scripts/open.py create,
# repair or update the course's virtual environment (it reinstalls when pyproject.toml changed).
set -euo pipefail
COURSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GRADCLINIC_VENV:-$COURSE_ROOT/.venv}"

course_python() {  # $PYTHON if set, else the first Python 3.11–3.13 on PATH (open.py checks it again)
    local candidate
    if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
            echo "$candidate"; return
        fi
    done
    # None supported: open.py run by python3 names what to install.
    if command -v python3 >/dev/null 2>&1; then echo python3; return; fi
    echo "error: no python3 found; install Python 3.12 (Debian/Ubuntu: sudo apt install python3 python3-venv;" \
         "macOS: https://www.python.org/downloads/)" >&2
    return 1
}

ensure_environment() {  # $1: pip extras, e.g. "test,instructor"
    local python
    python="$(course_python)"
    "$python" "$COURSE_ROOT/scripts/open.py" --environment-only --venv "$VENV" --extras "$1"
    export PATH="$VENV/bin:$PATH"
}
