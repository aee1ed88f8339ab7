# bash completion for wbrun.  Generated from wbrun's command tree by
# scripts/gen_completions.py: do not edit; regenerate.  Installing: see README.md.

_wbrun_spec() {
    # The command at path $1: subcommands, options, how positionals complete (the last
    # repeats if _wbrun_repeat), and whether `--` starts a wrapped command line.
    _wbrun_subs='' _wbrun_opts='' _wbrun_args='' _wbrun_repeat='' _wbrun_wraps=''
    case $1 in
        '')
            _wbrun_subs='artifact doctor import log runs save sync ui wrap'
            _wbrun_opts='-V --version -h --help -p --project -e --entity -n --name --id --notes -t --tag
            -g --group -j --job-type -c --config --config-file --resume --dir -q --quiet
            --no-capture --system-interval --no-system --rank-zero-only --wandb-compat'
            _wbrun_wraps=1 ;;
        'artifact')
            _wbrun_subs='alias get log ls show'
            _wbrun_opts='-h --help' ;;
        'artifact alias')
            _wbrun_opts='-f --format --dir -h --help'
            _wbrun_args='text text' ;;
        'artifact get')
            _wbrun_opts='--root -f --format --dir -h --help'
            _wbrun_args='text' ;;
        'artifact log')
            _wbrun_opts='-n --name -t --type -a --alias -f --format --dir -h --help'
            _wbrun_args='file' ;;
        'artifact ls')
            _wbrun_opts='-f --format --dir -h --help' ;;
        'artifact show')
            _wbrun_opts='-f --format --dir -h --help'
            _wbrun_args='text' ;;
        'doctor')
            _wbrun_opts='--dir -h --help' ;;
        'import')
            _wbrun_subs='mlflow tensorboard wandb'
            _wbrun_opts='-h --help' ;;
        'import mlflow')
            _wbrun_opts='--experiment --dir -h --help'
            _wbrun_args='text' ;;
        'import tensorboard')
            _wbrun_opts='-p --project --dir -h --help'
            _wbrun_args='file' ;;
        'import wandb')
            _wbrun_opts='--dir -h --help'
            _wbrun_args='file'
            _wbrun_repeat=1 ;;
        'log')
            _wbrun_opts='--step -h --help'
            _wbrun_args='text'
            _wbrun_repeat=1 ;;
        'runs')
            _wbrun_subs='compare delete files history logs ls media note plot purge rename restore show stop system tag'
            _wbrun_opts='-h --help' ;;
        'runs compare')
            _wbrun_opts='-f --format --crop --dir -h --help'
            _wbrun_args='runs'
            _wbrun_repeat=1 ;;
        'runs delete')
            _wbrun_opts='--filter -y --yes --force --timeout --dir -h --help'
            _wbrun_args='runs'
            _wbrun_repeat=1 ;;
        'runs files')
            _wbrun_opts='-f --format --dir -h --help'
            _wbrun_args='runs' ;;
        'runs history')
            _wbrun_opts='-f --format --dir -h --help'
            _wbrun_args='runs' ;;
        'runs logs')
            _wbrun_opts='--raw -F --follow --dir -h --help'
            _wbrun_args='runs' ;;
        'runs ls')
            _wbrun_opts='--filter -s --search --sort -g --group-by --columns --crop --spark --std -f
            --format -p --project --state -n --limit --deleted --dir -h --help' ;;
        'runs media')
            _wbrun_opts='-k --key -o --output -f --format --dir -h --help'
            _wbrun_args='runs' ;;
        'runs note')
            _wbrun_opts='-a --append --dir -h --help'
            _wbrun_args='runs text' ;;
        'runs plot')
            _wbrun_opts='-m --metric --x --smooth --log-y --system -g --group-by --filter -s --search
            --sort -n --limit -o --output --width --height --dir -h --help'
            _wbrun_args='runs'
            _wbrun_repeat=1 ;;
        'runs purge')
            _wbrun_opts='--older-than -y --yes --dir -h --help'
            _wbrun_args='trash'
            _wbrun_repeat=1 ;;
        'runs rename')
            _wbrun_opts='--dir -h --help'
            _wbrun_args='runs text' ;;
        'runs restore')
            _wbrun_opts='--dir -h --help'
            _wbrun_args='trash'
            _wbrun_repeat=1 ;;
        'runs show')
            _wbrun_opts='-f --format --dir -h --help'
            _wbrun_args='runs' ;;
        'runs stop')
            _wbrun_opts='--timeout --force --dir -h --help'
            _wbrun_args='runs'
            _wbrun_repeat=1 ;;
        'runs system')
            _wbrun_opts='-f --format --dir -h --help'
            _wbrun_args='runs' ;;
        'runs tag')
            _wbrun_opts='-r --remove --filter --dir -h --help'
            _wbrun_args='runs text'
            _wbrun_repeat=1 ;;
        'save')
            _wbrun_opts='--policy --base-path -h --help'
            _wbrun_args='file'
            _wbrun_repeat=1 ;;
        'sync')
            _wbrun_opts='--to --filter --all --experiment --watch --interval --out --dir -h --help'
            _wbrun_args='text'
            _wbrun_repeat=1 ;;
        'ui')
            _wbrun_opts='--host --port --no-open --open --read-only --dir -h --help' ;;
        'wrap')
            _wbrun_opts='-p --project -e --entity -n --name --id --notes -t --tag -g --group -j
            --job-type -c --config --config-file --resume --dir -q --quiet --no-capture
            --system-interval --no-system --rank-zero-only --wandb-compat -h --help'
            _wbrun_wraps=1 ;;
    esac
}

