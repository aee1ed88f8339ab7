"""The bash and zsh completion scripts (fish: completion_fish.py), rendered from the specs.

Invariant: all three shells complete the same way, from the same facts: walk the words
before the cursor (a known subcommand extends the command path; an option that takes a
value skips it, remembering `--dir`; anything else is a positional), then offer the current
command's options, subcommands, a positional's values or an option's values.  `--` at the
root (or after `wbrun wrap`) hands the rest of the line to the wrapped command's own
completion.  Values of the store kinds come from `wbrun __complete SHELL KIND PREFIX DIR`.
Output is deterministic (specs are sorted before they get here).
"""
from __future__ import annotations

from wandb_cli.cli.completion.spec import STORE_KINDS, Command, Option

HEADER = """\
{comment} {shell} completion for wbrun.  Generated from wbrun's command tree by
{comment} scripts/gen_completions.py: do not edit; regenerate.  Installing: see README.md.
"""


def _kind(option: Option) -> str:
    """An option's value kind as the scripts spell it: `choice a b c`, `runs`, `text`..."""
    assert option.value is not None  # asked only of options that take a value
    return "choice " + " ".join(option.choices) if option.value == "choice" else option.value


def _sq(text: str) -> str:
    """`text` in POSIX single quotes."""
    return "'" + text.replace("'", "'\\''") + "'"


def _optkind_cases(commands: list[Command]) -> list[str]:
    """`case` lines mapping `COMMAND|FLAG` to the kind of the value the option takes."""
    lines = []
    for command in commands:
        for option in command.options:
            if option.value is not None:
                patterns = "|".join(_sq(f"{command.name}|{flag}") for flag in option.flags)
                lines.append(f"        {patterns}) echo {_sq(_kind(option))} ;;")
    return lines


def _fill(template: str, commands: list[Command], spec: list[str]) -> str:
    return (template.replace("@SPEC@", "\n".join(spec))
            .replace("@OPTKIND_FUNCTION@", OPTKIND_FUNCTION)
            .replace("@OPTKINDS@", "\n".join(_optkind_cases(commands)))
            .replace("@STORE_KINDS@", "|".join(STORE_KINDS)))


# The same text in bash and zsh: which options take a value, and how it completes.
OPTKIND_FUNCTION = """\
_wbrun_optkind() {
    # How the value of option $2 of command $1 completes; nothing for a flag.
    case "$1|$2" in
@OPTKINDS@
    esac
}"""


def wrapped_words(words: list[str], indent: str, width: int = 92) -> str:
    """`words` joined by spaces, broken into lines (only between words) starting `indent`;
    the first line without it."""
    lines = [""]
    for word in words:
        if lines[-1] and len(indent) + len(lines[-1]) + 1 + len(word) > width:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}" if lines[-1] else word
    return ("\n" + indent).join(lines)


# -- bash ---------------------------------------------------------------------------------
def bash(commands: list[Command]) -> str:
    spec = []
    for command in commands:
        parts = ["_wbrun_opts=" + _sq(wrapped_words(_flags(command), " " * 12))]
        if command.subcommands:
            parts.insert(0, "_wbrun_subs=" + _sq(" ".join(n for n, _ in command.subcommands)))
        if command.arguments:
            parts.append("_wbrun_args=" + _sq(" ".join(command.arguments)))
        parts += ["_wbrun_repeat=1"] * command.repeat + ["_wbrun_wraps=1"] * command.wraps
        spec.append(f"        {_sq(command.name)})\n            " + "\n            ".join(parts)
                    + " ;;")
    return HEADER.format(comment="#", shell="bash") + _fill(BASH, commands, spec)


def _flags(command: Command) -> list[str]:
    return [flag for option in command.options for flag in option.flags]


BASH = r"""
_wbrun_spec() {
    # The command at path $1: subcommands, options, how positionals complete (the last
    # repeats if _wbrun_repeat), and whether `--` starts a wrapped command line.
    _wbrun_subs='' _wbrun_opts='' _wbrun_args='' _wbrun_repeat='' _wbrun_wraps=''
    case $1 in
@SPEC@
    esac
}

@OPTKIND_FUNCTION@

_wbrun_value() {
    # Complete $2 as a value of kind $1; $3 is the --dir given, $4 the wbrun to ask.
    local IFS=$'\n'
    case $1 in
        choice\ *)
            local words=${1#choice }
            COMPREPLY=($(compgen -W "${words// /$'\n'}" -- "$2")) ;;
        file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$2")) ;;
        dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$2")) ;;
        @STORE_KINDS@)
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
"""


