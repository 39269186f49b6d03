# shellcheck shell=bash
# scripts/pg_major.sh — PostgreSQL servers of other majors than Debian 12's 15,
# built from Debian's own source packages.  Sourced by scripts/lib.sh.
#
#   rs_pg_major_bin MAJOR [source]
#                           print the bin directory of a built MAJOR (15: the
#                           system's, unless `source`: then RS_PG_FALLBACK's
#                           15 built from source); build it first when it is
#                           not there.  Returns 1 (and says why) when it
#                           cannot be had.
#
# Debian 12 ships PostgreSQL 15 only.  The source packages of later majors are
# in later Debian suites of the same archive: 17 in trixie, 18 in sid.  Their
# `Sources` indexes are read into a private apt state under the cache (the
# system's sources.list is not touched and no binary package of another suite
# is ever installed: their C library differs), `apt-get source
# --download-only` fetches the files (checked against the suite's signed
# index), the upstream tarball is configured with --enable-tap-tests and
# installed into /var/cache/recsys-pg/MAJOR (with pg_upgrade and the TAP
# modules).  A finished build is marked by MAJOR/.built, which records what
# was asked for (the suite and the pinned fallback), and reused by later
# runs that ask for the same; RS_PG_CACHE names another cache directory.

RS_PG_CACHE=${RS_PG_CACHE:-/var/cache/recsys-pg}
# Where each major's source package is: MAJOR:suite.
RS_PG_SUITES=(17:trixie 18:sid)
# MAJOR:version:archive taken when the version the suite's index names is
# missing from the archive's pool (an archive mirror can lag behind its
# index), and for 15 built from source: the old side of the pg_upgrade test
# (test/t_majors), a 15 no newer than the 17 and 18 here.  (Debian's 15.20
# stores a column option, pg_attver, on every column, which 17.11 and 18.6
# do not know: their pg_upgrade from it fails; 17.12 is the release that
# pairs with it, and the archive's pool lacks it.)
RS_PG_FALLBACK=(17:17.11-0+deb13u1:debian 18:18.6-3:debian 15:15.19-0+deb12u1:debian-security)
# What building a server needs beyond what recsys needs (Debian 12 packages).
RS_PG_BUILD_PACKAGES=(bison flex libreadline-dev zlib1g-dev libicu-dev pkgconf xz-utils bzip2 debian-keyring gpgv)

rs_pg_suite() {
	local m
	for m in "${RS_PG_SUITES[@]}"; do
		[ "${m%%:*}" = "$1" ] && { printf '%s\n' "${m#*:}"; return 0; }
	done
	return 1
}