_wbrun_optkind() {
    # How the value of option $2 of command $1 completes; nothing for a flag.
    case "$1|$2" in
        '|-p'|'|--project') echo 'projects' ;;
        '|-e'|'|--entity') echo 'text' ;;
        '|-n'|'|--name') echo 'text' ;;
        '|--id') echo 'text' ;;
        '|--notes') echo 'text' ;;
        '|-t'|'|--tag') echo 'text' ;;
        '|-g'|'|--group') echo 'text' ;;
        '|-j'|'|--job-type') echo 'text' ;;
        '|-c'|'|--config') echo 'text' ;;
        '|--config-file') echo 'file' ;;
        '|--resume') echo 'choice never allow must' ;;
        '|--dir') echo 'dir' ;;
        '|--system-interval') echo 'text' ;;
        '|--wandb-compat') echo 'choice on off' ;;
        'artifact alias|-f'|'artifact alias|--format') echo 'choice table json' ;;
        'artifact alias|--dir') echo 'dir' ;;
        'artifact get|--root') echo 'file' ;;
        'artifact get|-f'|'artifact get|--format') echo 'choice table json' ;;
        'artifact get|--dir') echo 'dir' ;;
        'artifact log|-n'|'artifact log|--name') echo 'text' ;;
        'artifact log|-t'|'artifact log|--type') echo 'text' ;;
        'artifact log|-a'|'artifact log|--alias') echo 'text' ;;
        'artifact log|-f'|'artifact log|--format') echo 'choice table json' ;;
        'artifact log|--dir') echo 'dir' ;;
        'artifact ls|-f'|'artifact ls|--format') echo 'choice table json' ;;
        'artifact ls|--dir') echo 'dir' ;;
        'artifact show|-f'|'artifact show|--format') echo 'choice table json' ;;
        'artifact show|--dir') echo 'dir' ;;
        'doctor|--dir') echo 'dir' ;;
        'import mlflow|--experiment') echo 'text' ;;
        'import mlflow|--dir') echo 'dir' ;;
        'import tensorboard|-p'|'import tensorboard|--project') echo 'projects' ;;
        'import tensorboard|--dir') echo 'dir' ;;
        'import wandb|--dir') echo 'dir' ;;
        'log|--step') echo 'text' ;;
        'runs compare|-f'|'runs compare|--format') echo 'choice table json' ;;
        'runs compare|--crop') echo 'choice start middle end' ;;
        'runs compare|--dir') echo 'dir' ;;
        'runs delete|--filter') echo 'text' ;;
        'runs delete|--timeout') echo 'text' ;;
        'runs delete|--dir') echo 'dir' ;;
        'runs files|-f'|'runs files|--format') echo 'choice table json' ;;
        'runs files|--dir') echo 'dir' ;;
        'runs history|-f'|'runs history|--format') echo 'choice table json csv' ;;
        'runs history|--dir') echo 'dir' ;;
        'runs logs|--dir') echo 'dir' ;;
        'runs ls|--filter') echo 'text' ;;
        'runs ls|-s'|'runs ls|--search') echo 'text' ;;
        'runs ls|--sort') echo 'sort' ;;
        'runs ls|-g'|'runs ls|--group-by') echo 'keys' ;;
        'runs ls|--columns') echo 'columns' ;;
        'runs ls|--crop') echo 'choice start middle end' ;;
        'runs ls|--spark') echo 'keys' ;;
        'runs ls|-f'|'runs ls|--format') echo 'choice table json jsonl csv ids' ;;
        'runs ls|-p'|'runs ls|--project') echo 'projects' ;;
        'runs ls|--state') echo 'choice running finished failed killed crashed corrupt' ;;
        'runs ls|-n'|'runs ls|--limit') echo 'text' ;;
        'runs ls|--dir') echo 'dir' ;;
        'runs media|-k'|'runs media|--key') echo 'text' ;;
        'runs media|-o'|'runs media|--output') echo 'file' ;;
        'runs media|-f'|'runs media|--format') echo 'choice table json' ;;
        'runs media|--dir') echo 'dir' ;;
        'runs note|--dir') echo 'dir' ;;
        'runs plot|-m'|'runs plot|--metric') echo 'keys' ;;
        'runs plot|--x') echo 'keys' ;;
        'runs plot|--smooth') echo 'text' ;;
        'runs plot|-g'|'runs plot|--group-by') echo 'keys' ;;
        'runs plot|--filter') echo 'text' ;;
        'runs plot|-s'|'runs plot|--search') echo 'text' ;;
        'runs plot|--sort') echo 'sort' ;;
        'runs plot|-n'|'runs plot|--limit') echo 'text' ;;
        'runs plot|-o'|'runs plot|--output') echo 'file' ;;
        'runs plot|--width') echo 'text' ;;
        'runs plot|--height') echo 'text' ;;
        'runs plot|--dir') echo 'dir' ;;
        'runs purge|--older-than') echo 'text' ;;
        'runs purge|--dir') echo 'dir' ;;
        'runs rename|--dir') echo 'dir' ;;
        'runs restore|--dir') echo 'dir' ;;
        'runs show|-f'|'runs show|--format') echo 'choice table json' ;;
        'runs show|--dir') echo 'dir' ;;
        'runs stop|--timeout') echo 'text' ;;
        'runs stop|--dir') echo 'dir' ;;
        'runs system|-f'|'runs system|--format') echo 'choice table json csv' ;;
        'runs system|--dir') echo 'dir' ;;
        'runs tag|-r'|'runs tag|--remove') echo 'text' ;;
        'runs tag|--filter') echo 'text' ;;
        'runs tag|--dir') echo 'dir' ;;
        'save|--policy') echo 'text' ;;
        'save|--base-path') echo 'file' ;;
        'sync|--to') echo 'text' ;;
        'sync|--filter') echo 'text' ;;
        'sync|--experiment') echo 'text' ;;
        'sync|--interval') echo 'text' ;;
        'sync|--out') echo 'file' ;;
        'sync|--dir') echo 'dir' ;;
        'ui|--host') echo 'text' ;;
        'ui|--port') echo 'text' ;;
        'ui|--dir') echo 'dir' ;;
        'wrap|-p'|'wrap|--project') echo 'projects' ;;
        'wrap|-e'|'wrap|--entity') echo 'text' ;;
        'wrap|-n'|'wrap|--name') echo 'text' ;;
        'wrap|--id') echo 'text' ;;
        'wrap|--notes') echo 'text' ;;
        'wrap|-t'|'wrap|--tag') echo 'text' ;;
        'wrap|-g'|'wrap|--group') echo 'text' ;;
        'wrap|-j'|'wrap|--job-type') echo 'text' ;;
        'wrap|-c'|'wrap|--config') echo 'text' ;;
        'wrap|--config-file') echo 'file' ;;
        'wrap|--resume') echo 'choice never allow must' ;;
        'wrap|--dir') echo 'dir' ;;
        'wrap|--system-interval') echo 'text' ;;
        'wrap|--wandb-compat') echo 'choice on off' ;;
    esac
}

