"""W&B's `Settings` and the keywords of `init()` that wbrun accepts without acting on them.

Invariant: a keyword or setting whose behaviour wbrun does not have is never silently
dropped: it prints one warning per name per process (`wbrun: warning: ...` on stderr).
Settings that only matter for a server (API keys, proxies, upload timeouts) are accepted
quietly: with no server they have nothing to do. Unknown setting names are refused, as
W&B refuses them.
"""
from __future__ import annotations

import sys
from typing import Any

# Settings that change what wbrun records (read by init()).
ACTED_ON = ("mode", "reinit", "project", "entity", "run_id", "run_name", "run_notes", "run_tags",
            "run_group", "run_job_type", "root_dir", "resume", "save_code", "sync_tensorboard",
            "allow_val_change", "force", "quiet", "silent", "console", "program")
# Settings for the server, the network or W&B's own process: nothing to do locally.
QUIET = ("api_key", "base_url", "anonymous", "app_url_override", "host", "http_proxy",
         "https_proxy", "init_timeout", "login_timeout", "finish_timeout", "summary_timeout",
         "heartbeat_seconds", "insecure_disable_ssl", "relogin", "start_method", "show_colors",
         "show_emoji", "show_errors", "show_info", "show_warnings", "strict", "username", "email",
         "organization", "credentials_file", "identity_token_file", "label_disable",
         "disable_job_creation", "sagemaker_disable", "symlink", "use_dot_wandb",
         "allow_offline_artifacts", "allow_media_symlink", "console_multipart",
         "console_chunk_max_bytes", "console_chunk_max_seconds", "stop_on_fatal_error",
         "finish_timeout_raises", "table_raise_on_max_row_limit_exceeded", "summary_warnings",
         "max_end_of_run_history_metrics", "max_end_of_run_summary_metrics", "notebook_name",
         "capture_loggers", "azure_account_url_to_access_key", "settings_system", "config_paths",
         "docker", "launch", "launch_config_path", "job_name", "job_source", "code_dir",
         "disable_code", "disable_git", "disable_git_fork_point", "git_commit", "git_remote",
         "git_remote_url", "git_root", "ignore_globs", "program_abspath", "program_relpath",
         "resumed", "sweep_id", "sweep_param_path", "stop_fn", "tmp_code_dir", "files_dir")
# Accepted, but wbrun does not have the behaviour: one warning each.
WARNED = ("fork_from", "resume_from", "monitor_gym", "tensorboard")

_warned: set[str] = set()


def warn_once(name: str, message: str) -> None:
    """Say once per process that `name` is accepted but has no effect."""
    if name not in _warned:
        _warned.add(name)
        print(f"wbrun: warning: {message}", file=sys.stderr)


def warn_ignored(name: str) -> None:
    warn_once(name, f"wandb.init({name}=...) is accepted but wbrun does not support it; "
                    "it has no effect (see docs/wandb-compat.md)")


def _private(name: str) -> str:
    return f"x_{name[1:]}" if name.startswith("_") and not name.startswith("__") else name


class Settings:
    """`wandb.Settings(**fields)`: known field names only, read back as attributes."""

    _defaults: dict[str, Any] = {"mode": "offline", "reinit": "default", "quiet": False,
                                 "silent": False, "console": "auto", "save_code": False,
                                 "sync_tensorboard": False, "start_method": None}

    def __init__(self, **fields: Any):
        known = set(ACTED_ON) | set(QUIET) | set(WARNED)
        # W&B's legacy private names: `_service_wait` is `x_service_wait` (its settings
        # rename them so; widely copied into programs)
        fields = {_private(name): value for name, value in fields.items()}
        for name in fields:
            bare = name[2:] if name.startswith("x_") else name
            if name not in known and bare not in known and not name.startswith("x_"):
                raise TypeError(f"Settings got an unknown field {name!r}")
            if name in WARNED:
                warn_ignored(name)
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        name = _private(name)
        if name in fields:
            return fields[name]
        if name in self._defaults:
            return self._defaults[name]
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def __setattr__(self, name: str, value: Any) -> None:
        self._fields[_private(name)] = value

    def update(self, other: Any = None, **fields: Any) -> None:
        if isinstance(other, Settings):
            fields = {**other._fields, **fields}
        elif isinstance(other, dict):
            fields = {**other, **fields}
        self._fields.update(Settings(**fields)._fields)

    def given(self) -> dict[str, Any]:
        """The fields set explicitly."""
        return dict(self._fields)

    def to_dict(self) -> dict[str, Any]:
        return {**self._defaults, **self._fields}

    def __repr__(self) -> str:
        return f"Settings({self._fields!r})"


def as_settings(value: Any) -> Settings:
    if value is None:
        return Settings()
    if isinstance(value, Settings):
        return value
    if isinstance(value, dict):
        return Settings(**value)
    raise TypeError(f"settings must be wandb.Settings or a dict, not {type(value).__name__}")
