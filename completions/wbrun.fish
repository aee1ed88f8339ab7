# fish completion for wbrun.  Generated from wbrun's command tree by
# scripts/gen_completions.py: do not edit; regenerate.  Installing: see README.md.

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

set -g __wbrun_sort_options 'runs ls|--sort' 'runs plot|--sort'

function __wbrun_is_sub --argument-names cmdpath word
    switch "$cmdpath|$word"
        case '|artifact' '|doctor' '|import' '|log' '|runs' '|save' '|sync' '|ui' '|wrap' \
            'artifact|alias' 'artifact|get' 'artifact|log' 'artifact|ls' 'artifact|show' \
            'import|mlflow' 'import|tensorboard' 'import|wandb' 'runs|compare' 'runs|delete' \
            'runs|files' 'runs|history' 'runs|logs' 'runs|ls' 'runs|media' 'runs|note' \
            'runs|plot' 'runs|purge' 'runs|rename' 'runs|restore' 'runs|show' 'runs|stop' \
            'runs|system' 'runs|tag'
            return 0
    end
    return 1
end

function __wbrun_takes_value --argument-names cmdpath option
    switch "$cmdpath|$option"
        case '|-p' '|--project' '|-e' '|--entity' '|-n' '|--name' '|--id' '|--notes' '|-t' \
            '|--tag' '|-g' '|--group' '|-j' '|--job-type' '|-c' '|--config' '|--config-file' \
            '|--resume' '|--dir' '|--system-interval' '|--wandb-compat' 'artifact alias|-f' \
            'artifact alias|--format' 'artifact alias|--dir' 'artifact get|--root' \
            'artifact get|-f' 'artifact get|--format' 'artifact get|--dir' 'artifact log|-n' \
            'artifact log|--name' 'artifact log|-t' 'artifact log|--type' 'artifact log|-a' \
            'artifact log|--alias' 'artifact log|-f' 'artifact log|--format' \
            'artifact log|--dir' 'artifact ls|-f' 'artifact ls|--format' 'artifact ls|--dir' \
            'artifact show|-f' 'artifact show|--format' 'artifact show|--dir' 'doctor|--dir' \
            'import mlflow|--experiment' 'import mlflow|--dir' 'import tensorboard|-p' \
            'import tensorboard|--project' 'import tensorboard|--dir' 'import wandb|--dir' \
            'log|--step' 'runs compare|-f' 'runs compare|--format' 'runs compare|--crop' \
            'runs compare|--dir' 'runs delete|--filter' 'runs delete|--timeout' \
            'runs delete|--dir' 'runs files|-f' 'runs files|--format' 'runs files|--dir' \
            'runs history|-f' 'runs history|--format' 'runs history|--dir' 'runs logs|--dir' \
            'runs ls|--filter' 'runs ls|-s' 'runs ls|--search' 'runs ls|--sort' 'runs ls|-g' \
            'runs ls|--group-by' 'runs ls|--columns' 'runs ls|--crop' 'runs ls|--spark' \
            'runs ls|-f' 'runs ls|--format' 'runs ls|-p' 'runs ls|--project' \
            'runs ls|--state' 'runs ls|-n' 'runs ls|--limit' 'runs ls|--dir' 'runs media|-k' \
            'runs media|--key' 'runs media|-o' 'runs media|--output' 'runs media|-f' \
            'runs media|--format' 'runs media|--dir' 'runs note|--dir' 'runs plot|-m' \
            'runs plot|--metric' 'runs plot|--x' 'runs plot|--smooth' 'runs plot|-g' \
            'runs plot|--group-by' 'runs plot|--filter' 'runs plot|-s' 'runs plot|--search' \
            'runs plot|--sort' 'runs plot|-n' 'runs plot|--limit' 'runs plot|-o' \
            'runs plot|--output' 'runs plot|--width' 'runs plot|--height' 'runs plot|--dir' \
            'runs purge|--older-than' 'runs purge|--dir' 'runs rename|--dir' \
            'runs restore|--dir' 'runs show|-f' 'runs show|--format' 'runs show|--dir' \
            'runs stop|--timeout' 'runs stop|--dir' 'runs system|-f' 'runs system|--format' \
            'runs system|--dir' 'runs tag|-r' 'runs tag|--remove' 'runs tag|--filter' \
            'runs tag|--dir' 'save|--policy' 'save|--base-path' 'sync|--to' 'sync|--filter' \
            'sync|--experiment' 'sync|--interval' 'sync|--out' 'sync|--dir' 'ui|--host' \
            'ui|--port' 'ui|--dir' 'wrap|-p' 'wrap|--project' 'wrap|-e' 'wrap|--entity' \
            'wrap|-n' 'wrap|--name' 'wrap|--id' 'wrap|--notes' 'wrap|-t' 'wrap|--tag' \
            'wrap|-g' 'wrap|--group' 'wrap|-j' 'wrap|--job-type' 'wrap|-c' 'wrap|--config' \
            'wrap|--config-file' 'wrap|--resume' 'wrap|--dir' 'wrap|--system-interval' \
            'wrap|--wandb-compat'
            return 0
    end
    return 1