_wbrun_value() {
    # Complete $2 as a value of kind $1; $3 is the --dir given, $4 the wbrun to ask.
    local IFS=$'\n'
    case $1 in
        choice\ *)
            local words=${1#choice }
            COMPREPLY=($(compgen -W "${words// /$'\n'}" -- "$2")) ;;
        file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$2")) ;;
        dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$2")) ;;
        runs|trash|keys|sort|columns|projects)
            [[ $1 == columns ]] && compopt -o nospace 2>/dev/null
            COMPREPLY=($("$4" __complete bash "$1" "$2" "$3" 2>/dev/null)) ;;
        *) COMPREPLY=() ;;
    esac
}

_wbrun_wrapped() {
    # After `--`, word $1 starts a command line of its own: complete it as that command.
    if declare -F _command_offset >/dev/null; then _command_offset "$1"; return; fi
    local IFS=$'\n'
    if (( COMP_CWORD == $1 )); then
        COMPREPLY=($(compgen -c -- "$2"))
    else
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$2"))
    fi
}

_wbrun() {
    local cur=${COMP_WORDS[COMP_CWORD]} cword=$COMP_CWORD prog=${COMP_WORDS[0]/#\~/$HOME}
    local path='' dir='' word='' kind='' after='' root_opt='' i=1 pos=0
    local _wbrun_subs _wbrun_opts _wbrun_args _wbrun_repeat _wbrun_wraps
    COMPREPLY=()
    _wbrun_spec ''
    while (( i < cword )); do
        word=${COMP_WORDS[i]}
        if [[ -z $after && $word == -- ]]; then
            if [[ -n $_wbrun_wraps ]]; then _wbrun_wrapped $((i + 1)) "$cur"; return; fi
            after=1
        elif [[ -z $after && $word == -?* ]]; then
            [[ -z $path ]] && root_opt=1
            if [[ $word == --*=* ]]; then
                [[ ${word%%=*} == --dir ]] && dir=${word#*=}
            else
                kind=$(_wbrun_optkind "$path" "$word")
                if [[ -n $kind ]]; then
                    (( i++ ))
                    [[ ${COMP_WORDS[i]} == = ]] && (( i++ ))  # `--opt=value`, split at `=`
                    if (( i >= cword )); then
                        [[ ${COMP_WORDS[cword]} == = ]] && cur=''
                        _wbrun_value "$kind" "$cur" "$dir" "$prog"
                        return
                    fi
                    [[ $word == --dir ]] && dir=${COMP_WORDS[i]}
                fi
            fi
        elif [[ -z $after && " $_wbrun_subs " == *" $word "* ]]; then
            path=${path:+$path }$word
            pos=0
            _wbrun_spec "$path"
        else
            (( pos++ ))
        fi
        (( i++ ))
    done
    if [[ -z $after && $cur == --*=* ]]; then  # `=` is not a word break in this shell
        kind=$(_wbrun_optkind "$path" "${cur%%=*}")
        [[ -z $kind ]] && return
        _wbrun_value "$kind" "${cur#*=}" "$dir" "$prog"
        COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
    elif [[ -z $after && $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_wbrun_opts${_wbrun_wraps:+ --}" -- "$cur"))
    elif [[ -n $_wbrun_wraps && ( -n $root_opt || -z $_wbrun_subs ) ]]; then
        COMPREPLY=($(compgen -W '--' -- "$cur"))
    elif [[ -n $_wbrun_subs ]]; then
        COMPREPLY=($(compgen -W "$_wbrun_subs" -- "$cur"))
    else
        local kinds=($_wbrun_args)
        if (( pos < ${#kinds[@]} )); then
            kind=${kinds[pos]}
        elif [[ -n $_wbrun_repeat && ${#kinds[@]} -gt 0 ]]; then
            kind=${kinds[${#kinds[@]} - 1]}
        else
            kind=''
        fi
        _wbrun_value "$kind" "$cur" "$dir" "$prog"
    fi
}

complete -F _wbrun wbrun
