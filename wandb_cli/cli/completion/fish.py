"""The fish completion script, rendered from the command specs.

Same walk as the bash and zsh scripts (see completion_shells.py), written the fish way:
`__wbrun_state` replays the words before the cursor, and one `complete` line per option,
guarded by `__wbrun_at PATH`, lets fish handle `--opt=value` and `-fVALUE` itself.  Fish
offers an option value that starts with `-` only through a separate condition, hence
`__wbrun_after_sort` for `--sort -KEY`.
"""
from __future__ import annotations

from wandb_cli.cli.completion.shells import HEADER, wrapped_words
from wandb_cli.cli.completion.spec import STORE_KINDS, Command, Option


def fish(commands: list[Command]) -> str:
    subs = [f"{_fq(f'{c.name}|{name}')}" for c in commands for name, _ in c.subcommands]
    takes = [_fq(f"{c.name}|{flag}") for c in commands for o in c.options if o.value
             for flag in o.flags]
    wraps = [_fq(c.name) for c in commands if c.wraps]
    sort_options = [_fq(f"{c.name}|{flag}") for c in commands for o in c.options
                    if o.value == "sort" for flag in o.flags]
    lines = []
    for command in commands:
        at = _fdq(f"__wbrun_at {_fq(command.name)}")
        sub_at = _fdq(f"__wbrun_sub_at {_fq(command.name)}")
        lines += [f"complete -c wbrun -n {sub_at} -a {_fq(name)} -d {_fq(about)}"
                  for name, about in command.subcommands]
        lines += [f"complete -c wbrun -n {at} {_fish_option(option)}" for option in command.options]
    return (HEADER.format(comment="#", shell="fish") + FISH
            .replace("@SUBS@", _fish_words(subs))
            .replace("@TAKES@", _fish_words(takes))
            .replace("@WRAPS@", " ".join(wraps))
            .replace("@SORT_OPTIONS@", " ".join(sort_options))
            .replace("@ARGS_AT@", "\n".join(_fish_arg_cases(commands, repeated=False)))
            .replace("@ARGS_REPEATED@", "\n".join(_fish_arg_cases(commands, repeated=True)))
            .replace("@COMPLETES@", "\n".join(lines))
            .replace("@STORE_KINDS@", " ".join(STORE_KINDS)))


