"""`wandb.errors`: W&B's exception classes, as wbrun's."""
from wandb_cli.errors import UsageError as UsageError
from wandb_cli.errors import WbrunError as Error

CommError = Error
AuthenticationError = Error

__all__ = ["AuthenticationError", "CommError", "Error", "UsageError"]
