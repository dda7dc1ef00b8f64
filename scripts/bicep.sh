#!/usr/bin/env bash
# Compiles and lints infra/main.bicep with the Bicep CLI (used by CI and by test/infra/template.test.ts).
#
# The CLI comes from the NuGet package Azure.Bicep.CommandLine.linux-x64, downloaded by a `dotnet restore`
# of a tiny generated project through the machine's configured NuGet source (no host names here).
# Outputs: .local/bicep/main.json (the compiled ARM template) and .local/bicep/lint.txt.
# Fails when build or lint prints any diagnostic (warnings are errors, see infra/bicepconfig.json).
set -euo pipefail

BICEP_VERSION="${BICEP_VERSION:-0.49.2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/.local/bicep"
PACKAGES="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
PKG_DIR="$PACKAGES/azure.bicep.commandline.linux-x64/$BICEP_VERSION"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The Bicep CLI is a self-contained .NET app; without ICU on the machine it needs invariant globalization.
if ! ldconfig -p 2>/dev/null | grep -q libicuuc; then export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1; fi

mkdir -p "$WORK"

find_bicep() {
  [ -d "$PKG_DIR" ] || return 1
  find "$PKG_DIR" -type f -name bicep -path '*linux-x64*' 2>/dev/null | head -n 1
}

BICEP="$(find_bicep || true)"
if [ -z "$BICEP" ]; then
  echo "bicep.sh: restoring Azure.Bicep.CommandLine.linux-x64 $BICEP_VERSION from the configured NuGet source" >&2
  PROJ="$WORK/restore"
  mkdir -p "$PROJ"
  cat >"$PROJ/BicepCli.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net$(dotnet --version | cut -d. -f1-2)</TargetFramework>
    <NoWarn>\$(NoWarn);NU1701</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$BICEP_VERSION]" />
  </ItemGroup>
</Project>
XML
  dotnet restore "$PROJ/BicepCli.csproj" --nologo -v quiet >&2
  BICEP="$(find_bicep || true)"
  if [ -z "$BICEP" ]; then
    echo "bicep.sh: restored, but no bicep binary under $PKG_DIR" >&2
    exit 1
  fi
fi
chmod +x "$BICEP"
echo "bicep.sh: $("$BICEP" --version 2>&1 | head -n 1)" >&2

cd "$ROOT"
status=0

# build: any diagnostic (warning or error) fails the script.
build_log="$WORK/build.txt"
if ! "$BICEP" build infra/main.bicep --outfile "$WORK/main.json" >"$build_log" 2>&1; then status=1; fi
if grep -Eq ': (Warning|Error) ' "$build_log"; then status=1; fi
cat "$build_log" >&2

# lint: infra/bicepconfig.json makes the rules that matter errors; warnings still fail here.
lint_log="$WORK/lint.txt"
if ! "$BICEP" lint infra/main.bicep >"$lint_log" 2>&1; then status=1; fi
if grep -Eq ': (Warning|Error|Info) ' "$lint_log"; then status=1; fi
cat "$lint_log" >&2

if [ "$status" -ne 0 ]; then
  echo "bicep.sh: FAILED (diagnostics above)" >&2
  exit 1
fi
echo "bicep.sh: build and lint clean -> .local/bicep/main.json" >&2