end

function __wbrun_wraps --argument-names cmdpath
    contains -- "$cmdpath" '' 'wrap'
end

function __wbrun_arg_kind --argument-names cmdpath pos
    switch "$cmdpath|$pos"
        case 'artifact alias|0'
            echo text
        case 'artifact alias|1'
            echo text
        case 'artifact get|0'
            echo text
        case 'artifact log|0'
            echo file
        case 'artifact show|0'
            echo text
        case 'import mlflow|0'
            echo text
        case 'import tensorboard|0'
            echo file
        case 'runs files|0'
            echo runs
        case 'runs history|0'
            echo runs
        case 'runs logs|0'
            echo runs
        case 'runs media|0'
            echo runs
        case 'runs note|0'
            echo runs
        case 'runs note|1'
            echo text
        case 'runs rename|0'
            echo runs
        case 'runs rename|1'
            echo text
        case 'runs show|0'
            echo runs
        case 'runs system|0'
            echo runs
        case 'runs tag|0'
            echo runs
        case '*'
            switch "$cmdpath"
                case 'import wandb'
                    echo file
                case 'log'
                    echo text
                case 'runs compare'
                    echo runs
                case 'runs delete'
                    echo runs
                case 'runs plot'
                    echo runs
                case 'runs purge'
                    echo trash
                case 'runs restore'
                    echo trash
                case 'runs stop'
                    echo runs
                case 'runs tag'
                    echo text
                case 'save'
                    echo file
                case 'sync'
                    echo text
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
for kind in runs trash keys sort columns projects
    complete -c wbrun -n "__wbrun_arg $kind" -x -a "(__wbrun_values $kind)"
