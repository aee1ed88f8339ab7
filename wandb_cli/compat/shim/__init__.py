"""The folder `wbrun -- CMD` puts first on the child's PYTHONPATH: it holds a thin `wandb`
package and its `wandb-<version>.dist-info`, so `import wandb` and
`importlib.metadata.version("wandb")` answer with wbrun (runner/wandb_shim.py)."""
