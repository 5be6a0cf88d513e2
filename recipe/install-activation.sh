#!/usr/bin/env bash
# Install the activation scripts `microarch-level generate` rendered for the
# package and level being built (recipe/generated/<package>/<level>/ mirrors the
# environment prefix).  The baseline gate (x86_64 1, ppc64le 8) has none: every
# CPU of its family reaches it.
set -euo pipefail
src="$RECIPE_DIR/generated/$PKG_NAME/$PKG_VERSION"
if [ ! -d "$src" ]; then
    exit 0
fi
cp -R "$src/." "$PREFIX/"
# The scripts hold no prefix (conda's relocation would write it as raw text, which a
# shell parses): they find their sibling files at run time, from CONDA_PREFIX.
