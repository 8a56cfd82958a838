#!/usr/bin/env bash
# Writes the exmsync(1) man page from the binary's own help, so the two can
# never disagree: the main help, then each command's, as the build made them.
#
#   tools/make-manpage.sh EXMSYNC OUT.1
set -euo pipefail
exmsync=$1
out=$2
version=$("$exmsync" --version)

# roff: a backslash is an escape, a line starting with . or ' a request, and
# an option's dashes are written \- so they can be searched and copied.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"; }

{
    printf '.TH EXMSYNC 1 "" "%s" "User Commands"\n' "$version"
    printf '.SH NAME\nexmsync \\- keep the EXM templates and configs of a scaled Sitecore install identical across servers\n'
    printf '.SH SYNOPSIS\n.B exmsync\n[\\fB\\-v\\fR|\\fB\\-q\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n'
    printf '.SH DESCRIPTION\n.nf\n'
    "$exmsync" help | roff
    printf '.fi\n.SH COMMANDS\n'
    for command in manifest diff push pack apply recover history rollback; do
        printf '.SS %s\n.nf\n' "$command"
        "$exmsync" help "$command" | roff
        printf '.fi\n'
    done
    printf '.SH "EXIT STATUS"\n0: success, or the same. 1: there is a difference, or some target failed. 2: an error; with \\fB\\-\\-json\\fR, the error object names its code.\n'
    printf '.SH FILES\n.TP\n.I TARGET/.exmsync\nthe state folder of each target: lock, journal, staging, backups, history.\n'
    printf '.TP\n.I $XDG_CACHE_HOME/exmsync\nthe stat caches of folders that manifest and diff read (safe to delete).\n'
    printf '.SH "SEE ALSO"\nThe README of the exmsync sources: the JSON schemas in docs/schema, the formats, the apply protocol.\n'
} > "$out.tmp"
mv "$out.tmp" "$out"
