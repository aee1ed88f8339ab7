"""Lightning WandbLogger(log_model=True) on a one-layer model."""
import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger


class Tiny(L.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)
    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss
    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

torch.manual_seed(0)
data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
loader = torch.utils.data.DataLoader(data, batch_size=8)
logger = WandbLogger(project="lit", log_model=True)
trainer = L.Trainer(max_epochs=2, logger=logger, log_every_n_steps=2, accelerator="cpu",
                    enable_progress_bar=False, enable_model_summary=False)
trainer.fit(Tiny(), loader, loader)