# -- zsh ----------------------------------------------------------------------------------
def zsh(commands: list[Command]) -> str:
    spec = []
    for command in commands:
        parts = []
        if command.subcommands:
            subs = [f"{_zsh_escape(name)}:{about}" for name, about in command.subcommands]
            parts.append(_zsh_array("_wbrun_subs", subs))
        described = [_zsh_escape(flag) + ":" + option.help for option in command.options
                     for flag in option.flags]
        if command.wraps:
            described.append("--:end of options: the command to run follows")
        parts.append(_zsh_array("_wbrun_opts", described))
        if command.arguments:
            parts.append(f"_wbrun_args=({' '.join(command.arguments)})")
        parts += ["_wbrun_repeat=1"] * command.repeat + ["_wbrun_wraps=1"] * command.wraps
        spec.append(f"        ({_sq(command.name)})\n            " + "\n            ".join(parts)
                    + " ;;")
    return "#compdef wbrun\n" + HEADER.format(comment="#", shell="zsh") + _fill(ZSH, commands, spec)


def _zsh_escape(name: str) -> str:
    return name.replace(":", "\\:")  # _describe splits `name:description` at a bare colon


def _zsh_array(name: str, items: list[str]) -> str:
    return f"{name}=(\n" + "".join(f"                {_sq(item)}\n" for item in items) \
        + "            )"


ZSH = r"""
_wbrun_spec() {
    # The command at path $1: subcommands and options (name:description), how positionals
    # complete (the last repeats if _wbrun_repeat), whether `--` starts a wrapped command.
    _wbrun_subs=() _wbrun_opts=() _wbrun_args=() _wbrun_repeat='' _wbrun_wraps=''
    case $1 in
@SPEC@
    esac
}

@OPTKIND_FUNCTION@

_wbrun_value() {
    # Complete the current word as a value of kind $1; $2 is the --dir given.
    local -a values
    case $1 in
        (choice\ *) compadd -- ${=${1#choice }} ;;
        (file) _files ;;
        (dir) _files -/ ;;
        (@STORE_KINDS@)
            values=(${(f)"$(${words[1]/#\~/$HOME} __complete zsh $1 "$PREFIX" "$2" 2>/dev/null)"})
            if [[ $1 == columns ]]; then compadd -S '' -- $values; else compadd -- $values; fi ;;
    esac
}

_wbrun() {
    local -a _wbrun_subs _wbrun_opts _wbrun_args
    local _wbrun_repeat _wbrun_wraps cmdpath='' dir='' word='' kind='' after='' root_opt=''
    integer i=2 pos=0
    _wbrun_spec ''
    while (( i < CURRENT )); do
        word=${words[i]}
        if [[ -z $after && $word == -- ]]; then
            if [[ -n $_wbrun_wraps ]]; then
                shift $i words
                (( CURRENT -= i ))
                _normal
                return
            fi
            after=1
        elif [[ -z $after && $word == -?* ]]; then
            [[ -z $cmdpath ]] && root_opt=1
            if [[ $word == --*=* ]]; then
                [[ ${word%%=*} == --dir ]] && dir=${word#*=}
            else
                kind=$(_wbrun_optkind "$cmdpath" "$word")
                if [[ -n $kind ]]; then
                    (( i++ ))
                    if (( i >= CURRENT )); then
                        _wbrun_value "$kind" "$dir"
                        return
                    fi
                    [[ $word == --dir ]] && dir=${words[i]}
                fi
            fi
        elif [[ -z $after && -n ${_wbrun_subs[(r)${(b)word}:*]} ]]; then
            cmdpath=${cmdpath:+$cmdpath }$word
            pos=0
            _wbrun_spec "$cmdpath"
        else
            (( pos++ ))
        fi
        (( i++ ))
    done
    if [[ -z $after && $PREFIX == --*=* ]]; then
        kind=$(_wbrun_optkind "$cmdpath" "${PREFIX%%=*}")
        [[ -z $kind ]] && return 1
        compset -P '--[^=]#='
        _wbrun_value "$kind" "$dir"
    elif [[ -z $after && $PREFIX == -* ]]; then
        _describe -o 'option' _wbrun_opts
    elif [[ -n $_wbrun_wraps && ( -n $root_opt || ${#_wbrun_subs} -eq 0 ) ]]; then
        compadd -- --
    elif (( ${#_wbrun_subs} )); then
        _describe 'command' _wbrun_subs
    elif (( pos < ${#_wbrun_args} )); then
        _wbrun_value "${_wbrun_args[pos + 1]}" "$dir"
    elif [[ -n $_wbrun_repeat ]] && (( ${#_wbrun_args} )); then
        _wbrun_value "${_wbrun_args[-1]}" "$dir"
    fi
}

if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
    _wbrun "$@"  # autoloaded from $fpath: this file's body is the function; run it
elif (( $+functions[compdef] )); then
    compdef _wbrun wbrun
fi
"""
