"""`python -m wandb_cli` is `wbrun`."""
from wandb_cli.cli import main

if __name__ == "__main__":
    main()