def _fq(text: str) -> str:
    """`text` in fish single quotes."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fdq(text: str) -> str:
    """`text` in fish double quotes (where only \\, " and $ are special)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _fish_option(option: Option) -> str:
    names = " ".join(f"-s {f[1:]}" if len(f) == 2 else f"-l {f[2:]}" for f in option.flags
                     if f != "--")
    value = {None: "", "text": " -x", "file": " -r -F",
             "dir": " -x -a '(__fish_complete_directories)'"}.get(option.value)
    if value is None:
        words = " ".join(option.choices) if option.value == "choice" \
            else f"(__wbrun_values {option.value})"
        value = f" -x -a {_fq(words)}"
    return f"{names}{value} -d {_fq(option.help)}"


def _fish_arg_cases(commands: list[Command], *, repeated: bool) -> list[str]:
    """`switch` cases giving how positional N of each command completes: `CMD|N` for the
    exact positions, or `CMD` for the argument that repeats."""
    lines = []
    for command in commands:
        for index, kind in enumerate(command.arguments):
            last = command.repeat and index == len(command.arguments) - 1
            if last == repeated:
                label = command.name if repeated else f"{command.name}|{index}"
                pad = " " * (16 if repeated else 8)
                lines.append(f"{pad}case {_fq(label)}\n{pad}    echo {kind}")
    return lines


def _fish_words(words: list[str]) -> str:
    """Words for one `case` line, continued with backslashes (fish ends a line at newline)."""
    return wrapped_words(words, " " * 12).replace("\n", " \\\n")


FISH = r"""
function __wbrun_state
    # Replays the words before the cursor; prints the command path, the count of
    # positionals, the --dir given and 1 if the root had options (or just -- if wrapping).
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmdpath ''
    set -l pos 0
    set -l dir ''
    set -l root_opt 0
    set -l skip ''
    set -l after 0
    for token in $tokens
        if test -n "$skip"
            contains -- $skip --dir; and set dir $token
            set skip ''
        else if test $after = 0; and contains -- $token --
            if __wbrun_wraps "$cmdpath"
                printf '%s\n' --  # (echo would take -- for the end of its options)
                return
            end
            set after 1
        else if test $after = 0; and string match -q -- '-?*' $token
            test -z "$cmdpath"; and set root_opt 1
            if string match -q -- '--*=*' $token
                string match -q -- '--dir=*' $token
                and set dir (string replace -- '--dir=' '' $token)
            else if __wbrun_takes_value "$cmdpath" $token
                set skip $token
            end
        else if test $after = 0; and __wbrun_is_sub "$cmdpath" $token
            set cmdpath (string trim -- "$cmdpath $token")
            set pos 0
        else
            set pos (math $pos + 1)
        end
    end
    printf '%s\n' $cmdpath $pos $dir $root_opt
end

set -g __wbrun_sort_options @SORT_OPTIONS@

function __wbrun_is_sub --argument-names cmdpath word
    switch "$cmdpath|$word"
        case @SUBS@
            return 0
    end
    return 1
end

function __wbrun_takes_value --argument-names cmdpath option
    switch "$cmdpath|$option"
        case @TAKES@
            return 0
    end
    return 1
end

function __wbrun_wraps --argument-names cmdpath
    contains -- "$cmdpath" @WRAPS@
end

function __wbrun_arg_kind --argument-names cmdpath pos
    switch "$cmdpath|$pos"
@ARGS_AT@
        case '*'
            switch "$cmdpath"
@ARGS_REPEATED@
            end
    end
end

function __wbrun_at --argument-names cmdpath  # in command CMDPATH (not wrapping)?
    set -l state (__wbrun_state)
    contains -- "$cmdpath" "$state[1]"
end

function __wbrun_sub_at --argument-names cmdpath  # a subcommand of CMDPATH wanted here?
    set -l state (__wbrun_state)
    contains -- "$cmdpath" "$state[1]"; and test "$state[4]" = 0
end

function __wbrun_wrapped
    contains -- -- (__wbrun_state)[1]
end

function __wbrun_dashdash  # is `--` (then the command to run) all that can follow?
    string match -q -- '-*' (commandline -ct); and return 1
    set -l state (__wbrun_state)
    __wbrun_wraps "$state[1]"; or return 1
    test "$state[4]" = 1; or contains -- wrap "$state[1]"
end

function __wbrun_after_sort
    # On a -KEY after --sort?  (Fish offers an option value starting with - only this way.)
    string match -q -- '-*' (commandline -ct); or return 1
    set -l tokens (commandline -opc)
    set -l state (__wbrun_state)
    contains -- "$state[1]|$tokens[-1]" $__wbrun_sort_options
end

function __wbrun_arg --argument-names kind  # a positional argument of this KIND here?
    string match -q -- '-*' (commandline -ct); and return 1
    set -l state (__wbrun_state)
    contains -- -- $state[1]; and return 1
    contains -- "$kind" (__wbrun_arg_kind "$state[1]" $state[2])
end

function __wbrun_values --argument-names kind  # the store's values of KIND
    set -l state (__wbrun_state)
    set -l prefix (string replace -r -- '^--[^=]*=' '' (commandline -ct))
    set -l prog (commandline -opc)[1]
    $prog __complete fish $kind "$prefix" "$state[3]" 2>/dev/null
end

function __wbrun_complete_wrapped  # the command after -- completes as its own
    set -l tokens (commandline -opc)
    set -l start (contains -i -- -- $tokens)
    set -l rest $tokens[(math $start + 1)..-1]
    complete -C (string join -- ' ' (string escape -- $rest) (commandline -ct))
end

complete -c wbrun -f
complete -c wbrun -n __wbrun_wrapped -x -a '(__wbrun_complete_wrapped)'
for kind in @STORE_KINDS@
    complete -c wbrun -n "__wbrun_arg $kind" -x -a "(__wbrun_values $kind)"
end
complete -c wbrun -n '__wbrun_arg file' -F
complete -c wbrun -n __wbrun_dashdash -a -- -d 'end of options: the command to run follows'
complete -c wbrun -n __wbrun_after_sort -x -a '(__wbrun_values sort)'
@COMPLETES@
"""