end
complete -c wbrun -n '__wbrun_arg file' -F
complete -c wbrun -n __wbrun_dashdash -a -- -d 'end of options: the command to run follows'
complete -c wbrun -n __wbrun_after_sort -x -a '(__wbrun_values sort)'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'artifact' -d 'Log, get and inspect versioned artifacts.'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'doctor' -d 'Test the store\'s filesystem (locks, NFS/Lustre) and say what was found.'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'import' -d 'Import runs recorded by other tools.'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'log' -d 'Append a step to the enclosing wrapped run (from a shell script or any language).'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'runs' -d 'List, inspect and manage runs.'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'save' -d 'Copy files into the enclosing run\'s files/ folder.'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'sync' -d 'Push runs to an MLflow tracking server or write them as W&B offline runs.'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'ui' -d 'Serve the runs\' workspace and run pages at http://127.0.0.1:8765 until Ctrl+C.'
complete -c wbrun -n "__wbrun_sub_at ''" -a 'wrap' -d 'Run COMMAND as a run: its output, metrics, system metrics and state are recorded.'
complete -c wbrun -n "__wbrun_at ''" -s V -l version -d 'Print the version and exit.'
complete -c wbrun -n "__wbrun_at ''" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at ''" -s p -l project -x -a '(__wbrun_values projects)' -d 'Project (default Uncategorized).'
complete -c wbrun -n "__wbrun_at ''" -s e -l entity -x -d 'Entity (default: your user name).'
complete -c wbrun -n "__wbrun_at ''" -s n -l name -x -d 'Run name (default adjective-noun-N).'
complete -c wbrun -n "__wbrun_at ''" -l id -x -d 'Run ID (default: 8 random characters from [a-z0-9]).'
complete -c wbrun -n "__wbrun_at ''" -l notes -x -d 'Description of the run.'
complete -c wbrun -n "__wbrun_at ''" -s t -l tag -x -d 'Tag (repeatable).'
complete -c wbrun -n "__wbrun_at ''" -s g -l group -x -d 'Group.'
complete -c wbrun -n "__wbrun_at ''" -s j -l job-type -x -d 'Job type.'
complete -c wbrun -n "__wbrun_at ''" -s c -l config -x -d 'Config value (repeatable; JSON values are JSON).'
complete -c wbrun -n "__wbrun_at ''" -l config-file -r -F -d 'JSON file of config values.'
complete -c wbrun -n "__wbrun_at ''" -l resume -x -a 'never allow must' -d 'never (default), allow or must.'
complete -c wbrun -n "__wbrun_at ''" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at ''" -s q -l quiet -d 'No closing summary on stderr.'
complete -c wbrun -n "__wbrun_at ''" -l no-capture -d 'Do not turn key=value output lines into metrics.'
complete -c wbrun -n "__wbrun_at ''" -l system-interval -x -d 'Seconds between system-metric samples (default 15, minimum 0.1).'
complete -c wbrun -n "__wbrun_at ''" -l no-system -d 'Do not sample system metrics.'
complete -c wbrun -n "__wbrun_at ''" -l rank-zero-only -d 'Record only rank 0 (RANK, else SLURM_PROCID); other ranks just run the command.'
complete -c wbrun -n "__wbrun_at ''" -l wandb-compat -x -a 'on off' -d '`import wandb` in the program is wbrun (on, default) or the installed wandb (off); $WBRUN_WANDB_COMPAT.'
complete -c wbrun -n "__wbrun_sub_at 'artifact'" -a 'alias' -d 'Point an alias at a version (moving it from another).'
complete -c wbrun -n "__wbrun_sub_at 'artifact'" -a 'get' -d 'Put a version\'s files in place, verified by digest.'
complete -c wbrun -n "__wbrun_sub_at 'artifact'" -a 'log' -d 'Store a file or folder as an artifact\'s next version.'
complete -c wbrun -n "__wbrun_sub_at 'artifact'" -a 'ls' -d 'List artifacts with their versions and aliases.'
complete -c wbrun -n "__wbrun_sub_at 'artifact'" -a 'show' -d 'Show a version: files, aliases, producer and consumer runs.'
complete -c wbrun -n "__wbrun_at 'artifact'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'artifact alias'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'artifact alias'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'artifact alias'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'artifact get'" -l root -r -F -d 'Folder to put the files in (default ./artifacts/NAME:vK).'
complete -c wbrun -n "__wbrun_at 'artifact get'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'artifact get'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'artifact get'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'artifact log'" -s n -l name -x -d 'Artifact name (default: the path\'s base name).'
complete -c wbrun -n "__wbrun_at 'artifact log'" -s t -l type -x -d 'Artifact type; a name keeps its first type.'
complete -c wbrun -n "__wbrun_at 'artifact log'" -s a -l alias -x -d 'Alias to point at this version (repeatable).'
complete -c wbrun -n "__wbrun_at 'artifact log'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'artifact log'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'artifact log'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'artifact ls'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'artifact ls'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'artifact ls'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'artifact show'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'artifact show'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'artifact show'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'doctor'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'doctor'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_sub_at 'import'" -a 'mlflow' -d 'Import the runs of an MLflow tracking server or store.'
complete -c wbrun -n "__wbrun_sub_at 'import'" -a 'tensorboard' -d 'Import TensorBoard event files as runs (scalars and histograms; again: skips what is there).'
complete -c wbrun -n "__wbrun_sub_at 'import'" -a 'wandb' -d 'Import W&B offline runs (offline-run-*/run-*.wandb).'
complete -c wbrun -n "__wbrun_at 'import'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'import mlflow'" -l experiment -x -d 'Only this experiment (repeatable; default all).'
complete -c wbrun -n "__wbrun_at 'import mlflow'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'import mlflow'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'import tensorboard'" -s p -l project -x -a '(__wbrun_values projects)' -d 'Project of the new runs.'
complete -c wbrun -n "__wbrun_at 'import tensorboard'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'import tensorboard'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'import wandb'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'import wandb'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'log'" -l step -x -d 'Step number (default: the next one).'
complete -c wbrun -n "__wbrun_at 'log'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'compare' -d 'Compare runs\' config and summary side by side, differing keys first (marked ≠).'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'delete' -d 'Move runs to the trash; `runs restore` brings them back, `runs purge` ends them.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'files' -d 'List a run\'s files: wbrun\'s documents and saved files.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'history' -d 'Print a run\'s metric history, one row per step.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'logs' -d 'Print a run\'s terminal output (output.log); --follow streams a live run\'s.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'ls' -d 'List runs, newest first, filtered, sorted or grouped.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'media' -d 'List a run\'s media (images, tables, audio, video, HTML, 3-D objects); --output copies them.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'note' -d 'Set a run\'s description (notes); an empty TEXT clears it.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'plot' -d 'Chart runs\' metrics as line charts, one per metric, one line per run.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'purge' -d 'Remove deleted runs for good; their IDs stay unusable.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'rename' -d 'Give a run a new display name (its ID stays).'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'restore' -d 'Bring deleted runs back from the trash.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'show' -d 'Show a run\'s overview: state, command, host, git, config and summary.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'stop' -d 'Stop running runs, from any terminal or host sharing the store; wait for the end.'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'system' -d 'Print a run\'s system-metric samples (CPU, memory, disk, network, GPUs).'
complete -c wbrun -n "__wbrun_sub_at 'runs'" -a 'tag' -d 'Add tags to a run, or to every run matching --filter; --remove takes tags off.'
complete -c wbrun -n "__wbrun_at 'runs'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs compare'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'runs compare'" -l crop -x -a 'start middle end' -d 'Where long text is cut: start, middle, end.'
complete -c wbrun -n "__wbrun_at 'runs compare'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs compare'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs delete'" -l filter -x -d 'Also every run matching this filter (the language of runs ls).'
complete -c wbrun -n "__wbrun_at 'runs delete'" -s y -l yes -d 'Do not ask for confirmation.'
complete -c wbrun -n "__wbrun_at 'runs delete'" -l force -d 'Stop running runs first (see runs stop).'
complete -c wbrun -n "__wbrun_at 'runs delete'" -l timeout -x -d 'With --force: seconds between stop signals (default 10).'
complete -c wbrun -n "__wbrun_at 'runs delete'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs delete'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs files'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'runs files'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs files'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs history'" -s f -l format -x -a 'table json csv' -d 'table, json or csv.'
complete -c wbrun -n "__wbrun_at 'runs history'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs history'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs logs'" -l raw -d 'Exact bytes, escape sequences included.'
complete -c wbrun -n "__wbrun_at 'runs logs'" -s F -l follow -d 'Keep printing until the run ends.'
complete -c wbrun -n "__wbrun_at 'runs logs'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs logs'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l filter -x -d 'Filter, e.g. "val_loss < 0.5 and config.opt = adam".'
complete -c wbrun -n "__wbrun_at 'runs ls'" -s s -l search -x -d 'Regex over name or ID.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l sort -x -a '(__wbrun_values sort)' -d 'Sort key (repeatable); -KEY descending.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -s g -l group-by -x -a '(__wbrun_values keys)' -d 'Group by key (repeatable).'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l columns -x -a '(__wbrun_values columns)' -d 'Comma-separated keys, e.g. id,name,config.lr,summary.loss.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l crop -x -a 'start middle end' -d 'Where long text is cut: start, middle, end.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l spark -x -a '(__wbrun_values keys)' -d 'Add a sparkline of this metric\'s history.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l std -d 'Groups: mean ± std, not mean (min–max).'
complete -c wbrun -n "__wbrun_at 'runs ls'" -s f -l format -x -a 'table json jsonl csv ids' -d 'table, json, jsonl, csv or ids.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -s p -l project -x -a '(__wbrun_values projects)' -d 'Only this project.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l state -x -a 'running finished failed killed crashed corrupt' -d 'Only runs in this state.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -s n -l limit -x -d 'At most N runs.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l deleted -d 'List the runs in the trash instead.'
complete -c wbrun -n "__wbrun_at 'runs ls'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs ls'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs media'" -s k -l key -x -d 'Only the media logged under this key.'
complete -c wbrun -n "__wbrun_at 'runs media'" -s o -l output -r -F -d 'Copy the files into this folder (paths below files/media/ kept).'
complete -c wbrun -n "__wbrun_at 'runs media'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'runs media'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs media'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs note'" -s a -l append -d 'Add TEXT as a new line.'
complete -c wbrun -n "__wbrun_at 'runs note'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs note'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -s m -l metric -x -a '(__wbrun_values keys)' -d 'Metric to chart (repeatable; default: the ones the runs share).'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l x -x -a '(__wbrun_values keys)' -d 'x axis: _step (default), _runtime, _timestamp or a metric KEY.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l smooth -x -d 'Trailing mean over N points (1: raw values).'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l log-y -d 'Logarithmic y axis.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l system -d 'Chart system metrics (CPU, memory, GPU) against _runtime.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -s g -l group-by -x -a '(__wbrun_values keys)' -d 'Draw each group of runs as its mean with a min-max band (repeatable).'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l filter -x -d 'Only runs matching this filter (as in runs ls).'
complete -c wbrun -n "__wbrun_at 'runs plot'" -s s -l search -x -d 'Only runs whose name or ID matches.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l sort -x -a '(__wbrun_values sort)' -d 'Order by KEY or -KEY (repeatable; default newest first).'
complete -c wbrun -n "__wbrun_at 'runs plot'" -s n -l limit -x -d 'At most N runs (default 10 unless RUNs or --group-by).'
complete -c wbrun -n "__wbrun_at 'runs plot'" -s o -l output -r -F -d 'Write an .svg (or .png) file instead of drawing here.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l width -x -d 'Width: columns (default: the terminal\'s), or pixels with --output.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l height -x -d 'Plot height per chart: rows, or pixels with --output.'
complete -c wbrun -n "__wbrun_at 'runs plot'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs plot'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs purge'" -l older-than -x -d 'Only runs deleted longer ago than this: 90s, 30m, 12h, 7d.'
complete -c wbrun -n "__wbrun_at 'runs purge'" -s y -l yes -d 'Do not ask for confirmation.'
complete -c wbrun -n "__wbrun_at 'runs purge'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs purge'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs rename'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs rename'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs restore'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs restore'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs show'" -s f -l format -x -a 'table json' -d 'table or json.'
complete -c wbrun -n "__wbrun_at 'runs show'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs show'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs stop'" -l timeout -x -d 'Seconds between SIGINT, SIGTERM and SIGKILL (default 10).'
complete -c wbrun -n "__wbrun_at 'runs stop'" -l force -d 'Also ask a run that reads crashed by its heartbeat alone (it may be live on another host).'
complete -c wbrun -n "__wbrun_at 'runs stop'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs stop'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs system'" -s f -l format -x -a 'table json csv' -d 'table, json or csv.'
complete -c wbrun -n "__wbrun_at 'runs system'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs system'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'runs tag'" -s r -l remove -x -d 'Take this tag off (repeatable).'
complete -c wbrun -n "__wbrun_at 'runs tag'" -l filter -x -d 'Tag every run matching this filter instead of one run.'
complete -c wbrun -n "__wbrun_at 'runs tag'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'runs tag'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'save'" -l policy -x -d 'now: copy at once; end: when the run ends; live: now and whenever they change (default).'
complete -c wbrun -n "__wbrun_at 'save'" -l base-path -r -F -d 'Keep paths relative to this folder (default: the current one).'
complete -c wbrun -n "__wbrun_at 'save'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'sync'" -l to -x -d 'Where to: an MLflow tracking server, or W&B offline runs.'
complete -c wbrun -n "__wbrun_at 'sync'" -l filter -x -d 'Sync the runs this filter matches.'
complete -c wbrun -n "__wbrun_at 'sync'" -l all -d 'Sync every run.'
complete -c wbrun -n "__wbrun_at 'sync'" -l experiment -x -d 'MLflow experiment (default: each run\'s project).'
complete -c wbrun -n "__wbrun_at 'sync'" -l watch -d 'Keep following running runs until they end.'
complete -c wbrun -n "__wbrun_at 'sync'" -l interval -x -d 'Seconds between --watch rounds.'
complete -c wbrun -n "__wbrun_at 'sync'" -l out -r -F -d 'W&B: folder for the offline runs (default ./wandb-export).'
complete -c wbrun -n "__wbrun_at 'sync'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'sync'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'ui'" -l host -x -d 'Address to listen on; any other than the loopback needs the printed token.'
complete -c wbrun -n "__wbrun_at 'ui'" -l port -x -d 'Port (0 picks a free one).'
complete -c wbrun -n "__wbrun_at 'ui'" -l no-open -l open -d 'Open the page in a browser.'
complete -c wbrun -n "__wbrun_at 'ui'" -l read-only -d 'Turn off tag, note, rename, stop, delete and restore.'
complete -c wbrun -n "__wbrun_at 'ui'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'ui'" -s h -l help -d 'Show this message and exit.'
complete -c wbrun -n "__wbrun_at 'wrap'" -s p -l project -x -a '(__wbrun_values projects)' -d 'Project (default Uncategorized).'
complete -c wbrun -n "__wbrun_at 'wrap'" -s e -l entity -x -d 'Entity (default: your user name).'
complete -c wbrun -n "__wbrun_at 'wrap'" -s n -l name -x -d 'Run name (default adjective-noun-N).'
complete -c wbrun -n "__wbrun_at 'wrap'" -l id -x -d 'Run ID (default: 8 random characters from [a-z0-9]).'
complete -c wbrun -n "__wbrun_at 'wrap'" -l notes -x -d 'Description of the run.'
complete -c wbrun -n "__wbrun_at 'wrap'" -s t -l tag -x -d 'Tag (repeatable).'
complete -c wbrun -n "__wbrun_at 'wrap'" -s g -l group -x -d 'Group.'
complete -c wbrun -n "__wbrun_at 'wrap'" -s j -l job-type -x -d 'Job type.'
complete -c wbrun -n "__wbrun_at 'wrap'" -s c -l config -x -d 'Config value (repeatable; JSON values are JSON).'
complete -c wbrun -n "__wbrun_at 'wrap'" -l config-file -r -F -d 'JSON file of config values.'
complete -c wbrun -n "__wbrun_at 'wrap'" -l resume -x -a 'never allow must' -d 'never (default), allow or must.'
complete -c wbrun -n "__wbrun_at 'wrap'" -l dir -x -a '(__fish_complete_directories)' -d 'Store root (default ./wandb, or $WBRUN_DIR).'
complete -c wbrun -n "__wbrun_at 'wrap'" -s q -l quiet -d 'No closing summary on stderr.'
complete -c wbrun -n "__wbrun_at 'wrap'" -l no-capture -d 'Do not turn key=value output lines into metrics.'
complete -c wbrun -n "__wbrun_at 'wrap'" -l system-interval -x -d 'Seconds between system-metric samples (default 15, minimum 0.1).'
complete -c wbrun -n "__wbrun_at 'wrap'" -l no-system -d 'Do not sample system metrics.'
complete -c wbrun -n "__wbrun_at 'wrap'" -l rank-zero-only -d 'Record only rank 0 (RANK, else SLURM_PROCID); other ranks just run the command.'
complete -c wbrun -n "__wbrun_at 'wrap'" -l wandb-compat -x -a 'on off' -d '`import wandb` in the program is wbrun (on, default) or the installed wandb (off); $WBRUN_WANDB_COMPAT.'
complete -c wbrun -n "__wbrun_at 'wrap'" -s h -l help -d 'Show this message and exit.'
