#!/usr/bin/env bash
# Wrap Nightshift.app in a compressed disk image with an /Applications shortcut (drag to install).
#
#   packaging/macos/make_dmg.sh dist/Nightshift.app 0.1.0 out/Nightshift-0.1.0-macos-arm64.dmg
#
# packaging/build.py macos calls this after PyInstaller has built and ad-hoc signed the .app.
# Signing with a Developer ID and notarising need Apple credentials: set NIGHTSHIFT_CODESIGN_IDENTITY to sign
# here; notarisation (xcrun notarytool) is left to the release workflow that holds the credentials.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 PATH/TO/Nightshift.app VERSION OUTPUT.dmg" >&2
    exit 2
fi
app=$1
version=$2
dmg=$3

if [[ ! -d "$app/Contents/MacOS" ]]; then
    echo "error: $app is not an .app bundle" >&2
    exit 1
fi
plist_version=$(/usr/libexec/PlistBuddy -c "Print :CFBundleShortVersionString" "$app/Contents/Info.plist")
if [[ "$plist_version" != "$version" ]]; then
    echo "error: $app says version $plist_version, expected $version" >&2
    exit 1
fi

if [[ -n "${NIGHTSHIFT_CODESIGN_IDENTITY:-}" ]]; then
    codesign --force --deep --options runtime --timestamp --sign "$NIGHTSHIFT_CODESIGN_IDENTITY" "$app"
fi
codesign --verify --deep --strict "$app"

staging=$(mktemp -d -t nightshift-dmg)
trap 'rm -rf "$staging"' EXIT
# ditto keeps symlinks, extended attributes and signatures intact (cp -R can break framework signatures).
ditto "$app" "$staging/$(basename "$app")"
ln -s /Applications "$staging/Applications"

mkdir -p "$(dirname "$dmg")"
rm -f "$dmg"
hdiutil create -volname "Nightshift $version" -srcfolder "$staging" -fs HFS+ -format UDZO -imagekey zlib-level=9 \
    -ov "$dmg"
hdiutil verify "$dmg"
echo "built $dmg"
