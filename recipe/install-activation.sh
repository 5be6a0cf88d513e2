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
# Scripts that run a sibling file name it by @PREFIX@; writing the build prefix
# there lets conda, mamba and rattler relocate it at install time.
while IFS= read -r -d '' f; do
    if grep -qF '@PREFIX@' "$f"; then
        sed -i "s|@PREFIX@|$PREFIX|g" "$f"
    fi
done < <(find "$PREFIX/etc" "$PREFIX/share" -type f -print0 2>/dev/null)