# rs_pg_build_key MAJOR — what a build of MAJOR is of: its suite and its
# pinned fallback (a change of either builds it again).
rs_pg_build_key() {
	local m pin=""
	for m in "${RS_PG_FALLBACK[@]}"; do
		[ "${m%%:*}" = "$1" ] && pin=${m#*:}
	done
	printf 'suite=%s fallback=%s\n' "$(rs_pg_suite "$1" || true)" "$pin"
}

# rs_pg_built PREFIX MAJOR — whether PREFIX holds a finished build of MAJOR
# as it is asked for now
rs_pg_built() {
	[ -f "$1/.built" ] && [ -x "$1/bin/pg_config" ] \
		&& [ "$(cat "$1/.built")" = "$(rs_pg_build_key "$2")" ]
}

# rs_pg_major_bin MAJOR — see the header.
rs_pg_major_bin() {
	local major=$1 from_source=${2:-} suite="" prefix
	if [ "$major" = "$RS_PG_MAJOR" ] && [ "$from_source" != source ]; then
		printf '%s\n' "/usr/lib/postgresql/$major/bin"
		return 0
	fi
	prefix=$RS_PG_CACHE/$major
	if rs_pg_built "$prefix" "$major"; then
		printf '%s\n' "$prefix/bin"
		return 0
	fi
	# (15 from source: RS_PG_FALLBACK's pinned version only)
	if [ "$major" != "$RS_PG_MAJOR" ]; then
		suite=$(rs_pg_suite "$major") || { rs_warn "PostgreSQL $major: no Debian suite is known to carry its source"; return 1; }
	fi
	rs_is_root || { rs_warn "PostgreSQL $major is not built in $prefix and building it needs root (run as root once)"; return 1; }
	# (one build at a time: a second run waits for the first's, then reuses it)
	# (the cache only root can write: its binaries are run as root)
	(umask 022 && mkdir -p "$RS_PG_CACHE") || return 1
	{
		flock 9 || return 1
		rs_pg_built "$prefix" "$major" || (umask 022 && rs_pg_build "$major" "$suite" "$prefix") >&2
	} 9>"$RS_PG_CACHE/.lock-$major" || return 1
	printf '%s\n' "$prefix/bin"
}

# rs_pg_fetch_fallback MAJOR DIR — the source package of RS_PG_FALLBACK's
# version of MAJOR into DIR, as dget does: the .dsc from the archive's pool,
# its OpenPGP signature checked against the Debian developers' keyring
# (package debian-keyring) and only the signed text kept (gpgv --output:
# what surrounds a clearsigned block is not signed), which must name this
# package and version; then every file it lists, each a plain file name,
# checked against the SHA-256 it gives.  For an archive whose index is ahead
# of its pool.
rs_pg_fetch_fallback() {
	local major=$1 dir=$2 m version="" archive="" dsc pool sum _size file
	for m in "${RS_PG_FALLBACK[@]}"; do
		if [ "${m%%:*}" = "$major" ]; then
			version=${m#*:}
			archive=${version#*:}
			version=${version%%:*}
		fi
	done
	[ -n "$version" ] || return 1
	if [ "$archive" = debian-security ]; then
		pool=http://deb.debian.org/debian-security/pool/updates/main/p/postgresql-$major
	else
		pool=http://deb.debian.org/$archive/pool/main/p/postgresql-$major
	fi
	dsc=postgresql-${major}_$version.dsc
	/usr/lib/apt/apt-helper download-file "$pool/${dsc//+/%2b}" "$dir/$dsc.asc" >/dev/null </dev/null || return 1
	if ! gpgv --keyring /usr/share/keyrings/debian-keyring.gpg --output "$dir/$dsc" "$dir/$dsc.asc" >/dev/null 2>&1; then
		rs_warn "PostgreSQL $major: $dsc is not signed by a Debian developer's key"
		return 1
	fi
	if ! grep -qx "Source: postgresql-$major" "$dir/$dsc" || ! grep -qxF "Version: $version" "$dir/$dsc"; then
		rs_warn "PostgreSQL $major: the signed $dsc is not of postgresql-$major $version"
		return 1
	fi
	# the files of the Checksums-Sha256 field: " SHA256 SIZE NAME"
	sed -n '/^Checksums-Sha256:/,/^[^ ]/p' "$dir/$dsc" | grep '^ ' | while read -r sum _size file; do
		if ! [[ $sum =~ ^[0-9a-f]{64}$ && $file =~ ^[A-Za-z0-9][A-Za-z0-9.+~_-]*$ ]]; then
			rs_warn "PostgreSQL $major: $dsc lists a file that is no plain file name: $file"
			exit 1
		fi
		/usr/lib/apt/apt-helper download-file "$pool/${file//+/%2b}" "$dir/$file" "SHA256:$sum" >/dev/null </dev/null \
			|| { rs_warn "PostgreSQL $major: $file could not be had or its checksum differs"; exit 1; }
	done
}

# rs_pg_build MAJOR SUITE PREFIX — fetch, configure, build and install.
rs_pg_build() {
	local major=$1 suite=$2 prefix=$3 apt work src tarball start missing p status
	start=$(date +%s)
	rs_log "PostgreSQL $major: building from Debian's source package (${suite:+suite $suite}${suite:+, }$(rs_pg_build_key "$major" | sed 's/.*fallback=/pinned fallback /')) into $prefix"
	missing=
	for p in "${RS_PG_BUILD_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$status" = "install ok installed" ] || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing </dev/null \
			|| { rs_warn "PostgreSQL $major: could not install$missing"; return 1; }
	fi
	apt=$RS_PG_CACHE/apt
	mkdir -p "$apt/lists/partial" "$RS_PG_CACHE/src"
	printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian %s main\n' \
		"${RS_PG_SUITES[@]#*:}" | sort -u >"$apt/sources.list"
	local aptopts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$apt/lists" -o APT::Get::Only-Source=true)
	if ! apt-get "${aptopts[@]}" update </dev/null >/dev/null; then
		rs_warn "PostgreSQL $major: apt-get update of the deb-src entries for $suite failed (is deb.debian.org reachable?)"
		return 1
	fi
	work=$RS_PG_CACHE/src/$major
	rm -rf "$work" && mkdir -p "$work"
	if [ -z "$suite" ]; then
		rs_pg_fetch_fallback "$major" "$work" || {
			rs_warn "PostgreSQL $major: its pinned source package could not be had"
			return 1
		}
	elif ! (cd "$work" && apt-get "${aptopts[@]}" source --download-only "postgresql-$major/$suite" </dev/null >/dev/null); then
		rs_warn "PostgreSQL $major: the version $suite's index names is not in the archive's pool; trying the signed fallback"
		rm -rf "$work" && mkdir -p "$work"
		rs_pg_fetch_fallback "$major" "$work" || {
			rs_warn "PostgreSQL $major: the source package postgresql-$major could not be had from $suite"
			return 1
		}
	fi
	tarball=$(find "$work" -maxdepth 1 -name "postgresql-${major}_*.orig.tar.*" | head -n 1)
	[ -n "$tarball" ] || { rs_warn "PostgreSQL $major: no upstream tarball in the source package"; return 1; }
	tar -C "$work" -xf "$tarball"
	src=$(find "$work" -maxdepth 1 -type d -name "postgresql-$major*" | head -n 1)
	[ -n "$src" ] || { rs_warn "PostgreSQL $major: the tarball held no source tree"; return 1; }
	rm -rf "$prefix"
	if ! (cd "$src" \
		&& ./configure --prefix="$prefix" --enable-tap-tests --enable-debug \
			--with-icu --without-readline --without-llvm CFLAGS='-O2 -g' >"$work/configure.log" 2>&1 \
		&& make -j"$(nproc)" -s >"$work/build.log" 2>&1 \
		&& make -s install >"$work/install.log" 2>&1); then
		rs_warn "PostgreSQL $major: the build failed; see $work/*.log"
		tail -n 30 "$work"/*.log >&2
		return 1
	fi
	chmod -R a+rX,go-w "$prefix"
	rs_pg_build_key "$major" >"$prefix/.built"
	rm -rf "$src"
	rs_log "PostgreSQL $major: built in $(($(date +%s) - start)) s ($("$prefix/bin/pg_config" --version))"
}
