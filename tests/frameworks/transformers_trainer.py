"""transformers Trainer(report_to="wandb") on a tiny random BERT (no download)."""
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

torch.manual_seed(0)
config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2)
model = BertForSequenceClassification(config)
data = [{"input_ids": torch.randint(0, 40, (8,)), "labels": torch.tensor(i % 2)} for i in range(32)]
args = TrainingArguments(output_dir="out", report_to="wandb", run_name="hf-tiny", num_train_epochs=2,
                         per_device_train_batch_size=8, logging_steps=2, save_strategy="no",
                         eval_strategy="epoch", use_cpu=True, disable_tqdm=True)
trainer = Trainer(model=model, args=args, train_dataset=data, eval_dataset=data[:8])
trainer.train()
