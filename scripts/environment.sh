# Sourced by scripts/open and scripts/test: create or update the course's virtual environment.
# The environment is rebuilt only when pyproject.toml changed since the last install.
set -euo pipefail
COURSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$COURSE_ROOT/.venv"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

ensure_environment() {  # $1: pip extras, e.g. "test,instructor"
    local extras="$1"
    local stamp="$VENV/.gradclinic-installed"
    local want
    want="$(sha256sum "$COURSE_ROOT/pyproject.toml" | cut -c1-16) [$extras]"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "Creating the course environment in $VENV (first run: a few minutes)…"
        "$PYTHON" -m venv "$VENV"
    fi
    if [[ ! -f "$stamp" ]] || ! grep -qxF "$want" "$stamp"; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e "$COURSE_ROOT[$extras]"
        echo "$want" >> "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}
