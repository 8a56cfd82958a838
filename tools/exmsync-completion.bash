# bash completion for exmsync. The options of each command come from the
# binary itself ('exmsync help COMMAND'), so they always match the build.
_exmsync() {
    local cur prev words cword
    _init_completion || return
    local commands="manifest diff push pack apply recover history rollback help"
    local i command=""
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} != -* ]]; then
            command=${words[i]}
            break
        fi
    done
    if [[ -z $command ]]; then
        COMPREPLY=($(compgen -W "$commands -v --verbose -q --quiet -V --version --help" -- "$cur"))
        return
    fi
    if [[ $command == help ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    if [[ $prev == --to ]]; then
        # apply ids from the target's history, when the target is on the line
        local target=""
        for ((i = i + 1; i < cword; i++)); do
            [[ ${words[i]} != -* && ${words[i - 1]} != --to ]] && target=${words[i]}
        done
        [[ -n $target ]] && COMPREPLY=($(compgen -W "$(exmsync history --json "$target" 2>/dev/null |
            grep -o '"apply_id":"[0-9a-f-]*"' | cut -d'"' -f4)" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(exmsync help "$command" 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u)" \
            -- "$cur"))
        return
    fi
    _filedir
}
complete -F _exmsync exmsync
