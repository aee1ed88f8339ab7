"""`wandb.errors`: W&B's exception classes, as wbrun's (wandb_cli.errors names them)."""
from wandb_cli.errors import AuthenticationError as AuthenticationError
from wandb_cli.errors import CommError as CommError
from wandb_cli.errors import Error as Error
from wandb_cli.errors import UsageError as UsageError

__all__ = ["AuthenticationError", "CommError", "Error", "UsageError"]
