#!/usr/bin/env bash
# Vendor the GraphiQL page's assets into gateway/http/static/graphiql/.
#
# Government networks have no internet, so the gateway serves GraphiQL's
# scripts and styles itself. The files and versions are the ones Strawberry's
# own GraphiQL page loads from unpkg; the page keeps Strawberry's Subresource
# Integrity hashes, so a file that differs from what unpkg serves will not run.
#
# Each package comes from the npm registry through `npm pack` (which checks the
# tarball against the registry's integrity hash), and its LICENSE is copied
# beside its files. VERSIONS records every package's version and tarball
# integrity and the sha256 of every vendored file, in a form `sha256sum -c`
# reads (comment lines aside).
#
# Usage: scripts/vendor-graphiql.sh        (from anywhere; needs npm, tar, sha256sum)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target="$repo_root/gateway/http/static/graphiql"

# package@version | directory under $target | files taken from the tarball's package/
assets=(
    "react@18.2.0|react-18.2.0|umd/react.production.min.js"
    "react-dom@18.2.0|react-dom-18.2.0|umd/react-dom.production.min.js"
    "js-cookie@3.0.5|js-cookie-3.0.5|dist/js.cookie.min.js"
    "graphiql@3.8.3|graphiql-3.8.3|graphiql.min.js graphiql.min.css"
    "@graphiql/plugin-explorer@1.0.2|plugin-explorer-1.0.2|dist/index.umd.js dist/style.css"
)
# @graphiql/plugin-explorer publishes no LICENSE file: it lives in the graphql/graphiql
# monorepo, whose MIT licence (shipped in the graphiql tarball) covers it. Its UMD build
# also bundles graphiql-explorer, whose own licence goes beside it.
explorer_bundled="graphiql-explorer@0.9.0"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pack() {
    # npm pack prints a JSON description; keep "name@version integrity" for VERSIONS.
    local spec=$1 dest=$2
    mkdir -p "$dest"
    (cd "$dest" && npm pack --json --silent "$spec" >pack.json)
    node -e '
        const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        console.log(`${p.name}@${p.version} ${p.integrity}`);
    ' "$dest/pack.json" >"$dest/provenance"
    tar -xzf "$dest"/*.tgz -C "$dest"
}

rm -rf "$target"
mkdir -p "$target"
provenance=()

for entry in "${assets[@]}"; do
    IFS='|' read -r spec dir files <<<"$entry"
    unpacked="$work/$dir"
    pack "$spec" "$unpacked"
    provenance+=("$(cat "$unpacked/provenance")")
    mkdir -p "$target/$dir"
    for file in $files; do
        cp "$unpacked/package/$file" "$target/$dir/"
    done
    if [[ -f "$unpacked/package/LICENSE" ]]; then
        cp "$unpacked/package/LICENSE" "$target/$dir/LICENSE"
    fi
done

cp "$work/graphiql-3.8.3/package/LICENSE" "$target/plugin-explorer-1.0.2/LICENSE"
pack "$explorer_bundled" "$work/graphiql-explorer"
provenance+=("$(cat "$work/graphiql-explorer/provenance") (bundled in plugin-explorer, licence only)")
cp "$work/graphiql-explorer/package/LICENSE" "$target/plugin-explorer-1.0.2/LICENSE.graphiql-explorer"

for entry in "${assets[@]}"; do
    IFS='|' read -r _ dir _ <<<"$entry"
    [[ -f "$target/$dir/LICENSE" ]] || { echo "no LICENSE for $dir" >&2; exit 1; }
done

{
    echo "# GraphiQL assets vendored from the npm registry by scripts/vendor-graphiql.sh."
    echo "# Do not edit: rerun the script. Check with: grep -v '^#' VERSIONS | sha256sum -c"
    echo "#"
    echo "# package@version tarball-integrity"
    for line in "${provenance[@]}"; do
        echo "# $line"
    done
    echo "#"
    echo "# sha256  file"
    (cd "$target" && find . -type f ! -name VERSIONS | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum)
} >"$target/VERSIONS"

echo "vendored into $target:"
du -sh "$target"
